"""The Trainer's `run_fn`: Keras model -> model_to_estimator -> train_and_evaluate -> export.

Referenced by dotted path (`components.trainer.task.run_fn`), so the same code runs
in-process under the local runner and inside the image on Kubeflow. Only glue: each step is
a small function here or in the module that owns it (hooks.py, export.py, user_model_build.py).
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, Mapping, Optional, Tuple

import tensorflow as tf
from absl import logging
from tfx.components.trainer.fn_args_utils import FnArgs

from components.trainer import binding as binding_lib
from components.trainer import constants, export, features as features_lib, hooks
from components.trainer import hparams as hparams_lib
from components.trainer import inputs, model as model_lib
from components.trainer import user_model, user_model_build


@dataclasses.dataclass(frozen=True)
class Settings:
    label: str
    hparams: Dict[str, Any]               # the --hparam values as given
    seed: int
    model: Optional[user_model.ModelSpec]  # None: the built-in model
    input_map: Dict[str, str]
    batch_size: int                        # read from `hparams` as the pipeline trains with it

    @property
    def builtin_hparams(self) -> model_lib.HParams:
        return model_lib.HParams.from_dict(self.hparams)


def trainer_settings(custom_config: Mapping[str, Any]) -> Settings:
    """Label, hyperparameters, seed and the user's model (if any) from the custom_config."""
    custom_config = custom_config or {}
    if constants.LABEL_KEY not in custom_config:
        raise ValueError(f"the Trainer's custom_config needs {constants.LABEL_KEY!r} (the label column)")
    spec = custom_config.get(constants.MODEL_KEY)
    hparams = dict(custom_config.get(constants.HPARAMS_KEY) or {})
    return Settings(
        label=custom_config[constants.LABEL_KEY], hparams=hparams,
        seed=int(custom_config.get(constants.SEED_KEY, 0)),
        model=user_model.ModelSpec.from_dict(spec) if spec else None,
        input_map=dict(custom_config.get(constants.INPUT_MAP_KEY) or {}),
        batch_size=hparams_lib.batch_size_of(hparams, users_model=bool(spec)))


def run_config(model_dir: str, seed: int, train_steps: int) -> tf.estimator.RunConfig:
    """Seeded, checkpointing RunConfig; RunConfig itself reads TF_CONFIG for distribution."""
    return tf.estimator.RunConfig(
        model_dir=model_dir,
        tf_random_seed=seed,
        save_checkpoints_steps=max(1, min(train_steps, 5_000)),
        save_summary_steps=max(1, min(100, train_steps)),
        keep_checkpoint_max=2,
        log_step_count_steps=max(1, min(500, train_steps)),
    )


def estimator_from_keras(keras_model: tf.keras.Model, config: tf.estimator.RunConfig
                         ) -> tf.estimator.Estimator:
    """`model_to_estimator` with the Estimator's own name-based checkpoints.

    `checkpoint_format="saver"` (TF's own default before 2.0) leaves the Saver to the Estimator,
    which puts it where `hooks.CheckpointEveryStepsHook` finds it; the object-based format would
    hide it inside the Keras model_fn's scaffold. The exported SavedModel is the same either way.
    """
    return tf.keras.estimator.model_to_estimator(
        keras_model=keras_model, config=config, checkpoint_format="saver")


def specs(fn_args: FnArgs, features: features_lib.FeatureSet, batch_size: int,
          seed: int, config: tf.estimator.RunConfig, binding: Optional[binding_lib.Binding] = None
          ) -> Tuple[tf.estimator.TrainSpec, tf.estimator.EvalSpec]:
    train_input_fn = inputs.make_input_fn(fn_args.train_files, features, batch_size,
                                          training=True, seed=seed, binding=binding)
    eval_input_fn = inputs.make_input_fn(fn_args.eval_files, features, batch_size,
                                         training=False, binding=binding)
    exporter = tf.estimator.FinalExporter(
        export.EXPORTER_NAME, export.serving_input_receiver_fn(features, binding))
    train_spec = tf.estimator.TrainSpec(
        train_input_fn, max_steps=fn_args.train_steps,
        hooks=hooks.train_hooks(config, fn_args.train_steps, batch_size))
    eval_spec = tf.estimator.EvalSpec(
        eval_input_fn, steps=fn_args.eval_steps or None, exporters=[exporter],
        name="eval", start_delay_secs=0, throttle_secs=0)
    return train_spec, eval_spec


