"""The ExecutorInput a step gets (both parameter forms, as TFX's own entrypoint parses them), its
command line, and what its driver's output changes."""
from __future__ import annotations

import sys

import pytest

from pipeline import config as config_lib
from pipeline.kubeflow.launcher import executor_io, values
from pipeline.kubeflow.launcher.records import Artifact
from pipeline.kubeflow.launcher.run import prepare_run
from pipeline.kubeflow.launcher.spec import SpecError
from tests.pipeline.kubeflow.launcher.specs import MODEL_TYPE, container, tasks_of


def test_executor_input_in_the_legacy_form_has_typed_values_and_upstream_metadata(spec_file, tmp_path):
    run = prepare_run(spec_file, str(tmp_path / "root"), ["train_steps=9"])
    gen, schema_gen = config_lib.EXAMPLE_GEN, config_lib.SCHEMA_GEN
    examples = Artifact(f"run-compiled/r1/{gen}/examples", {"instanceSchema": "title: tfx.Examples\n"},
                        f"/x/{gen}/examples", {"split_names": '["train", "eval"]'})
    schema = Artifact(f"run-compiled/r1/{schema_gen}/schema", {"instanceSchema": "title: tfx.Schema\n"},
                      f"/x/{schema_gen}/schema", {})
    trainer = run.tasks["Trainer"]
    outputs = executor_io.output_artifacts("Trainer", run.component("Trainer"), "/x/Trainer", "r1")
    invocation = executor_io.executor_input(
        values.task_parameters(trainer, run.component("Trainer"), run.params, "parameters", run.path_map),
        executor_io.input_artifacts(trainer, {gen: {"examples": [examples]}, schema_gen: {"schema": [schema]}}),
        outputs, "/x/Trainer/executor_output.json", "parameters")
    assert invocation["inputs"]["parameters"]["train_steps"] == {"intValue": "9"}
    assert invocation["inputs"]["parameters"]["run_fn"] == {"stringValue": "components.trainer.task.run_fn"}
    assert invocation["inputs"]["artifacts"]["examples"]["artifacts"][0]["metadata"] == {
        "split_names": '["train", "eval"]'}
    assert invocation["inputs"]["artifacts"]["schema"]["artifacts"][0]["uri"] == f"/x/{schema_gen}/schema"
    model = invocation["outputs"]["artifacts"]["model"]["artifacts"][0]
    assert model["uri"] == "/x/Trainer/model" and model["name"] == "run-compiled/r1/Trainer/model"
    assert model["type"] == MODEL_TYPE


def test_tfx_entrypoint_reads_the_legacy_form_but_not_parameter_values_alone(job):
    """The parity gap, on TFX's own parser: parameterValues without the inputs spec are ignored."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils
    gen = tasks_of(job)[config_lib.EXAMPLE_GEN]
    component = job["pipelineSpec"]["components"][config_lib.EXAMPLE_GEN]
    params = values.run_parameters(job, [])
    parsed = {}
    for form in values.PARAMETER_FORMS:
        parameters = values.task_parameters(gen, component, params, form, lambda v: v)
        message = pipeline_spec_pb2.ExecutorInput()
        json_format.ParseDict(executor_io.executor_input(parameters, {}, {}, "/x/out.json", form), message)
        parsed[form] = utils.parse_execution_properties(message.inputs.parameter_values,
                                                        message.inputs.parameters)
    assert parsed["parameters"]["input_base"] == "/app/data/taxi"
    assert parsed["parameters"]["output_data_format"] == 6  # FORMAT_TF_EXAMPLE
    assert set(parsed["parameters"]) == set(gen["inputs"]["parameters"])
    assert parsed["parameterValues"] == {}


def test_step_command_runs_this_interpreter_with_the_executor_input():
    spec = container("a.b.Executor")["container"]
    argv = executor_io.step_command(spec["command"], spec["args"], '{"inputs": {}}')
    assert argv[0] == sys.executable and argv[1:3] == ["-m", spec["command"][2]]
    assert argv[argv.index("--json_serialized_invocation_args") + 1] == '{"inputs": {}}'
    with pytest.raises(SpecError, match="placeholders"):
        executor_io.step_command(["python"], ["{{$.inputs.parameters['x']}}"], "{}")
    with pytest.raises(SpecError, match="ENTRYPOINT"):
        executor_io.step_command([], ["{{$}}"], "{}")


def test_driver_output_replaces_parameters_and_output_metadata():
    invocation = executor_io.executor_input(
        {"input_config": {"stringValue": "old"}}, {},
        {"examples": [Artifact("n", {}, "/x/examples", {})]}, "/x/out.json", "parameters")
    executor_io.apply_driver_output(invocation, {
        "parameterValues": {"input_config": "new", "span": 3.0, "input_fingerprint": "f"},
        "artifacts": {"examples": {"artifacts": [{"metadata": {"custom:span": 3.0}}]}},
    }, "parameters")
    assert invocation["inputs"]["parameters"] == {
        "input_config": {"stringValue": "new"}, "span": {"intValue": "3"},
        "input_fingerprint": {"stringValue": "f"}}
    assert invocation["outputs"]["artifacts"]["examples"]["artifacts"][0]["metadata"] == {"custom:span": 3.0}
