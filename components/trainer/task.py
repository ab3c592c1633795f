"""The Trainer's `run_fn`: Keras model -> model_to_estimator -> train_and_evaluate -> export.

Referenced by dotted path (`components.trainer.task.run_fn`), so the same code runs
in-process under the local runner and inside the image on Kubeflow.
"""
from __future__ import annotations

import dataclasses
import json
import logging as std_logging
import os
import time
from typing import Any, Dict, Mapping, Optional, Tuple

import tensorflow as tf
from absl import logging
from tfx.components.trainer.fn_args_utils import FnArgs

from components.trainer import binding as binding_lib
from components.trainer import constants, convert, export, features as features_lib
from components.trainer import hooks as hooks_lib
from components.trainer import hparams as hparams_lib
from components.trainer import inputs, model as model_lib
from components.trainer import user_model

# Keys of the Trainer's custom_config (written by pipeline.pipeline.create_pipeline).
LABEL_KEY = "label"
HPARAMS_KEY = "hparams"
SEED_KEY = "seed"
MODEL_KEY = "model"          # a user's model function (user_model.ModelSpec as a dict)
INPUT_MAP_KEY = "input_map"  # --input-map: model input name -> feature

BINDING_FILE = "binding.json"  # in model_run/: which feature fed which input of a user's model

# Training progress records go to this plain Python logger: the local CLI forwards them to the
# terminal (pipeline.logs.Progress); elsewhere (Kubeflow) they are ordinary log lines.
PROGRESS_LOGGER = "keras_tfx.training"

EXPORTER_NAME = export.EXPORTER_NAME
ALL_CLASSES = constants.ALL_CLASSES  # serving output naming the class of each probability column


@dataclasses.dataclass(frozen=True)
class Settings:
    label: str
    hparams: Dict[str, Any]               # the --hparam values as given
    seed: int
    model: Optional[user_model.ModelSpec]  # None: the built-in model
    input_map: Dict[str, str]

    @property
    def builtin_hparams(self) -> model_lib.HParams:
        return model_lib.HParams.from_dict(self.hparams)

    @property
    def batch_size(self) -> int:
        return hparams_lib.batch_size_of(self.hparams, users_model=self.model is not None)


def trainer_settings(custom_config: Mapping[str, Any]) -> Settings:
    """Label, hyperparameters, seed and the user's model (if any) from the custom_config."""
    custom_config = custom_config or {}
    if LABEL_KEY not in custom_config:
        raise ValueError(f"the Trainer's custom_config needs {LABEL_KEY!r} (the label column)")
    spec = custom_config.get(MODEL_KEY)
    settings = Settings(
        label=custom_config[LABEL_KEY], hparams=dict(custom_config.get(HPARAMS_KEY) or {}),
        seed=int(custom_config.get(SEED_KEY, 0)),
        model=user_model.ModelSpec.from_dict(spec) if spec else None,
        input_map=dict(custom_config.get(INPUT_MAP_KEY) or {}))
    settings.batch_size  # pylint: disable=pointless-statement  # validates the hyperparameters
    return settings


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


