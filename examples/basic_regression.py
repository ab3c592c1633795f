"""A regression prototype as TensorFlow's "Basic regression" tutorial writes it.

A `Normalization` layer adapted on the training features, two `Dense(64, relu)` layers and one
linear unit, trained on `mean_absolute_error`. The tutorial adapts the normalizer on a numpy array
of every numeric column; here `train_dataset`'s columns (all numeric, in the schema's order) are
stacked the same way, and the pipeline binds the model's single input to those features stacked.

    python -m pipeline run --data-root data/progression --schema schemas/progression/schema.pbtxt \
        --label progression --model examples/basic_regression.py:build_model
"""
import tensorflow as tf


def build_model(train_dataset, hparams):
    normalizer = tf.keras.layers.Normalization(axis=-1)
    normalizer.adapt(train_dataset.map(lambda columns: tf.concat(list(columns.values()), axis=1)))
    model = tf.keras.Sequential([
        normalizer,
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(1),
    ])
    model.compile(loss="mean_absolute_error",
                  optimizer=tf.keras.optimizers.Adam(float(hparams.get("learning_rate", 0.001))))
    return model
