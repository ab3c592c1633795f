"""Makes a prototype's adapted preprocessing layers survive `model_to_estimator`.

`model_to_estimator` clones the Keras model inside a graph from each layer's `get_config()`,
then copies the weights by position. Preprocessing layers adapted in eager mode keep what they
learned outside their config: `TextVectorization.get_config()` reads its eager lookup table
(`RuntimeError: table_handle: Attempting to capture an EagerTensor without building a
function` in the graph), an adapted `StringLookup`/`IntegerLookup` has no vocabulary in its
config, `Discretization` keeps its bin boundaries in a Python attribute. `graph_safe` rebuilds
the model with copies of those layers whose config *is* their learned state (vocabulary, IDF
weights, mean and variance, bin boundaries), copies every other layer's weights across, and
compiles the copy as the user compiled the original.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf

_BASE_KEYS = ("name", "trainable", "dtype", "batch_input_shape")


@tf.keras.utils.register_keras_serializable(package="keras_tfx")
class FrozenTextVectorization(tf.keras.layers.TextVectorization):
    """A TextVectorization whose config holds its vocabulary and never reads the lookup table.

    The stock `get_config()` calls `vocabulary_size()`, which reads the eager table and fails
    once `model_to_estimator` clones the model in a graph.
    """

    def __init__(self, **kwargs):
        kwargs.pop("vocabulary_size", None)
        super().__init__(**kwargs)
        # Kept out of Keras's attribute tracking: plain values for get_config only.
        object.__setattr__(self, "_frozen_kwargs",
                           {k: v for k, v in kwargs.items() if k not in _BASE_KEYS})

    def get_config(self):
        config = tf.keras.layers.Layer.get_config(self)
        config.update(self._frozen_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)  # in-process clones only: standardize/split stay as given


def _listify(values) -> list:
    return [v.decode("utf-8") if isinstance(v, bytes) else v for v in np.asarray(values).tolist()]


def _vocabulary_and_idf(lookup) -> Dict[str, object]:
    """Vocabulary without special tokens, and IDF weights aligned with it (tf_idf only).

    `lookup` is a StringLookup or IntegerLookup, or the one inside a TextVectorization.
    """
    vocabulary = _listify(lookup.get_vocabulary(include_special_tokens=False))
    state = {"vocabulary": vocabulary or None, "idf_weights": None}
    if lookup.output_mode == "tf_idf" and vocabulary:
        # One weight per index: special tokens first, then the vocabulary, then any padding.
        idf = np.asarray(lookup.idf_weights)
        specials = lookup.vocabulary_size() - len(vocabulary)
        state["idf_weights"] = idf[specials:specials + len(vocabulary)].tolist()
    return state


class ConversionError(ValueError):
    """A layer of the user's model cannot be made to survive model_to_estimator."""


def _check_fixed_width(layer, lookup) -> None:
    # Multi-hot, count and TF-IDF outputs are as wide as the vocabulary; in the graph that
    # `model_to_estimator` builds, the width is a tensor and Keras cannot shape the layer.
    if lookup.output_mode in ("multi_hot", "count", "tf_idf", "one_hot") and not lookup.pad_to_max_tokens:
        raise ConversionError(
            f"layer {layer.name!r} ({type(layer).__name__}, output_mode={lookup.output_mode!r}) "
            "outputs one column per vocabulary entry, a width model_to_estimator cannot know in "
            "its graph. Fix: give the layer max_tokens=N and pad_to_max_tokens=True (the output "
            "is then always N wide), or use output_mode='int' with an Embedding.")
    if lookup.output_mode == "tf_idf":
        # Measured: the clone predicts as if every IDF weight were 0 (the weights are not
        # carried into the Estimator's graph), so the model would train on zeros.
        raise ConversionError(
            f"layer {layer.name!r} ({type(layer).__name__}, output_mode='tf_idf'): its IDF "
            "weights do not survive model_to_estimator's graph copy on TensorFlow 2.15 (the "
            "Estimator would see all zeros). Fix: use output_mode='count' (with "
            "pad_to_max_tokens=True) or output_mode='int' with an Embedding.")


def _config(layer) -> dict:
    """The layer's config without the all-None input shape adapt() leaves in it (e.g. (None,
    None)), which a rebuilt model would take for its input's; the model's own inputs hold."""
    config = layer.get_config()
    config.pop("batch_input_shape", None)
    return config


def _frozen_text_vectorization(layer: tf.keras.layers.TextVectorization):
    lookup = layer._lookup_layer  # pylint: disable=protected-access
    _check_fixed_width(layer, lookup)
    kwargs = dict(
        max_tokens=lookup.max_tokens, standardize=layer._standardize, split=layer._split,  # pylint: disable=protected-access
        ngrams=layer._ngrams_arg, output_mode=layer._output_mode,  # pylint: disable=protected-access
        output_sequence_length=layer._output_sequence_length,  # pylint: disable=protected-access
        pad_to_max_tokens=lookup.pad_to_max_tokens, sparse=lookup.sparse,
        ragged=layer._ragged, encoding=layer._encoding,  # pylint: disable=protected-access
        name=layer.name, **_vocabulary_and_idf(lookup))
    return FrozenTextVectorization(**kwargs)


