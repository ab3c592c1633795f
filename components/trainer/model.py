"""The Keras model: a functional model whose inputs are named after the schema's features
(their identifiers derived from the CSV names, `Feature.key`)."""
from __future__ import annotations

import dataclasses
import math
from typing import Dict

import tensorflow as tf

from components.trainer import constants
from components.trainer.convert import FrozenTextVectorization
from components.trainer.hparams import HParams
from components.trainer.features import MISSING_NUMERIC_INT, Feature, FeatureSet, Kind

OUTPUT_NAME = constants.PROBABILITIES  # the Keras output layer, served under this key
REGRESSION_OUTPUT_NAME = constants.PREDICTIONS  # a regression model's output layer


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What the model's preprocessing layers need, learned from the training split."""
    vocabularies: Dict[str, tuple]       # categorical feature -> vocabulary
    moments: Dict[str, tuple]            # numeric feature -> (mean, variance)
    label_moments: tuple = (0.0, 1.0)    # a regression label's (mean, variance)


@tf.keras.utils.register_keras_serializable(package="keras_tfx")
class ImputeAndNormalize(tf.keras.layers.Layer):
    """Normalizes a numeric column; a missing value (NaN) becomes the mean plus a flag."""

    def __init__(self, mean: float, variance: float, **kwargs):
        super().__init__(**kwargs)
        self.mean = float(mean)
        self.variance = float(variance)

    def call(self, inputs):
        if inputs.dtype.is_integer:
            missing = tf.equal(inputs, MISSING_NUMERIC_INT)
            inputs = tf.cast(inputs, tf.float32)
        else:
            inputs = tf.cast(inputs, tf.float32)
            missing = tf.math.logical_not(tf.math.is_finite(inputs))
        std = math.sqrt(self.variance) if self.variance > 0 else 1.0
        normalized = tf.where(missing, tf.zeros_like(inputs), (inputs - self.mean) / std)
        return tf.concat([normalized, tf.cast(missing, tf.float32)], axis=-1)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "variance": self.variance}


@tf.keras.utils.register_keras_serializable(package="keras_tfx")
class TokenMean(tf.keras.layers.Layer):
    """Mean of a text's token embeddings, padding (id 0) left out; a text without a single
    token (empty, or only punctuation) gives zeros instead of Keras's masked-mean NaN."""

    def call(self, inputs):
        tokens, embedded = inputs
        present = tf.cast(tf.not_equal(tokens, 0), embedded.dtype)[..., tf.newaxis]
        count = tf.maximum(tf.reduce_sum(present, axis=1), 1.0)
        return tf.reduce_sum(embedded * present, axis=1) / count


def _l2(hparams: HParams):
    return tf.keras.regularizers.L2(hparams.l2) if hparams.l2 > 0 else None


def embedding_dim(vocabulary_size: int, cap: int) -> int:
    return max(2, min(cap, int(round(1.6 * vocabulary_size ** 0.56))))


def lookup_layer(feature: Feature, prep: Preprocessing) -> tf.keras.layers.Layer:
    """Ids of a categorical feature's values: its vocabulary, missing and unknown values in one
    out-of-vocabulary slot."""
    vocabulary = list(feature.vocabulary or prep.vocabularies.get(feature.key, ()))
    name = f"{feature.key}_lookup"
    if feature.kind is Kind.CATEGORICAL_STRING:
        vocabulary = [v for v in vocabulary if v != ""]
        return tf.keras.layers.StringLookup(
            vocabulary=vocabulary or ["<empty>"], num_oov_indices=1, name=name)
    vocabulary = [int(v) for v in vocabulary if int(v) != -1]
    return tf.keras.layers.IntegerLookup(
        vocabulary=vocabulary or [0], num_oov_indices=1, oov_token=-1, mask_token=None, name=name)


