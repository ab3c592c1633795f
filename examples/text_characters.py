"""A character-level text classifier: characters -> Embedding -> Conv1D -> pooling.

    python -m pipeline run --data-root data/sentiment --schema schemas/sentiment/schema.pbtxt \
        --label label --model examples/text_characters.py:build_model --input-map text=text

`TextVectorization(split="character")` adapted on the training split; no word vocabulary, so a
misspelled or unseen word still reads as its characters.
"""
import tensorflow as tf

TEXT_COLUMN = "text"


def build_model(train_dataset, num_classes, hparams):
    """Characters (lower-cased, punctuation kept) -> Embedding -> Conv1D -> GlobalMaxPool -> Dense."""
    characters = tf.keras.layers.TextVectorization(
        standardize="lower", split="character",
        output_sequence_length=hparams.get("sequence_length", 160))
    characters.adapt(train_dataset.map(lambda features: features[TEXT_COLUMN]))

    text = tf.keras.Input(shape=(1,), dtype=tf.string, name="text")
    x = tf.keras.layers.Embedding(characters.vocabulary_size(), hparams.get("embedding_dim", 16))(
        characters(text))
    x = tf.keras.layers.Conv1D(hparams.get("filters", 64), 5, activation="relu")(x)
    x = tf.keras.layers.GlobalMaxPooling1D()(x)
    x = tf.keras.layers.Dropout(hparams.get("dropout", 0.3))(x)
    binary = num_classes == 2
    output = (tf.keras.layers.Dense(1, activation="sigmoid") if binary
              else tf.keras.layers.Dense(num_classes, activation="softmax"))(x)
    model = tf.keras.Model(text, output)
    model.compile(optimizer=tf.keras.optimizers.Adam(hparams.get("learning_rate", 0.003)),
                  loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
