"""A bag of bigrams with TF-IDF weights: the first text baseline many people try.

    python -m pipeline run --data-root data/sentiment --schema schemas/sentiment/schema.pbtxt \
        --label label --model examples/text_tfidf.py:build_model --input-map text=text

`TextVectorization(ngrams=2, output_mode="tf_idf")` adapted on the training split, unpadded: its
output is as wide as the vocabulary it learned, and the pipeline carries that width and the IDF
weights into the Estimator's graph. Works for any number of classes.
"""
import tensorflow as tf

TEXT_COLUMN = "text"


def build_model(train_dataset, num_classes, hparams):
    """TextVectorization(tf_idf, bigrams) -> Dropout -> Dense, compiled."""
    vectorizer = tf.keras.layers.TextVectorization(
        max_tokens=hparams.get("max_tokens", 20000), ngrams=2, output_mode="tf_idf")
    vectorizer.adapt(train_dataset.map(lambda features: features[TEXT_COLUMN]))

    text = tf.keras.Input(shape=(1,), dtype=tf.string, name="text")
    x = tf.keras.layers.Dropout(hparams.get("dropout", 0.5))(vectorizer(text))
    binary = num_classes == 2
    output = (tf.keras.layers.Dense(1, activation="sigmoid") if binary
              else tf.keras.layers.Dense(num_classes, activation="softmax"))(x)
    model = tf.keras.Model(text, output)
    model.compile(optimizer=tf.keras.optimizers.Adam(hparams.get("learning_rate", 0.001)),
                  loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