def warm_start(keras_model: tf.keras.Model, base_model_dir: str) -> Dict[str, Any]:
    """Copies weights from a previous serving model into `keras_model`, by name and shape.

    The serving SavedModel's variables are the Estimator's, named after the Keras layers;
    a weight whose shape changed (e.g. a grown vocabulary) keeps its fresh initial value.
    """
    reader = tf.train.load_checkpoint(os.path.join(base_model_dir, "variables", "variables"))
    shapes = reader.get_variable_to_shape_map()
    copied, skipped = [], []
    for weight in keras_model.weights:
        name = weight.name.split(":")[0]
        if name in shapes and list(shapes[name]) == weight.shape.as_list():
            weight.assign(reader.get_tensor(name))
            copied.append(name)
        else:
            skipped.append(name)
    return {"base_model": base_model_dir, "copied": copied, "skipped": skipped}


def warm_start_and_report(keras_model: tf.keras.Model, base_model_dir: str, model_run_dir: str) -> None:
    """`warm_start`, logged, with its report kept in the run folder."""
    report = warm_start(keras_model, base_model_dir)
    logging.info("Warm start from %s: %d weights copied, %d kept fresh", base_model_dir,
                 len(report["copied"]), len(report["skipped"]))
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, constants.WARM_START_REPORT), "w") as f:
        f.write(json.dumps(report, indent=1))


def builtin_keras_model(train_files, features: features_lib.FeatureSet,
                        settings: Settings) -> tf.keras.Model:
    """The model built from the schema: its inputs are the features, by construction."""
    preprocessing = inputs.learn_preprocessing(train_files, features)
    return model_lib.build_keras_model(features, preprocessing, settings.builtin_hparams, settings.seed)


def run_fn(fn_args: FnArgs) -> None:
    """Builds, converts, trains, evaluates and exports the model (the TFX Trainer entry point)."""
    settings = trainer_settings(fn_args.custom_config)
    features = features_lib.features_from_schema(features_lib.load_schema(fn_args.schema_path),
                                                 settings.label)
    logging.info("Features from the schema: %s; label %r (%s) with classes %s", features.names,
                 settings.label, features.label.task, list(features.label.classes))

    binding, head = None, None
    if settings.model is None:
        keras_model = builtin_keras_model(fn_args.train_files, features, settings)
    else:
        keras_model, binding, head = user_model_build.users_keras_model(
            settings.model, fn_args.train_files, features, seed=settings.seed,
            batch_size=settings.batch_size, hparams=settings.hparams, input_map=settings.input_map)
        user_model_build.announce_binding(binding, fn_args.model_run_dir)
    if fn_args.base_model:
        warm_start_and_report(keras_model, fn_args.base_model, fn_args.model_run_dir)

    estimator = estimator_from_keras(
        keras_model, run_config(fn_args.model_run_dir, settings.seed, fn_args.train_steps))
    train_spec, eval_spec = specs(fn_args, features, settings.batch_size, settings.seed,
                                  estimator.config, binding)
    result = tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    if not estimator.config.is_chief:
        return  # a worker of a TF cluster (TF_CONFIG): the chief exports; a ps never returns
    if result is None:  # the chief of a TF cluster only trains: it exports its last checkpoint
        estimator.export_saved_model(os.path.join(fn_args.model_run_dir, "export", export.EXPORTER_NAME),
                                     export.serving_input_receiver_fn(features, binding))
    else:
        logging.info("Final evaluation: %s", result[0])
    export.write_serving_model(fn_args.model_run_dir, fn_args.serving_model_dir, fn_args.eval_files,
                               fn_args.schema_path, features, head, binding)
