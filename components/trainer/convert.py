"""Makes a prototype's adapted preprocessing layers survive `model_to_estimator`.

`model_to_estimator` clones the Keras model inside a graph from each layer's `get_config()`,
then copies the weights by position. Preprocessing layers adapted in eager mode keep what they
learned outside their config: `TextVectorization.get_config()` reads its eager lookup table
(`RuntimeError: table_handle: Attempting to capture an EagerTensor without building a
function` in the graph), an adapted `StringLookup`/`IntegerLookup` has no vocabulary in its
config, and built in a graph it takes its one_hot/multi_hot/count/tf_idf width from the table
(a tensor) and its IDF weights from a variable never assigned there (zeros); `Discretization`
keeps its bin boundaries in a Python attribute. `graph_safe` rebuilds the model with copies of
those layers whose config *is* their learned state (vocabulary, IDF weights, output width, mean
and variance, bin boundaries), copies every other layer's weights across, and compiles the copy
as the user compiled the original. Stateless layers (`Hashing`, `HashedCrossing`,
`CategoryEncoding`, `Rescaling`, ...) cross as they are.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf

_BASE_KEYS = ("name", "trainable", "dtype", "batch_input_shape")


def _pin_state(lookup, vocabulary_size: Optional[int]) -> None:
    """Fixes what an IndexLookup built inside a graph would otherwise read from its table.

    Built in `model_to_estimator`'s graph, the layer takes its output width from the table's
    size, a tensor (Keras then cannot shape what follows), and its TF-IDF weights from a variable
    whose assignment never runs (all zeros). The width the eager layer had and the IDF weights in
    the config are plain values: the copy uses those.
    """
    if vocabulary_size is not None and lookup.output_mode != "int" and not lookup.pad_to_max_tokens:
        lookup._frozen_vocab_size = int(vocabulary_size)  # pylint: disable=protected-access
    idf = lookup.input_idf_weights
    if lookup.output_mode == "tf_idf" and idf is not None:
        # As IndexLookup.set_vocabulary pads them: the mean for the OOV slots in front, zeros
        # after the vocabulary up to max_tokens when padded.
        idf = np.asarray(idf, dtype=np.float64)
        full = np.concatenate([np.full(lookup._token_start_index(), idf.mean()), idf])  # pylint: disable=protected-access
        if lookup.pad_to_max_tokens and lookup.max_tokens:
            full = np.pad(full, (0, max(0, lookup.max_tokens - len(full))))
        lookup.idf_weights_const = tf.constant(full, dtype=lookup.compute_dtype)


@tf.keras.utils.register_keras_serializable(package="keras_tfx")
class FrozenTextVectorization(tf.keras.layers.TextVectorization):
    """A TextVectorization whose config holds its vocabulary, IDF weights and output width, and
    never reads the lookup table.

    The stock `get_config()` calls `vocabulary_size()`, which reads the eager table and fails
    once `model_to_estimator` clones the model in a graph.
    """

    def __init__(self, **kwargs):
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        super().__init__(**kwargs)
        _pin_state(self._lookup_layer, vocabulary_size)
        # Kept out of Keras's attribute tracking: plain values for get_config only.
        object.__setattr__(self, "_frozen_kwargs",
                           {k: v for k, v in kwargs.items() if k not in _BASE_KEYS})
        self._frozen_kwargs["vocabulary_size"] = vocabulary_size

    def get_config(self):
        config = tf.keras.layers.Layer.get_config(self)
        config.update(self._frozen_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)  # in-process clones only: standardize/split stay as given


class _FrozenLookup:
    """A StringLookup / IntegerLookup whose config's `vocabulary_size` is the width it outputs
    (one_hot, multi_hot, count, tf_idf), whatever graph it is built in."""

    def __init__(self, vocabulary_size=None, **kwargs):
        super().__init__(**kwargs)
        _pin_state(self, vocabulary_size)
        object.__setattr__(self, "_pinned_vocabulary_size", vocabulary_size)

    def get_config(self):
        config = super().get_config()
        config["vocabulary_size"] = self._pinned_vocabulary_size
        return config


@tf.keras.utils.register_keras_serializable(package="keras_tfx")
class FrozenStringLookup(_FrozenLookup, tf.keras.layers.StringLookup):
    """StringLookup with its vocabulary, IDF weights and width as plain config values."""


@tf.keras.utils.register_keras_serializable(package="keras_tfx")
class FrozenIntegerLookup(_FrozenLookup, tf.keras.layers.IntegerLookup):
    """IntegerLookup with its vocabulary, IDF weights and width as plain config values."""


def _listify(values) -> list:
    return [v.decode("utf-8") if isinstance(v, bytes) else v for v in np.asarray(values).tolist()]


def _vocabulary_and_idf(lookup) -> Dict[str, object]:
    """Vocabulary without special tokens, IDF weights aligned with it (tf_idf only), and the
    vocabulary size the eager layer has (special tokens included: its output width when not
    padded).

    `lookup` is a StringLookup or IntegerLookup, or the one inside a TextVectorization.
    """
    vocabulary = _listify(lookup.get_vocabulary(include_special_tokens=False))
    size = int(lookup.vocabulary_size())
    state = {"vocabulary": vocabulary or None, "idf_weights": None, "vocabulary_size": size}
    if lookup.output_mode == "tf_idf" and vocabulary:
        # One weight per index: special tokens first, then the vocabulary, then any padding.
        idf = np.asarray(lookup.idf_weights)
        specials = size - len(vocabulary)
        state["idf_weights"] = idf[specials:specials + len(vocabulary)].tolist()
    return state


class ConversionError(ValueError):
    """A layer of the user's model cannot be made to survive model_to_estimator."""


def _config(layer) -> dict:
    """The layer's config without the all-None input shape adapt() leaves in it (e.g. (None,
    None)), which a rebuilt model would take for its input's; the model's own inputs hold."""
    config = layer.get_config()
    config.pop("batch_input_shape", None)
    return config


def _frozen_text_vectorization(layer: tf.keras.layers.TextVectorization):
    lookup = layer._lookup_layer  # pylint: disable=protected-access
    kwargs = dict(
        max_tokens=lookup.max_tokens, standardize=layer._standardize, split=layer._split,  # pylint: disable=protected-access
        ngrams=layer._ngrams_arg, output_mode=layer._output_mode,  # pylint: disable=protected-access
        output_sequence_length=layer._output_sequence_length,  # pylint: disable=protected-access
        pad_to_max_tokens=lookup.pad_to_max_tokens, sparse=lookup.sparse,
        ragged=layer._ragged, encoding=layer._encoding,  # pylint: disable=protected-access
        name=layer.name, **_vocabulary_and_idf(lookup))
    return FrozenTextVectorization(**kwargs)


def _frozen_lookup(layer):
    config = _config(layer)  # IndexLookup's config does not read the table
    config.update(_vocabulary_and_idf(layer))
    frozen = FrozenStringLookup if isinstance(layer, tf.keras.layers.StringLookup) else FrozenIntegerLookup
    return frozen.from_config(config)


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
