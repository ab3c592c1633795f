"""What a user's function returned, checked before anything is trained: a compiled Sequential
or functional Keras model, with weights to train, whose one output fits the label (`Head`:
how that output becomes the served probabilities or prediction).

Every refusal is a `UserModelError` that says what to change in their function. Importable
without TensorFlow.
"""
from __future__ import annotations

import dataclasses
from typing import Any

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
            f"--model {spec}: {type(model).__name__} is a subclassed Keras model; model_to_estimator "
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