def _encode_text(feature: Feature, tensor, prep: Preprocessing, hparams: HParams):
    """Free text: tokens (the vocabulary learned from the training split) -> embedding -> the
    mean over the text's tokens (padding masked out)."""
    name = feature.key
    vocabulary = list(prep.vocabularies.get(name, ())) or ["<empty>"]
    tokens = FrozenTextVectorization(vocabulary=vocabulary, output_sequence_length=hparams.max_text_tokens,
                                     name=f"{name}_tokens")(tensor)
    embedded = tf.keras.layers.Embedding(
        len(vocabulary) + 2, hparams.text_embedding_dim,  # + padding and OOV
        embeddings_regularizer=_l2(hparams), name=f"{name}_embedding")(tokens)
    return TokenMean(name=f"{name}_pooled")([tokens, embedded])


def _encode(feature: Feature, tensor, prep: Preprocessing, hparams: HParams):
    name = feature.key
    if feature.kind is Kind.TEXT:
        return _encode_text(feature, tensor, prep, hparams)
    if feature.kind is Kind.NUMERIC:
        mean, variance = prep.moments.get(name, (0.0, 1.0))
        return ImputeAndNormalize(mean, variance, name=f"{name}_normalized")(tensor)
    lookup = lookup_layer(feature, prep)
    ids = lookup(tensor)
    size = lookup.vocabulary_size()  # vocabulary plus the OOV slot
    embedded = tf.keras.layers.Embedding(
        size, embedding_dim(size, hparams.max_embedding_dim), name=f"{name}_embedding",
        embeddings_regularizer=_l2(hparams))(ids)
    return tf.keras.layers.Flatten(name=f"{name}_flat")(embedded)


def build_keras_model(features: FeatureSet, prep: Preprocessing, hparams: HParams,
                      seed: int = 0) -> tf.keras.Model:
    """A compiled functional model with one `Input` per schema feature, named by its `key`."""
    tf.keras.utils.set_random_seed(seed)
    inputs = {f.key: tf.keras.Input(shape=(1,), dtype=f.dtype, name=f.key) for f in features.features}
    encoded = [_encode(f, inputs[f.key], prep, hparams) for f in features.features]
    x = encoded[0] if len(encoded) == 1 else tf.keras.layers.Concatenate(name="features")(encoded)
    for i, units in enumerate(hparams.hidden_units):
        x = tf.keras.layers.Dense(units, activation="relu", kernel_regularizer=_l2(hparams),
                                  name=f"dense_{i}")(x)
        if hparams.dropout > 0:
            x = tf.keras.layers.Dropout(hparams.dropout, seed=seed + i, name=f"dropout_{i}")(x)
    label = features.label
    if label.is_regression:
        # A linear unit on the label's standardized scale, then back to the label's units: the
        # hidden layers see inputs and targets of unit scale, as for the features.
        mean, variance = prep.label_moments
        scaled = tf.keras.layers.Dense(1, name="standardized_prediction")(x)
        outputs = tf.keras.layers.Rescaling(math.sqrt(variance) if variance > 0 else 1.0, offset=mean,
                                            name=REGRESSION_OUTPUT_NAME)(scaled)
        loss = tf.keras.losses.MeanSquaredError()
        metrics = [tf.keras.metrics.MeanAbsoluteError(name="mae"),
                   tf.keras.metrics.RootMeanSquaredError(name="rmse")]
    elif label.is_binary:
        outputs = tf.keras.layers.Dense(1, activation="sigmoid", name=OUTPUT_NAME)(x)
        loss = tf.keras.losses.BinaryCrossentropy()
        metrics = [tf.keras.metrics.BinaryAccuracy(name="accuracy"), tf.keras.metrics.AUC(name="auc")]
    else:
        outputs = tf.keras.layers.Dense(label.num_classes, activation="softmax", name=OUTPUT_NAME)(x)
        loss = tf.keras.losses.SparseCategoricalCrossentropy()
        metrics = [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model = tf.keras.Model(inputs=inputs, outputs=outputs, name="keras_tfx_model")
    model.compile(optimizer=tf.keras.optimizers.Adam(hparams.learning_rate), loss=loss, metrics=metrics)
    return model
