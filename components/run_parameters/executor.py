"""Executors that apply typed run parameters, then do exactly what TFX's stock executors do."""
from __future__ import annotations

import json
from typing import Any, Dict

from google.protobuf import json_format
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.trainer import executor as trainer_executor
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils, standard_component_specs
import tensorflow_model_analysis as tfma

from components.latest_pushed_model.executor import without_empty_baseline
from components.run_parameters import gates as gates_lib

TRAIN_STEPS_KEY = "train_steps"
EVAL_STEPS_KEY = "eval_steps"
MIN_ACCURACY_KEY = "min_accuracy"
ACCURACY_METRIC_KEY = "accuracy_metric"
GATES_KEY = "gates"  # JSON from gates.settings: what the data-dependent bounds need


def with_steps(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """exec_properties with train_args / eval_args built from the integer step parameters."""
    updated = dict(exec_properties)
    train_steps = int(exec_properties[TRAIN_STEPS_KEY])
    eval_steps = int(exec_properties.get(EVAL_STEPS_KEY) or 0)
    if train_steps <= 0:
        raise ValueError(f"{TRAIN_STEPS_KEY} must be > 0 (got {train_steps})")
    if eval_steps < 0:
        raise ValueError(f"{EVAL_STEPS_KEY} must be >= 0, 0 meaning the whole eval split (got {eval_steps})")
    updated[standard_component_specs.TRAIN_ARGS_KEY] = json_format.MessageToJson(
        trainer_pb2.TrainArgs(num_steps=train_steps), sort_keys=True, preserving_proto_field_name=True)
    updated[standard_component_specs.EVAL_ARGS_KEY] = json_format.MessageToJson(
        trainer_pb2.EvalArgs(num_steps=eval_steps or None), sort_keys=True, preserving_proto_field_name=True)
    return updated


def with_min_accuracy(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """exec_properties whose eval_config holds the accuracy metric to `min_accuracy`."""
    minimum = float(exec_properties[MIN_ACCURACY_KEY])
    if not 0.0 <= minimum <= 1.0:
        raise ValueError(f"{MIN_ACCURACY_KEY} must be between 0 and 1 (got {minimum})")
    metric_name = exec_properties[ACCURACY_METRIC_KEY]
    config = tfma.EvalConfig()
    json_format.Parse(exec_properties[standard_component_specs.EVAL_CONFIG_KEY], config)
    if not _set_bound(config, metric_name, minimum):  # accuracy's threshold: a lower bound
        raise ValueError(f"the eval_config has no thresholded metric named {metric_name!r}")
    updated = dict(exec_properties)
    updated[standard_component_specs.EVAL_CONFIG_KEY] = json_format.MessageToJson(
        config, sort_keys=True, preserving_proto_field_name=True)
    return updated


def _set_bound(config: tfma.EvalConfig, metric_name: str, bound: float) -> bool:
    """Sets the value threshold of the named metric (lower bound, or upper for an error)."""
    found = False
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            if json.loads(metric.config or "{}").get("name") != metric_name:
                continue
            thresholds = [metric.threshold] if metric.HasField("threshold") else []
            thresholds += [t.threshold for t in metric.per_slice_thresholds]
            for threshold in thresholds:
                if threshold.HasField("value_threshold"):
                    if threshold.value_threshold.HasField("upper_bound"):
                        threshold.value_threshold.upper_bound.value = bound
                    else:
                        threshold.value_threshold.lower_bound.value = bound
                    found = True
    return found


def _set_plot_range(config: tfma.EvalConfig, low_high) -> None:
    """Gives the regression's predicted-vs-actual plot (TFMA's CalibrationPlot) the label's range:
    its buckets are over the prediction, in [0, 1] unless told otherwise."""
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            settings = json.loads(metric.config or "{}")
            if settings.get("name") == gates_lib.PREDICTION_PLOT:
                metric.config = json.dumps({**settings, "left": low_high[0], "right": low_high[1]})


def with_gates(exec_properties: Dict[str, Any], split_uri) -> tuple:
    """(exec_properties whose eval_config holds the run's bounds, what each bound came from).

    Without a `gates` parameter: `min_accuracy` as it is (with_min_accuracy).
    """
    if not exec_properties.get(GATES_KEY):
        return with_min_accuracy(exec_properties), {}
    settings = json.loads(exec_properties[GATES_KEY])
    minimum = gates_lib.explicit_min_accuracy(exec_properties.get(MIN_ACCURACY_KEY))
    config = tfma.EvalConfig()
    json_format.Parse(exec_properties[standard_component_specs.EVAL_CONFIG_KEY], config)
    notes = gates_lib.bounds(settings, minimum, split_uri)
    for metric_name, note in notes.items():
        if not _set_bound(config, metric_name, note["bound"]):
            raise ValueError(f"the eval_config has no thresholded metric named {metric_name!r}")
    binary = any(json.loads(m.config or "{}").get("name") == gates_lib.AUC
                 for spec in config.metrics_specs for m in spec.metrics)
    notes.update(gates_lib.static_notes(settings, binary))
    if settings["task"] == "regression":
        _set_plot_range(config, gates_lib.label_range(settings, split_uri))
    updated = dict(exec_properties)
    updated[standard_component_specs.EVAL_CONFIG_KEY] = json_format.MessageToJson(
        config, sort_keys=True, preserving_proto_field_name=True)
    return updated, notes


# A baseline from LatestPushedModel that holds no model (nothing pushed yet) is dropped, so the
# stock executors see what they saw when TFX's resolver found nothing: no base / baseline model.
class TrainerExecutor(trainer_executor.GenericExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        input_dict = without_empty_baseline(input_dict, standard_component_specs.BASE_MODEL_KEY)
        return super().Do(input_dict, output_dict, with_steps(exec_properties))


class EvaluatorExecutor(evaluator_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        input_dict = without_empty_baseline(input_dict, standard_component_specs.BASELINE_MODEL_KEY)
        examples = input_dict[standard_component_specs.EXAMPLES_KEY]
        exec_properties, notes = with_gates(
            exec_properties, lambda split: artifact_utils.get_split_uri(examples, split))
        result = super().Do(input_dict, output_dict, exec_properties)
        if notes:
            evaluation = artifact_utils.get_single_uri(output_dict[standard_component_specs.EVALUATION_KEY])
            gates_lib.write_notes(evaluation, notes)
        return result
