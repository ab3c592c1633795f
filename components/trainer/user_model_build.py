"""A user's model, built for the Trainer: their function called on the training data, what it
returns checked, bound to the schema's features and made graph-safe for `model_to_estimator`.

Everything here raises before anything is trained: `UserModelError` (their function, their
model), `BindingError` (which feature feeds which input).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Sequence, Tuple

import tensorflow as tf

from components.trainer import binding as binding_lib
from components.trainer import convert, features as features_lib, inputs, user_model
from components.trainer import user_model_checks as checks
from components.trainer.constants import BINDING_FILE, PROGRESS_LOGGER


def users_keras_model(spec: user_model.ModelSpec, train_files: Sequence[str],
                      features: features_lib.FeatureSet, *, seed: int, batch_size: int,
                      hparams: Mapping[str, Any], input_map: Mapping[str, str]
                      ) -> Tuple[tf.keras.Model, binding_lib.Binding, checks.Head]:
    """The user's function's model, bound to the features and made graph-safe.

    Raises UserModelError / BindingError / ConversionError before anything is trained.
    """
    function = user_model.load_function(spec)
    # A fresh Keras session, as in a fresh notebook: Keras's automatic names (input_1, dense_1,
    # ...) then do not depend on what this process built before.
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    train_dataset = inputs.raw_dataset(train_files, features, batch_size)
    label = features.label
    keras_model = user_model.call(
        function, spec, train_dataset=train_dataset,
        num_classes=1 if label.is_regression else label.num_classes,
        class_names=[str(c) for c in label.classes], hparams=dict(hparams))
    checks.check_model(keras_model, spec)
    if not keras_model.inputs:  # a Sequential without an input shape: build it for its feature(s)
        build_sequential(keras_model, spec, features, input_map, train_dataset)
    checks.check_trainable(keras_model, spec)
    head = checks.output_head(keras_model, spec, label.num_classes, regression=label.is_regression)
    binding = binding_lib.bind(binding_lib.model_inputs(keras_model), features, input_map)
    checks.check_rebuildable(keras_model, spec, skip=convert.freezer)
    try:
        keras_model = convert.graph_safe(keras_model, binding.input_shapes())
    except convert.ConversionError as exc:
        raise user_model.UserModelError(f"--model {spec}: {exc}") from None
    except Exception as exc:  # a layer this conversion does not know how to copy
        raise user_model.UserModelError(
            f"--model {spec}: the model could not be rebuilt for model_to_estimator (which clones it "
            f"from its layers' configs):\n{type(exc).__name__}: {exc}") from exc
    return keras_model, binding, head


def build_sequential(keras_model, spec: user_model.ModelSpec, features: features_lib.FeatureSet,
                     input_map: Mapping[str, str], train_dataset: tf.data.Dataset) -> None:
    """Builds an unbuilt Sequential by calling it on an input shaped like the feature(s) it gets.

    Keras then names its input `<first layer>_input`, which the binding reads like any other.
    """
    first = keras_model.layers[0].name if keras_model.layers else "?"
    provisional = binding_lib.ModelInput(f"{first}_input", "unknown", (None, None))
    try:
        chosen = binding_lib.bind([provisional], features, input_map).inputs[0].features
    except binding_lib.BindingError:
        chosen = ()
    if not chosen:
        raise user_model.UserModelError(
            f"--model {spec}: the Sequential model {keras_model.name!r} has no input shape yet, and "
            "which feature it takes is not clear. Start it with tf.keras.Input(shape=(1,), "
            "dtype=...) and pass --input-map INPUT=FEATURE")
    dtype = train_dataset.element_spec[chosen[0]].dtype
    try:
        keras_model(tf.keras.Input(shape=(len(chosen),), dtype=dtype))
    except Exception as exc:  # their layers refused the data
        raise user_model.UserModelError(
            f"--model {spec}: the model could not be run on the feature(s) {list(chosen)} "
            f"((batch, {len(chosen)}) tensors):\n" + user_model.user_traceback(exc)) from None


def announce_binding(binding: binding_lib.Binding, model_run_dir: str) -> None:
    """Prints the binding once per run (progress lines) and keeps it in the run folder."""
    progress = logging.getLogger(PROGRESS_LOGGER)
    progress.info("model inputs <- features:")
    for line in binding.describe():
        progress.info("  %s", line)
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, BINDING_FILE), "w") as f:
        f.write(binding.to_json())
