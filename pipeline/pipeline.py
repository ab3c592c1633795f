"""The pipeline graph: one pure function, shared by the local runner and the Kubeflow compilers."""
from __future__ import annotations

import dataclasses
import json

from typing import List, Optional, Sequence, Union

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
# Direct imports: `tfx.v1` also imports every extension (Vertex AI, ...), 12 s here.
from tfx.components import CsvExampleGen, StatisticsGen
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import pusher_pb2
from tfx.orchestration.data_types import RuntimeParameter
from tfx.proto import example_gen_pb2

from components.atomic_pusher.component import AtomicPusher
from components.drift_guard.component import DriftGuard
from components.latest_pushed_model.component import LatestPushedModel
from components.run_parameters import component as run_parameters
from components.run_parameters import gates as gates_lib
from components.serving_check.component import ServingCheck
from components.strict_example_validator.component import StrictExampleValidator
from components.trainer import constants as trainer_constants
from components.trainer.features import FeatureSet, Label
# Component ids live with the settings, so light modules (the CLI) can use them too.
from pipeline.config import (COMPONENT_IDS, DRIFT_GUARD, EVALUATOR, EXAMPLE_GEN, EXAMPLE_VALIDATOR,  # noqa: F401
                             LATEST_PUSHED_MODEL, PUSHER, RUN_FN, SCHEMA_GEN, SERVING_CHECK, STATISTICS_GEN, TRAINER,
                             ConfigError, DEFAULT_SLICE_FEATURES, PipelineConfig)

ACCURACY = "accuracy"


# A default slice must have a small set of values the schema names: slicing by a near-unique
# column (single words, ids) gives thousands of one-row slices, a slow Evaluator and a huge report.
MAX_DEFAULT_SLICE_VALUES = 50


def with_resolved_slices(config: PipelineConfig, features: FeatureSet) -> PipelineConfig:
    """The config with slice features the schema has; by default, one it knows a few values of.

    An explicit --slice the schema lacks is an error; the taxi default is replaced by the schema's
    first categorical feature whose vocabulary the schema gives (a string domain or an int range)
    with at most MAX_DEFAULT_SLICE_VALUES values, or by none (overall metrics only).
    """
    unknown = [s for s in config.slice_features if features.resolve(s) is None]
    if unknown and config.slice_features != DEFAULT_SLICE_FEATURES:
        raise ConfigError(f"--slice {unknown}: not model features of the schema {config.schema_path} "
                          f"(features: {features.names})")
    # A CSV name or its derived identifier; TFMA slices by the tf.Example key, the CSV name.
    slices = tuple(dict.fromkeys(features.resolve(s) for s in config.slice_features
                                 if features.resolve(s) is not None))
    if not slices:
        slices = tuple([f.name for f in features.features
                        if f.is_categorical and f.vocabulary
                        and len(f.vocabulary) <= MAX_DEFAULT_SLICE_VALUES][:1])
    return dataclasses.replace(config, slice_features=slices)


def slices_note(requested, config: PipelineConfig, features: FeatureSet) -> str:
    """One line saying what the eval metrics are sliced by, and why when it was not asked for."""
    if tuple(requested) != DEFAULT_SLICE_FEATURES or all(features.resolve(r) for r in requested):
        return f"eval metrics sliced by {', '.join(config.slice_features)}"
    if config.slice_features:
        name = config.slice_features[0]
        return (f"eval metrics sliced by {name} (the first feature with a small known set of values: "
                f"{len(features.get(name).vocabulary)}); --slice FEATURE chooses another")
    return (f"eval metrics overall only: no feature has a known set of at most {MAX_DEFAULT_SLICE_VALUES} "
            "values to slice by (--slice FEATURE chooses one)")


# A value bound the Evaluator replaces at run time with one computed from the data (gates.py).
_SET_AT_RUN_TIME = 1e30


