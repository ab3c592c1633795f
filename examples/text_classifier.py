"""A sentiment classifier prototype, as written in a notebook, for data/sentiment.

    python -m pipeline run --data-root data/sentiment --schema schemas/sentiment/schema.pbtxt \
        --label label --model examples.text_classifier:build_model

The pipeline calls `build_model(train_dataset, num_classes, class_names, hparams)` with the
training split's raw features, batched: a dict from CSV column to a (batch, 1) tensor, no label.
The model reads only the `text` column; labels arrive as class ids (0..n-1).
"""
import tensorflow as tf

TEXT_COLUMN = "text"


def build_model(train_dataset, num_classes, class_names, hparams):
    """TextVectorization -> Embedding -> LSTM -> Dropout -> Dense, compiled."""
    max_tokens = hparams.get("max_tokens", 10000)
    sequence_length = hparams.get("sequence_length", 48)

    vectorizer = tf.keras.layers.TextVectorization(
        max_tokens=max_tokens, output_mode="int", output_sequence_length=sequence_length)
    vectorizer.adapt(train_dataset.map(lambda features: features[TEXT_COLUMN]))

    binary = num_classes == 2
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(1,), dtype=tf.string),
        vectorizer,
        tf.keras.layers.Embedding(vectorizer.vocabulary_size(), hparams.get("embedding_dim", 32),
                                  mask_zero=True),
        tf.keras.layers.LSTM(hparams.get("lstm_units", 32)),
        tf.keras.layers.Dropout(hparams.get("dropout", 0.3)),
        tf.keras.layers.Dense(1, activation="sigmoid") if binary
        else tf.keras.layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(hparams.get("learning_rate", 0.001)),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"])
    return model
