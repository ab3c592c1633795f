"""What a user's function returned, checked before anything is trained: a compiled Sequential
or functional Keras model, with weights to train, whose one output fits the label (`Head`:
how that output becomes the served probabilities or prediction).

Every refusal is a `UserModelError` that says what to change in their function. Importable
without TensorFlow.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from components.trainer.user_model import ModelSpec, UserModelError


@dataclasses.dataclass(frozen=True)
class Head:
    """How the model's output becomes the served probabilities."""
    units: int
    from_logits: bool
    regression: bool = False  # one linear unit: the predicted number, served as it is


def check_model(model: Any, spec: ModelSpec) -> None:
    """A compiled Sequential or functional Keras model; else UserModelError."""
    import tensorflow as tf

    if not isinstance(model, tf.keras.Model):
        got = "None (no `return model`?)" if model is None else f"a {type(model).__module__}.{type(model).__name__}"
        raise UserModelError(f"--model {spec}: {spec.function}() returned {got}; it must return a "
                             "compiled tf.keras.Model")
    if getattr(model, "optimizer", None) is None or not getattr(model, "_is_compiled", True):
        raise UserModelError(
            f"--model {spec}: the model {model.name!r} is not compiled. Call model.compile(optimizer=..., "
            "loss=..., metrics=['accuracy']) in the function before returning it: its optimizer and "
            "loss are what the Estimator trains with")
    if not getattr(model, "_is_graph_network", False) and not isinstance(model, tf.keras.Sequential):
        raise UserModelError(
            f"--model {spec}: {type(model).__name__} is a subclassed Keras model"
            f"{_where_defined(type(model))}; model_to_estimator "
            "rebuilds a model from its layer graph, which a subclassed model does not have. Build it with "
            "tf.keras.Sequential or the functional API (tf.keras.Input ... tf.keras.Model(inputs, outputs))")


def check_trainable(model, spec: ModelSpec) -> None:
    """A model with weights to train; else UserModelError (Keras's Estimator train op advances the
    global step only when it applies gradients, so a fully frozen model would train forever)."""
    if model.trainable_weights:
        return
    frozen = [layer.name for layer in model.layers if layer.weights and not layer.trainable]
    which = (f"every layer with weights is frozen (trainable=False: {frozen[:8]}"
             + (" ..." if len(frozen) > 8 else "") + ")") if frozen else "it has no weights at all"
    raise UserModelError(
        f"--model {spec}: the model {model.name!r} has nothing to train: {which}. The Estimator's train "
        "op advances its step only when it applies gradients, so training would never end. Make at "
        "least one layer trainable (e.g. a new Dense head on a frozen pretrained base), as you would "
        "before model.fit")


def _layers(model):
    """Every layer model_to_estimator rebuilds from its config: those of nested Sequential and
    functional models too (they are rebuilt layer by layer), not those inside a custom layer."""
    for layer in model.layers:
        if getattr(layer, "_is_graph_network", False):
            yield from _layers(layer)
        else:
            yield layer


def _where_defined(cls) -> str:
    import inspect

    try:
        path = inspect.getsourcefile(cls)
        line = inspect.getsourcelines(cls)[1]
    except (TypeError, OSError):
        return ""
    from components.trainer import user_sources
    return f' (File "{path}", line {line})' if path and user_sources.is_users_file(path) else ""


def _graph_mode_rebuild_error(layer) -> str:
    """Why model_to_estimator cannot rebuild `layer` from its config ("" when it can).

    model_to_estimator clones the model in a graph twice (its first checkpoint, then each
    model_fn). The first clone switches each layer class it makes to Keras's graph-mode base
    (`base_layer_v1.Layer`, by `version_utils.swap_class`), whose default get_config has no
    automatic config from the constructor's arguments: the second clone then fails on a custom
    layer without get_config ("Layers with arguments in `__init__` must override `get_config`"),
    or its from_config passes `name`, `trainable` and `dtype` to an __init__ that does not take
    them. That base's rules are followed here without making layers in a graph, which would
    switch the user's classes for the rest of the process.
    """
    import inspect

    cls = type(layer)
    if not getattr(layer.get_config, "_is_default", False):  # their own get_config (or Keras's)
        try:
            cls.from_config(layer.get_config())
        except Exception as exc:  # pylint: disable=broad-except
            return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        return ""
    config = {"name": layer.name, "trainable": layer.trainable, "dtype": None}
    if hasattr(layer, "_batch_input_shape"):
        config["batch_input_shape"] = None
    if getattr(layer, "dynamic", False):
        config["dynamic"] = True
    arguments = inspect.getfullargspec(cls.__init__).args
    if not getattr(layer, "dynamic", False) and "dynamic" in arguments:
        arguments.remove("dynamic")
    if len([a for a in arguments if a not in config]) > 1:
        return "NotImplementedError: Layers with arguments in `__init__` must override `get_config`."
    try:
        inspect.signature(cls).bind(**config)
    except TypeError as exc:
        return f"TypeError: {cls.__name__}.__init__ does not take {sorted(config)}: {exc}"
    return ""