def eval_config(label: Label, slice_features: Sequence[str], min_accuracy: Optional[float],
                max_accuracy_drop: float, min_lift: float = 0.01, max_mae: Optional[float] = None,
                max_mae_rise: float = 0.0, min_auc: Optional[float] = None) -> tfma.EvalConfig:
    """TFMA config: metrics overall and per slice, with the blessing's thresholds.

    Classification (AUC, accuracy, loss): accuracy at least `min_accuracy` (when given; else the
    eval split's majority-class rate + `min_lift`, set by the Evaluator at run time), a binary
    label's AUC at least `min_auc` (when given, 0 meaning no bound; else 0.5 + `min_lift`), and, once a model has been blessed before, accuracy no
    more than `max_accuracy_drop` below that baseline's. Regression (mean absolute error, mean
    squared error, RMSE): MAE at most `max_mae` (else below the MAE of predicting the training
    split's mean, set at run time) and at most `max_mae_rise` above the baseline's.
    """
    # The thresholds hold on the whole eval split (the overall slice); the other slices are
    # reported, not gated: TFMA's plain `threshold` would hold every hour slice of a few dozen
    # rows to the same bound.
    def overall(value_threshold, change_threshold=None):
        return [tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec()],
            threshold=tfma.MetricThreshold(value_threshold=value_threshold,
                                           change_threshold=change_threshold))]
    named = '{"name": "%s"}'
    if label.is_regression:
        mae_thresholds = overall(
            tfma.GenericValueThreshold(upper_bound={"value": _SET_AT_RUN_TIME if max_mae is None else max_mae}),
            tfma.GenericChangeThreshold(direction=tfma.MetricDirection.LOWER_IS_BETTER,
                                        absolute={"value": max_mae_rise + 1e-10}))
        metrics = [
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="MeanAbsoluteError", config=named % gates_lib.MAE,
                              per_slice_thresholds=mae_thresholds),
            tfma.MetricConfig(class_name="MeanSquaredError", config=named % "mse"),
            tfma.MetricConfig(class_name="RootMeanSquaredError", config=named % "rmse"),
            tfma.MetricConfig(class_name="MeanLabel", config=named % "mean_label"),
            tfma.MetricConfig(class_name="MeanPrediction", config=named % "mean_prediction"),
            # Mean actual per prediction bucket: the report's predicted-vs-actual and residual plots
            # (the Evaluator sets the buckets' range to the training split's labels).
            tfma.MetricConfig(class_name="CalibrationPlot", config=json.dumps(
                {"name": gates_lib.PREDICTION_PLOT, "num_buckets": gates_lib.PLOT_BUCKETS})),
        ]
        return _tfma_config(label, slice_features, metrics)
    accuracy_thresholds = overall(
        tfma.GenericValueThreshold(lower_bound={"value": _SET_AT_RUN_TIME if min_accuracy is None else min_accuracy}),
        tfma.GenericChangeThreshold(direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                                    absolute={"value": -max_accuracy_drop - 1e-10}))
    if label.is_binary:
        auc = gates_lib.auc_bound(min_auc, min_lift)
        metrics = [
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="BinaryAccuracy", config=named % ACCURACY,
                              per_slice_thresholds=accuracy_thresholds),
            tfma.MetricConfig(class_name="AUC", config=named % gates_lib.AUC, per_slice_thresholds=overall(
                tfma.GenericValueThreshold(lower_bound={"value": auc})) if auc is not None else []),
            tfma.MetricConfig(class_name="BinaryCrossentropy", config=named % "loss"),
            tfma.MetricConfig(class_name="Precision"),
            tfma.MetricConfig(class_name="Recall"),
            tfma.MetricConfig(class_name="CalibrationPlot"),
            tfma.MetricConfig(class_name="ConfusionMatrixPlot"),
        ]
    else:
        metrics = [
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="SparseCategoricalAccuracy", config=named % ACCURACY,
                              per_slice_thresholds=accuracy_thresholds),
            tfma.MetricConfig(class_name="SparseCategoricalCrossentropy", config=named % "loss"),
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ]
    return _tfma_config(label, slice_features, metrics)


def _tfma_config(label: Label, slice_features: Sequence[str], metrics) -> tfma.EvalConfig:
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key=label.name)],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[f]) for f in slice_features],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)])


def gates_settings(config: PipelineConfig, label: Label) -> str:
    """The Evaluator's `gates` parameter (gates.py computes the data-dependent bounds from it)."""
    return gates_lib.settings(label.task, label.name, label.dtype.name, config.min_lift, config.max_mae,
                              config.min_auc)


def trainer_custom_config(config: PipelineConfig) -> dict:
    """What run_fn needs beyond TFX's own inputs; a user's model only when there is one."""
    custom_config = {
        trainer_constants.LABEL_KEY: config.label,
        trainer_constants.HPARAMS_KEY: config.hparams_dict,
        trainer_constants.SEED_KEY: config.seed,
    }
    if config.model is not None:
        custom_config[trainer_constants.MODEL_KEY] = config.model.to_dict()
        custom_config[trainer_constants.INPUT_MAP_KEY] = dict(config.input_map)
    return custom_config


