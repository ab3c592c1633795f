import json

import pytest
from google.protobuf import json_format
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.orchestration import data_types

from components.run_parameters import component, executor
from components.trainer.features import Label
from pipeline import pipeline as pipeline_lib


def _examples():
    return tfx.dsl.Channel(type=tfx.types.standard_artifacts.Examples)


def test_trainer_keeps_tfx_outputs_and_adds_typed_step_parameters():
    steps = data_types.RuntimeParameter(name="train-steps", ptype=int, default=100)
    trainer = component.Trainer(run_fn="m.run_fn", examples=_examples(),
                                schema=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Schema),
                                train_steps=steps, eval_steps=5)
    assert set(trainer.outputs) == {"model", "model_run"}
    assert trainer.exec_properties["train_steps"] is steps
    assert trainer.exec_properties["eval_steps"] == 5
    assert trainer.exec_properties["run_fn"] == "m.run_fn"
    assert trainer.outputs["model"].producer_component_id == trainer.id


def test_trainer_rejects_a_wrongly_typed_parameter():
    with pytest.raises(TypeError):
        component.Trainer(run_fn="m.run_fn", examples=_examples(), train_steps="many", eval_steps=0)


def test_with_steps_builds_train_and_eval_args():
    props = executor.with_steps({"train_steps": 300, "eval_steps": 0, "train_args": "{}"})
    assert json.loads(props["train_args"]) == {"num_steps": 300}
    assert json.loads(props["eval_args"]) == {}  # whole eval split
    with pytest.raises(ValueError, match="train_steps must be > 0"):
        executor.with_steps({"train_steps": 0})


def test_with_min_accuracy_sets_the_threshold_of_the_named_metric():
    config = pipeline_lib.eval_config(Label("y", (0, 1)), [], min_accuracy=0.6, max_accuracy_drop=0.0)
    props = executor.with_min_accuracy({
        "eval_config": json_format.MessageToJson(config), "min_accuracy": 0.83,
        "accuracy_metric": pipeline_lib.ACCURACY})
    updated = json_format.Parse(props["eval_config"], tfma.EvalConfig())
    thresholds = [t.threshold for m in updated.metrics_specs[0].metrics for t in m.per_slice_thresholds]
    assert [round(t.value_threshold.lower_bound.value, 6) for t in thresholds] == [0.83, 0.51]  # accuracy; AUC kept
    with pytest.raises(ValueError, match="between 0 and 1"):
        executor.with_min_accuracy({**props, "min_accuracy": 2.0})
    with pytest.raises(ValueError, match="no thresholded metric named 'auc_x'"):
        executor.with_min_accuracy({**props, "accuracy_metric": "auc_x"})