class TrainingProgressHook(tf.compat.v1.train.SessionRunHook):
    """Logs step, loss and examples/s every tenth of the training (and at least every `seconds`).

    The loss is fetched only on the steps that are logged, so training is not slowed down.
    """

    def __init__(self, train_steps: int, batch_size: int, seconds: float = 20.0):
        self._train_steps = max(1, int(train_steps))
        self._every = max(1, self._train_steps // 10)
        self._batch_size = batch_size
        self._seconds = seconds
        self._logger = std_logging.getLogger(PROGRESS_LOGGER)

    def begin(self):
        self._global_step = tf.compat.v1.train.get_global_step()
        losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.LOSSES)
        self._loss = losses[-1] if losses else None  # the Estimator adds its training loss last

    def after_create_session(self, session, coord):
        self._step = int(session.run(self._global_step))
        self._next = (self._step // self._every + 1) * self._every
        self._last_step, self._last_time = self._step, time.time()

    def before_run(self, run_context):
        self._step += 1
        now = time.time()
        if self._step >= self._next or now - self._last_time >= self._seconds:
            # Speed over the steps before this one: checkpoints saved after the last step
            # do not count as training time.
            self._speed = ((self._step - 1 - self._last_step) * self._batch_size
                           / max(now - self._last_time, 1e-9))
            self._last_time = now
            fetches = {"step": self._global_step}
            if self._loss is not None:
                fetches["loss"] = self._loss
            return tf.compat.v1.train.SessionRunArgs(fetches)
        return None

    def after_run(self, run_context, run_values):
        if not run_values.results:
            return
        step = int(run_values.results["step"]) + 1  # the global step as it was before this step ran
        loss = run_values.results.get("loss")
        self._logger.info("step %d/%d  loss %s  %.0f examples/s", step, self._train_steps,
                          "-" if loss is None else f"{float(loss):.4f}", self._speed)
        self._step, self._last_step = step, step - 1
        self._next = (step // self._every + 1) * self._every


class CheckpointEveryStepsHook(tf.compat.v1.train.CheckpointSaverHook):
    """TF's CheckpointSaverHook without its second `session.run` after every training step.

    The stock hook allows for a `session.run` that loops over up to 1,000,000 steps (TPU),
    so after every step it runs the session again to read the global step and decide whether
    to save. On CPU and GPU the Estimator runs one step per `session.run`; told so, the hook
    decides from the global step it already fetched with the step. Same checkpoints, same
    saver (the Estimator's, from the SAVERS collection: see `estimator_from_keras`); training
    ran 10-20% more steps/s in `bench/trainer_profile.py`'s setting (BENCHMARKS.md).
    """

    def __init__(self, config: tf.estimator.RunConfig):
        super().__init__(config.model_dir, save_steps=config.save_checkpoints_steps,
                         save_graph_def=config.checkpoint_save_graph_def)
        self._set_steps_per_run(1)


def estimator_from_keras(keras_model: tf.keras.Model, config: tf.estimator.RunConfig
                         ) -> tf.estimator.Estimator:
    """`model_to_estimator` with the Estimator's own name-based checkpoints.

    `checkpoint_format="saver"` (TF's own default before 2.0) leaves the Saver to the Estimator,
    which puts it where `CheckpointEveryStepsHook` finds it; the object-based format would hide
    it inside the Keras model_fn's scaffold. The exported SavedModel is the same either way.
    """
    return tf.keras.estimator.model_to_estimator(
        keras_model=keras_model, config=config, checkpoint_format="saver")


def train_hooks(config: tf.estimator.RunConfig, train_steps: int, batch_size: int) -> list:
    """Progress lines and the stalled-step guard everywhere; checkpoints on the chief only, as the
    Estimator would."""
    hooks = [TrainingProgressHook(train_steps, batch_size), hooks_lib.GlobalStepMustAdvanceHook()]
    if config.is_chief and (config.save_checkpoints_steps or 0) > 0:
        hooks.append(CheckpointEveryStepsHook(config))
    return hooks


def specs(fn_args: FnArgs, features: features_lib.FeatureSet, batch_size: int,
          seed: int, config: tf.estimator.RunConfig, binding: Optional[binding_lib.Binding] = None
          ) -> Tuple[tf.estimator.TrainSpec, tf.estimator.EvalSpec]:
    train_input_fn = inputs.make_input_fn(fn_args.train_files, features, batch_size,
                                          training=True, seed=seed, binding=binding)
    eval_input_fn = inputs.make_input_fn(fn_args.eval_files, features, batch_size,
                                         training=False, binding=binding)
    exporter = tf.estimator.FinalExporter(
        EXPORTER_NAME, export.serving_input_receiver_fn(features, binding))
    train_spec = tf.estimator.TrainSpec(
        train_input_fn, max_steps=fn_args.train_steps,
        hooks=train_hooks(config, fn_args.train_steps, batch_size))
    eval_spec = tf.estimator.EvalSpec(
        eval_input_fn, steps=fn_args.eval_steps or None, exporters=[exporter],
        name="eval", start_delay_secs=0, throttle_secs=0)
    return train_spec, eval_spec


WARM_START_REPORT = "warm_start.json"
# Where the exported model keeps its schema and label (read by `predict`).
ASSETS_EXTRA = constants.ASSETS_EXTRA
SCHEMA_FILE = constants.SCHEMA_FILE
LABEL_FILE = constants.LABEL_FILE


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


def builtin_keras_model(fn_args: FnArgs, features: features_lib.FeatureSet,
                        settings: Settings) -> tf.keras.Model:
    """The model built from the schema: its inputs are the features, by construction."""
    preprocessing = inputs.learn_preprocessing(fn_args.train_files, features)
    keras_model = model_lib.build_keras_model(features, preprocessing, settings.builtin_hparams,
                                              settings.seed)
    model_lib.check_input_names(keras_model, features.keys)
    return keras_model


def users_keras_model(fn_args: FnArgs, features: features_lib.FeatureSet, settings: Settings
                      ) -> Tuple[tf.keras.Model, binding_lib.Binding, user_model.Head]:
    """The user's function's model, bound to the features and made graph-safe.

    Raises UserModelError / BindingError / ConversionError before anything is trained.
    """
    spec = settings.model
    function = user_model.load_function(spec)
    # A fresh Keras session, as in a fresh notebook: Keras's automatic names (input_1, dense_1,
    # ...) then do not depend on what this process built before.
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(settings.seed)
    train_dataset = inputs.raw_dataset(fn_args.train_files, features, settings.batch_size)
    label = features.label
    keras_model = user_model.call(
        function, spec, train_dataset=train_dataset,
        num_classes=1 if label.is_regression else label.num_classes,
        class_names=[str(c) for c in label.classes], hparams=dict(settings.hparams))
    user_model.check_model(keras_model, spec)
    if not keras_model.inputs:  # a Sequential without an input shape: build it for its feature(s)
        build_sequential(keras_model, spec, features, settings, train_dataset)
    user_model.check_trainable(keras_model, spec)
    head = user_model.output_head(keras_model, spec, label.num_classes, regression=label.is_regression)
    binding = binding_lib.bind(binding_lib.model_inputs(keras_model), features, settings.input_map)
    try:
        keras_model = convert.graph_safe(keras_model, binding.input_shapes())
    except convert.ConversionError as exc:
        raise user_model.UserModelError(f"--model {spec}: {exc}") from None
    except Exception as exc:  # a layer this conversion does not know how to copy
        raise user_model.UserModelError(
            f"--model {spec}: the model could not be rebuilt for model_to_estimator (which clones it "
            f"from its layers' configs):\n{type(exc).__name__}: {exc}") from exc
    return keras_model, binding, head


def build_sequential(keras_model, spec, features: features_lib.FeatureSet, settings: Settings,
                     train_dataset: tf.data.Dataset) -> None:
    """Builds an unbuilt Sequential by calling it on an input shaped like the feature(s) it gets.

    Keras then names its input `<first layer>_input`, which the binding reads like any other.
    """
    first = keras_model.layers[0].name if keras_model.layers else "?"
    provisional = binding_lib.ModelInput(f"{first}_input", "unknown", (None, None))
    try:
        chosen = binding_lib.bind([provisional], features, settings.input_map).inputs[0].features
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
    progress = std_logging.getLogger(PROGRESS_LOGGER)
    progress.info("model inputs <- features:")
    for line in binding.describe():
        progress.info("  %s", line)
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, BINDING_FILE), "w") as f:
        f.write(binding.to_json())