def _frozen_lookup(layer):
    _check_fixed_width(layer, layer)
    config = _config(layer)  # IndexLookup's config does not read the table
    config.pop("vocabulary_size", None)
    config.update(_vocabulary_and_idf(layer))
    return layer.__class__.from_config(config)


def _frozen_normalization(layer: tf.keras.layers.Normalization):
    config = _config(layer)
    if config.get("mean") is None:  # adapted: the state is in its variables
        config["mean"] = np.asarray(layer.adapt_mean).tolist()
        config["variance"] = np.asarray(layer.adapt_variance).tolist()
    mean = np.asarray(config["mean"], dtype=np.float64)
    if not np.all(np.isfinite(mean)) or not np.all(np.isfinite(np.asarray(config["variance"], np.float64))):
        where = np.argwhere(~np.isfinite(np.atleast_1d(mean).ravel())).ravel().tolist()
        raise ConversionError(
            f"layer {layer.name!r} (Normalization) learned a mean or variance that is NaN (positions "
            f"{where} of its input): adapt() saw missing values, which reach your model as NaN. "
            "Fill them before adapt() and in the model, e.g. tf.where(tf.math.is_nan(x), 0.0, x)")
    return layer.__class__.from_config(config)


def _frozen_discretization(layer: tf.keras.layers.Discretization):
    config = _config(layer)
    if config.get("bin_boundaries") is None:
        boundaries = getattr(layer, "bin_boundaries", None)
        if boundaries is None:
            raise ValueError(f"Discretization layer {layer.name!r} has no bin boundaries: call "
                             "adapt() on it, or give it bin_boundaries=[...]")
        config["bin_boundaries"] = [float(b) for b in boundaries]
        config["num_bins"] = None
    return layer.__class__.from_config(config)


# Order matters: TextVectorization is not an IndexLookup, StringLookup and IntegerLookup are.
_FREEZERS: List[tuple] = [
    (tf.keras.layers.TextVectorization, _frozen_text_vectorization),
    (tf.keras.layers.StringLookup, _frozen_lookup),
    (tf.keras.layers.IntegerLookup, _frozen_lookup),
    (tf.keras.layers.Normalization, _frozen_normalization),
    (tf.keras.layers.Discretization, _frozen_discretization),
]


def freezer(layer) -> Optional[Callable]:
    for cls, freeze in _FREEZERS:
        if isinstance(layer, cls):
            return freeze
    return None


def _clone(model: tf.keras.Model, input_shapes: Optional[Dict[str, tuple]] = None) -> tf.keras.Model:
    def clone_layer(layer):
        freeze = freezer(layer)
        if freeze is not None:
            return freeze(layer)
        if isinstance(layer, tf.keras.Model) and getattr(layer, "_is_graph_network", False):
            return _clone(layer)  # a nested Sequential or functional model
        return layer.__class__.from_config(layer.get_config())
    # The clone gets inputs like the model's own (same names, dtypes and shapes), so the
    # binding decided on the model holds for the clone.
    input_shapes = input_shapes or {}
    inputs = [tf.keras.Input(batch_shape=input_shapes.get(name, tensor.shape), dtype=tensor.dtype, name=name)
              for name, tensor in zip(model.input_names, model.inputs)]
    return tf.keras.models.clone_model(model, input_tensors=inputs, clone_function=clone_layer)


def _copy_weights(source: tf.keras.Model, target: tf.keras.Model) -> None:
    """Layer by layer; frozen preprocessing layers carry their state in their config."""
    for old, new in zip(source.layers, target.layers):
        if freezer(old) is not None:
            continue
        if isinstance(old, tf.keras.Model) and getattr(old, "_is_graph_network", False):
            _copy_weights(old, new)
        elif old.weights:
            new.set_weights(old.get_weights())


def has_preprocessing(model: tf.keras.Model) -> bool:
    return any(freezer(layer) is not None for layer in _all_layers(model))


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, tf.keras.Model):
            yield from _all_layers(layer)


def graph_safe(model: tf.keras.Model, input_shapes: Optional[Dict[str, tuple]] = None
               ) -> tf.keras.Model:
    """The same model, compiled the same way, with preprocessing state in the layers' configs.

    `input_shapes` may pin input shapes the model left open (an adapted layer first in a
    Sequential gives it an input of shape (None, None)); the binding knows their width.
    Returns `model` itself when it has no preprocessing layer to freeze.
    """
    if not has_preprocessing(model):
        return model
    clone = _clone(model, input_shapes)
    _copy_weights(model, clone)
    args = model._get_compile_args(user_metrics=True)  # pylint: disable=protected-access
    optimizer = args.pop("optimizer")
    if isinstance(optimizer, tf.keras.optimizers.Optimizer) or hasattr(optimizer, "get_config"):
        optimizer = optimizer.__class__.from_config(optimizer.get_config())
    clone.compile(optimizer=optimizer, **args)
    return clone