def create_pipeline(
    config: PipelineConfig,
    label: Label,
    *,
    pipeline_root: str,
    data_root: str,
    schema_path: str,
    serving_dir: str,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    run_fn: str = RUN_FN,
    train_steps: Union[int, RuntimeParameter, None] = None,
    eval_steps: Union[int, RuntimeParameter, None] = None,
    min_accuracy: Union[float, RuntimeParameter, None] = None,
    input_pattern: str = "*",
    last_pushed_model: Optional[str] = None,
    accept_drift: Union[int, RuntimeParameter, None] = None,
) -> tfx_pipeline.Pipeline:
    """CSV -> validated examples -> Keras model trained as an Estimator -> evaluated -> checked
    as a server loads it -> pushed.

    Pure: builds the graph from its arguments and touches no file. `label` is the schema's
    label (its classes decide binary or multi-class metrics). `data_root`, `train_steps`,
    `eval_steps` and `min_accuracy` may be RuntimeParameters (Kubeflow run parameters); the
    last three default to the config's values. `input_pattern` is CsvExampleGen's file
    pattern under the data root; with a `{SPAN}` in it, ExampleGen ingests the newest span.
    `last_pushed_model`: the Trainer model URI that the newest push record names when the run
    starts ("" for none), for runners that can read the push records first (local): the baseline
    step is then cached until a different model is pushed. Without it (compiled pipelines) the
    baseline step must not be cached (see kubeflow_runner). `accept_drift` (0 or 1, or a
    RuntimeParameter; default the config's) lets the drift guard pass data that drifted.
    """
    example_gen = CsvExampleGen(
        input_base=data_root,
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="single_split", pattern=input_pattern)]),
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.train_hash_buckets),
            example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.eval_hash_buckets),
        ]))).with_id(EXAMPLE_GEN)

    statistics_gen = StatisticsGen(
        examples=example_gen.outputs["examples"]).with_id(STATISTICS_GEN)

    schema_gen = ImportSchemaGen(schema_file=schema_path).with_id(SCHEMA_GEN)

    example_validator = StrictExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"]).with_id(EXAMPLE_VALIDATOR)

    # The last pushed (so blessed) model, found from the Pusher's push records by a plain
    # container step: no resolver node, which open-source KFP 2.x cannot run.
    baseline = LatestPushedModel(serving_dir=serving_dir,
                                 last_pushed_model=last_pushed_model).with_id(LATEST_PUSHED_MODEL)

    # The new data against the data the served model was trained on (found through the baseline
    # step's push record, no resolver): a drifted span stops the run before the Trainer.
    drift_guard = DriftGuard(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        baseline=baseline.outputs["model"],
        accept_drift=int(config.accept_drift) if accept_drift is None else accept_drift,
    ).with_id(DRIFT_GUARD)

    trainer = run_parameters.Trainer(
        run_fn=run_fn,
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        # Scheduled runs continue from the last blessed model instead of from scratch.
        base_model=baseline.outputs["model"] if config.warm_start else None,
        train_steps=config.train_steps if train_steps is None else train_steps,
        eval_steps=config.eval_steps if eval_steps is None else eval_steps,
        custom_config=trainer_custom_config(config)).with_id(TRAINER)
    # Never train on data that failed validation.
    trainer.add_upstream_node(example_validator)
    trainer.add_upstream_node(drift_guard)

    evaluator = run_parameters.Evaluator(
        min_accuracy=gates_lib.min_accuracy_parameter(config.min_accuracy) if min_accuracy is None else min_accuracy,
        accuracy_metric=ACCURACY,
        gates=gates_settings(config, label),
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        eval_config=eval_config(label, config.slice_features, config.min_accuracy,
                                config.max_accuracy_drop, config.min_lift, config.max_mae,
                                config.max_mae_rise, config.min_auc)).with_id(EVALUATOR)

    # Loads the model as a server would (a fresh TensorFlow-only process replaying the warm-up
    # requests): TFX's InfraValidator's job, without the Docker or Kubernetes that Vertex AI lacks.
    serving_check = ServingCheck(model=trainer.outputs["model"]).with_id(SERVING_CHECK)
    serving_check.add_upstream_node(evaluator)

    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=serving_check.outputs["blessing"],
        # Named in the push record: the next run's drift guard compares its data with these.
        statistics=statistics_gen.outputs["statistics"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_dir)),
    ).with_id(PUSHER)

    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=pipeline_root,
        components=[example_gen, statistics_gen, schema_gen, example_validator, baseline,
                    drift_guard, trainer, evaluator, serving_check, pusher],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args or config.beam_args),
    )