def run_fn(fn_args: FnArgs) -> None:
    """Builds, converts, trains, evaluates and exports the model (the TFX Trainer entry point)."""
    settings = trainer_settings(fn_args.custom_config)
    features = features_lib.features_from_schema(features_lib.load_schema(fn_args.schema_path),
                                                 settings.label)
    logging.info("Features from the schema: %s; label %r (%s) with classes %s", features.names,
                 settings.label, features.label.task, list(features.label.classes))

    binding, head = None, None
    if settings.model is None:
        keras_model = builtin_keras_model(fn_args, features, settings)
    else:
        keras_model, binding, head = users_keras_model(fn_args, features, settings)
        announce_binding(binding, fn_args.model_run_dir)
    if fn_args.base_model:
        report = warm_start(keras_model, fn_args.base_model)
        logging.info("Warm start from %s: %d weights copied, %d kept fresh", fn_args.base_model,
                     len(report["copied"]), len(report["skipped"]))
        tf.io.gfile.makedirs(fn_args.model_run_dir)
        with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, WARM_START_REPORT), "w") as f:
            f.write(json.dumps(report, indent=1))

    estimator = estimator_from_keras(
        keras_model, run_config(fn_args.model_run_dir, settings.seed, fn_args.train_steps))
    train_spec, eval_spec = specs(fn_args, features, settings.batch_size, settings.seed,
                                  estimator.config, binding)
    result = tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    if not estimator.config.is_chief:
        return  # a worker of a TF cluster (TF_CONFIG): the chief exports; a ps never returns
    if result is None:  # the chief of a TF cluster only trains: it exports its last checkpoint
        estimator.export_saved_model(os.path.join(fn_args.model_run_dir, "export", EXPORTER_NAME),
                                     export.serving_input_receiver_fn(features, binding))
    else:
        logging.info("Final evaluation: %s", result[0])

    if tf.io.gfile.exists(fn_args.serving_model_dir):
        tf.io.gfile.rmtree(fn_args.serving_model_dir)
    rows = export.eval_rows(fn_args.eval_files)
    export.publish(export.latest_export(fn_args.model_run_dir), fn_args.serving_model_dir,
                   features, head, rows)
    export.write_model_card(fn_args.serving_model_dir, fn_args.schema_path, settings.label)
    export.write_warmup_requests(fn_args.serving_model_dir, rows, features,
                                 export.raw_feature_names(features, binding))