def check_rebuildable(model, spec: ModelSpec, skip: Callable[[Any], Any] = lambda layer: None) -> None:
    """Every layer can be rebuilt from its config, as model_to_estimator rebuilds the model
    (`_graph_mode_rebuild_error`); else UserModelError naming the layer, where its class is
    defined, and the get_config to write. (Without this a custom layer with constructor
    arguments and no get_config fails inside train_and_evaluate.) Layers for which `skip` is
    true are not tried (adapted preprocessing layers: `convert` rebuilds those)."""
    import inspect

    for layer in _layers(model):
        if skip(layer):
            continue
        why = _graph_mode_rebuild_error(layer)
        if not why:
            continue
        cls = type(layer)
        try:
            arguments = [n for n, p in inspect.signature(cls.__init__).parameters.items()
                         if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        except (TypeError, ValueError):
            arguments = []
        values = ", ".join(f'"{a}": self.{a}' for a in arguments) or '"ARG": self.ARG, ...'
        raise UserModelError(
            f"--model {spec}: layer {layer.name!r} ({cls.__name__}{_where_defined(cls)}) cannot be "
            "rebuilt from its config, as model_to_estimator rebuilds every layer "
            f"({cls.__name__}.from_config(layer.get_config()), in a graph):\n  {why}\n"
            f"Fix: give {cls.__name__} a get_config() that returns its constructor's arguments, and "
            "let its __init__ take **kwargs (name, trainable, dtype) on to super().__init__, as "
            "Keras's guide to custom layers does:\n"
            f"    def __init__(self, {', '.join(arguments + ['**kwargs']) if arguments else '..., **kwargs'}):\n"
            "        super().__init__(**kwargs)\n"
            "        ...  (keep each argument, e.g. self.units = units)\n"
            "    def get_config(self):\n"
            "        config = super().get_config()\n"
            f"        config.update({{{values}}})\n"
            "        return config")


_REGRESSION_LOSSES = {
    "mse", "mae", "mape", "msle", "huber", "huber_loss", "log_cosh", "logcosh",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "meansquarederror", "meanabsoluteerror",
    "meanabsolutepercentageerror", "meansquaredlogarithmicerror", "logcosh", "huber"}
_CLASSIFICATION_WORDS = ("crossentropy", "hinge", "kl_divergence", "kld", "poisson", "focal")


def _loss_name(loss) -> str:
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or (loss if isinstance(loss, str) else "")
    return str(name or type(loss).__name__)


def _output_activation(model) -> str:
    """The name of the activation that makes the model's output ('' when none is known)."""
    layer = getattr(model.outputs[0], "_keras_history", None)
    layer = layer.layer if layer is not None else (model.layers[-1] if model.layers else None)
    activation = getattr(layer, "activation", None)
    if activation is None:
        return ""
    return getattr(activation, "__name__", str(activation))


def output_head(model, spec: ModelSpec, num_classes: int, regression: bool = False) -> Head:
    """One output whose width fits the label, and whether it gives logits; else UserModelError.

    A regression label (a number to predict) needs one linear unit and a regression loss; a
    label with classes refuses a regression loss.
    """
    outputs = model.outputs or []
    if len(outputs) != 1:
        what = ("one regression output (one linear unit)" if regression else
                "one classifier output (probabilities or logits of the label's classes)")
        raise UserModelError(f"--model {spec}: the model has {len(outputs)} outputs; the pipeline trains {what}")
    units = outputs[0].shape[-1] if outputs[0].shape.rank == 2 else None
    loss_name = _loss_name(model.loss)
    is_regression_loss = loss_name.lower() in _REGRESSION_LOSSES
    if regression:
        return _regression_head(model, spec, units, loss_name)
    if is_regression_loss:
        raise UserModelError(
            f"--model {spec}: the loss is {loss_name}, a regression loss, but the label has "
            f"{num_classes} classes (the schema gives it a categorical domain). Use "
            + ("binary_crossentropy with 1 sigmoid unit" if num_classes == 2 else
               f"sparse_categorical_crossentropy with {num_classes} softmax units")
            + "; or, to predict a number, make the label FLOAT (or INT without `is_categorical`) "
            "in the schema")
    fits = (1, num_classes) if num_classes == 2 else (num_classes,)
    if units not in fits:
        want = ("1 unit (sigmoid, with binary_crossentropy) or 2 units (softmax, with "
                "sparse_categorical_crossentropy)") if num_classes == 2 else (
                f"{num_classes} units (softmax, with sparse_categorical_crossentropy)")
        raise UserModelError(
            f"--model {spec}: the model's output has shape {tuple(outputs[0].shape)}, which does not fit "
            f"the label's {num_classes} classes: the last layer needs {want}")
    loss = model.loss
    if loss_name in ("categorical_crossentropy", "CategoricalCrossentropy"):
        raise UserModelError(
            f"--model {spec}: the loss is categorical_crossentropy, which expects one-hot labels; the "
            "pipeline feeds class ids (0..N-1), as model.fit on integer labels would. Use "
            "sparse_categorical_crossentropy (or tf.keras.losses.SparseCategoricalCrossentropy)")
    from_logits = bool(loss.get_config().get("from_logits", False)) if hasattr(loss, "get_config") else False
    return Head(units=int(units), from_logits=from_logits)


def _regression_head(model, spec: ModelSpec, units, loss_name: str) -> Head:
    fix = ("the label is a number to predict (the schema gives it type FLOAT, or INT without a "
           "categorical domain): end the model with tf.keras.layers.Dense(1) (no activation) and "
           "compile it with a regression loss ('mse', 'mae', 'huber' or a tf.keras.losses object)")
    other = ("; or, if the label holds classes, give it a categorical domain in the schema "
             "(`int_domain { min: 0 max: N-1 is_categorical: true }` or a string_domain)")
    if units != 1:
        raise UserModelError(
            f"--model {spec}: the model's output has shape {tuple(model.outputs[0].shape)}, but {fix}{other}")
    activation = _output_activation(model)
    if activation in ("softmax", "sigmoid"):
        raise UserModelError(
            f"--model {spec}: the model's output layer has a {activation} activation, which squashes "
            f"every prediction into [0, 1], but {fix}{other}")
    if any(word in loss_name.lower() for word in _CLASSIFICATION_WORDS):
        raise UserModelError(f"--model {spec}: the loss is {loss_name}, a classification loss, but {fix}{other}")
    return Head(units=1, from_logits=False, regression=True)
