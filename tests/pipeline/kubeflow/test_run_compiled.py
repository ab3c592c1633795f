"""run-compiled without running steps: spec walking, parameters, ExecutorInput, resolvers, failures.

The spec walked is the project's pipeline as TFX's own compiler writes it for Vertex (schema
2.0.0, offline); only the resolver checks use a hand-written job, since the graph has no resolver.
"""
from __future__ import annotations

import copy
import json
import os
import sys

import pytest

from pipeline import config as config_lib
from pipeline.kubeflow import run_compiled
from pipeline.kubeflow.run_compiled import Artifact, SpecError

MODEL_TYPE = {"instanceSchema": "title: tfx.Model\ntype: object\n"}
BLESSING_TYPE = {"instanceSchema": "title: tfx.ModelBlessing\ntype: object\n"}
ROOT = "gs://no-such-bucket/keras-tfx"


def container(executor_class, pre_cache_check=False):
    spec = {"command": ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"],
            "args": ["--executor_class_path", executor_class, "--json_serialized_invocation_args", "{{$}}",
                     "--runner=DirectRunner"],
            "image": "registry.example/keras-tfx:test"}
    if pre_cache_check:
        spec["lifecycle"] = {"preCacheCheck": {
            "command": ["python", "-m", "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"],
            "args": ["--json_serialized_invocation_args", "{{$}}"]}}
    return {"container": spec}


@pytest.fixture(scope="module")
def compiled_path(tmp_path_factory):
    """The project's pipeline compiled by TFX's KubeflowV2DagRunner for Vertex, offline."""
    from pipeline.kubeflow import runner as kubeflow_runner
    return kubeflow_runner.compile_pipeline(
        config_lib.PipelineConfig(train_steps=50), target="vertex",
        output=str(tmp_path_factory.mktemp("compiled") / "vertex.json"),
        image="registry.example/keras-tfx:test", pipeline_root=ROOT)


@pytest.fixture(scope="module")
def compiled_job(compiled_path):
    """The compiled job's tasks as run-compiled runs them (the exit handler's sub-DAG flattened,
    the exit task left out)."""
    from pipeline.kubeflow import compiled_exit
    with open(compiled_path) as f:
        job, _ = compiled_exit.split_exit_task(json.load(f))
    job.pop("exit_task")
    return job


@pytest.fixture
def job(compiled_job):
    """A copy of the compiled job, for a test to change."""
    return copy.deepcopy(compiled_job)


def _tasks(job):
    return job["pipelineSpec"]["root"]["dag"]["tasks"]


def _downstream(name, tasks):
    """Every task that needs `name`'s outputs, directly or not (computed here, not by run_compiled)."""
    found, frontier = set(), {name}
    while frontier:
        frontier = {t for t, spec in tasks.items() if set(spec.get("dependentTasks", [])) & frontier} - found
        found |= frontier
    return found


def small_job():
    """A three-step job with a resolver task, shaped like TFX 1.15's kubeflow-v2 output (schema
    2.0.0) for a graph with a Resolver node: for the resolver checks only."""
    return {
        "pipelineSpec": {
            "root": {
                "inputDefinitions": {"parameters": {"data_root": {"type": "STRING"},
                                                    "train_steps": {"type": "INT"},
                                                    "min_accuracy": {"type": "DOUBLE"}}},
                "dag": {"tasks": {
                    "Trainer": {
                        "componentRef": {"name": "Trainer"}, "taskInfo": {"name": "Trainer"},
                        "dependentTasks": ["Gen"],
                        "inputs": {
                            "artifacts": {"examples": {"taskOutputArtifact": {
                                "producerTask": "Gen", "outputArtifactKey": "examples"}}},
                            "parameters": {
                                "train_steps": {"componentInputParameter": "train_steps"},
                                "run_fn": {"runtimeValue": {"constantValue": {"stringValue": "m.run_fn"}}},
                                "push_destination": {"runtimeValue": {"constantValue": {"stringValue":
                                    '{"filesystem": {"base_directory": "' + ROOT + '/serving_model"}}'}}},
                            }}},
                    "Gen": {
                        "componentRef": {"name": "Gen"}, "taskInfo": {"name": "Gen"},
                        "inputs": {"parameters": {
                            "input_base": {"componentInputParameter": "data_root"},
                            "output_data_format": {"runtimeValue": {"constantValue": {"intValue": "6"}}}}}},
                    "Blessing-resolver": {
                        "componentRef": {"name": "Blessing-resolver"},
                        "taskInfo": {"name": "Blessing-resolver"}},
                }}},
            "components": {
                "Gen": {"executorLabel": "Gen_executor",
                        "inputDefinitions": {"parameters": {"input_base": {"type": "STRING"},
                                                            "output_data_format": {"type": "INT"}}},
                        "outputDefinitions": {"artifacts": {"examples": {"artifactType": {
                            "instanceSchema": "title: tfx.Examples\ntype: object\n"}}}}},
                "Trainer": {"executorLabel": "Trainer_executor",
                            "inputDefinitions": {"parameters": {"train_steps": {"type": "INT"},
                                                                "run_fn": {"type": "STRING"},
                                                                "push_destination": {"type": "STRING"}}},
                            "outputDefinitions": {"artifacts": {"model": {"artifactType": MODEL_TYPE}}}},
                "Blessing-resolver": {"executorLabel": "Blessing-resolver_executor",
                                      "outputDefinitions": {"artifacts": {"model_blessing": {
                                          "artifactType": BLESSING_TYPE}}}},
            },
            "deploymentSpec": {"executors": {
                "Gen_executor": container("tfx.components.example_gen.csv_example_gen.executor.Executor",
                                          pre_cache_check=True),
                "Trainer_executor": container("components.run_parameters.executor.TrainerExecutor"),
                "Blessing-resolver_executor": {"resolver": {"outputArtifactQueries": {"model_blessing": {
                    "filter": 'schema_title="tfx.ModelBlessing" AND state=LIVE AND '
                              'metadata.blessed.number_value=1'}}}},
            }},
        },
        "runtimeConfig": {"gcsOutputDirectory": ROOT,
                          "parameters": {"data_root": {"stringValue": "/app/data/taxi"},
                                         "train_steps": {"intValue": "50"},
                                         "min_accuracy": {"doubleValue": 0.6}}},
    }


@pytest.fixture
def spec_file(job, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(job))
    return str(path)


@pytest.fixture
def resolver_spec_file(tmp_path):
    path = tmp_path / "resolver.json"
    path.write_text(json.dumps(small_job()))
    return str(path)


def test_tasks_run_after_their_producers_and_ties_go_by_name(job):
    tasks = _tasks(job)
    order = run_compiled.task_order(tasks)
    assert sorted(order) == sorted(tasks)
    for name, task in tasks.items():
        for producer in task.get("dependentTasks", []):
            assert order.index(producer) < order.index(name), (producer, name)
    assert order[0] == min(n for n, t in tasks.items() if not t.get("dependentTasks"))
    assert set(run_compiled.downstream_of(config_lib.EXAMPLE_GEN, tasks)) == _downstream(config_lib.EXAMPLE_GEN, tasks)
    assert run_compiled.downstream_of(config_lib.PUSHER, tasks) == []


def test_a_cycle_or_an_unknown_producer_is_refused():
    tasks = {"A": {"dependentTasks": ["B"]}, "B": {"dependentTasks": ["A"]}}
    with pytest.raises(SpecError, match="cycle"):
        run_compiled.task_order(tasks)
    with pytest.raises(SpecError, match="does not define"):
        run_compiled.task_order({"A": {"dependentTasks": ["Nope"]}})


def test_run_parameters_take_compiled_defaults_then_typed_overrides(job):
    params = run_compiled.run_parameters(job, ["train_steps=7", "min_accuracy=1", "data_root=2024"])
    assert params == {"data_root": "2024", "train_steps": 7, "min_accuracy": 1.0, "eval_steps": 0,
                      "accept_drift": 0, "notify_urls": ""}
    assert isinstance(params["min_accuracy"], float)
    with pytest.raises(SpecError, match=r"^--param train_steps=many: train_steps is an integer parameter; "
                                        r"give a whole number, e\.g\. --param train_steps=50$"):
        run_compiled.run_parameters(job, ["train_steps=many"])
    with pytest.raises(SpecError, match="--param train_steps=5e2: train_steps is an integer parameter"):
        run_compiled.run_parameters(job, ["train_steps=5e2"])
    with pytest.raises(SpecError, match="--param min_accuracy=NaN: min_accuracy is a float parameter"):
        run_compiled.run_parameters(job, ["min_accuracy=NaN"])
    with pytest.raises(SpecError, match=r"--param learning_rate=1: learning_rate is not a parameter of this "
                                        r"pipeline; known: accept_drift, data_root, eval_steps, min_accuracy, "
                                        r"notify_urls, train_steps"):
        run_compiled.run_parameters(job, ["learning_rate=1"])
    with pytest.raises(SpecError, match="--param train_steps: expected NAME=VALUE"):
        run_compiled.run_parameters(job, ["train_steps"])
    with pytest.raises(SpecError, match=r"--param train_steps=8: train_steps is given twice \(first as train_steps=7\)"):
        run_compiled.run_parameters(job, ["train_steps=7", "train_steps=8"])


def test_a_parameter_type_run_compiled_cannot_pass_is_refused_when_overridden(job):
    job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]["flags"] = {"parameterType": "LIST",
                                                                             "defaultValue": []}
    assert run_compiled.run_parameters(job, [])["flags"] == []
    with pytest.raises(SpecError, match=r"--param flags=\[1\]: flags is a LIST parameter, which run-compiled "
                                        "does not support"):
        run_compiled.run_parameters(job, ["flags=[1]"])


def test_image_paths_and_the_compiled_root_become_local(spec_file, tmp_path):
    run = run_compiled.prepare_run(spec_file, str(tmp_path / "root"))
    assert run.params["data_root"] == os.path.join(config_lib.PROJECT_ROOT, "data/taxi")
    task = run.tasks[config_lib.PUSHER]
    values = run_compiled.task_parameters(task, run.component(config_lib.PUSHER), run.params, "parameters",
                                          run.path_map)
    assert json.loads(values["push_destination"]["stringValue"]) == {
        "filesystem": {"base_directory": str(tmp_path / "root" / "serving_model")}}
    # Only whole path prefixes: /application is not /app.
    assert run.path_map("/application/x") == "/application/x"
    assert not os.path.exists(tmp_path / "root")  # preparing writes nothing


def test_executor_input_in_the_legacy_form_has_typed_values_and_upstream_metadata(spec_file, tmp_path):
    run = run_compiled.prepare_run(spec_file, str(tmp_path / "root"), ["train_steps=9"])
    gen, schema_gen = config_lib.EXAMPLE_GEN, config_lib.SCHEMA_GEN
    examples = Artifact(f"run-compiled/r1/{gen}/examples", {"instanceSchema": "title: tfx.Examples\n"},
                        f"/x/{gen}/examples", {"split_names": '["train", "eval"]'})
    schema = Artifact(f"run-compiled/r1/{schema_gen}/schema", {"instanceSchema": "title: tfx.Schema\n"},
                      f"/x/{schema_gen}/schema", {})
    trainer = run.tasks["Trainer"]
    outputs = run_compiled.output_artifacts("Trainer", run.component("Trainer"), "/x/Trainer", "r1")
    invocation = run_compiled.executor_input(
        run_compiled.task_parameters(trainer, run.component("Trainer"), run.params, "parameters", run.path_map),
        run_compiled.input_artifacts(trainer, {gen: {"examples": [examples]}, schema_gen: {"schema": [schema]}}),
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

    gen = _tasks(job)[config_lib.EXAMPLE_GEN]
    component = job["pipelineSpec"]["components"][config_lib.EXAMPLE_GEN]
    params = run_compiled.run_parameters(job, [])
    parsed = {}
    for form in run_compiled.PARAMETER_FORMS:
        values = run_compiled.task_parameters(gen, component, params, form, lambda v: v)
        message = pipeline_spec_pb2.ExecutorInput()
        json_format.ParseDict(run_compiled.executor_input(values, {}, {}, "/x/out.json", form), message)
        parsed[form] = utils.parse_execution_properties(message.inputs.parameter_values,
                                                        message.inputs.parameters)
    assert parsed["parameters"]["input_base"] == "/app/data/taxi"
    assert parsed["parameters"]["output_data_format"] == 6  # FORMAT_TF_EXAMPLE
    assert set(parsed["parameters"]) == set(gen["inputs"]["parameters"])
    assert parsed["parameterValues"] == {}


def test_step_command_runs_this_interpreter_with_the_executor_input():
    spec = container("a.b.Executor")["container"]
    argv = run_compiled.step_command(spec["command"], spec["args"], '{"inputs": {}}')
    assert argv[0] == sys.executable and argv[1:3] == ["-m", spec["command"][2]]
    assert argv[argv.index("--json_serialized_invocation_args") + 1] == '{"inputs": {}}'
    with pytest.raises(SpecError, match="placeholders"):
        run_compiled.step_command(["python"], ["{{$.inputs.parameters['x']}}"], "{}")
    with pytest.raises(SpecError, match="ENTRYPOINT"):
        run_compiled.step_command([], ["{{$}}"], "{}")


def test_driver_output_replaces_parameters_and_output_metadata():
    invocation = run_compiled.executor_input(
        {"input_config": {"stringValue": "old"}}, {},
        {"examples": [Artifact("n", {}, "/x/examples", {})]}, "/x/out.json", "parameters")
    run_compiled.apply_driver_output(invocation, {
        "parameterValues": {"input_config": "new", "span": 3.0, "input_fingerprint": "f"},
        "artifacts": {"examples": {"artifacts": [{"metadata": {"custom:span": 3.0}}]}},
    }, "parameters")
    assert invocation["inputs"]["parameters"] == {
        "input_config": {"stringValue": "new"}, "span": {"intValue": "3"},
        "input_fingerprint": {"stringValue": "f"}}
    assert invocation["outputs"]["artifacts"]["examples"]["artifacts"][0]["metadata"] == {"custom:span": 3.0}


def blessing(name, model_name, blessed):
    return Artifact(name, BLESSING_TYPE, f"/r/{name}", {"blessed": float(blessed), "current_model_id": model_name})


def test_latest_blessed_model_queries_pick_the_newest_blessed_model():
    blessing_query = 'schema_title="tfx.ModelBlessing" AND state=LIVE AND metadata.blessed.number_value=1'
    model_query = ('schema_title="tfx.Model" AND state=LIVE AND '
                   'name="{{$.inputs.artifacts[\'input\'].metadata[\'current_model_id\']}}"')
    models = [Artifact(f"m{i}", MODEL_TYPE, f"/r/m{i}", {}) for i in range(3)]
    history = [models[0], blessing("b0", "m0", True), models[1], blessing("b1", "m1", True),
               models[2], blessing("b2", "m2", False)]
    found = run_compiled.resolve_query(blessing_query, {}, history)
    assert [a.name for a in found] == ["b1"]
    model = run_compiled.resolve_query(model_query, {"input": found}, history)
    assert [a.uri for a in model] == ["/r/m1"]
    # First run: nothing blessed yet, so both resolve to nothing (the Evaluator gets no baseline).
    assert run_compiled.resolve_query(blessing_query, {}, models) == []
    assert run_compiled.resolve_query(model_query, {"input": []}, models) == []
    with pytest.raises(SpecError, match="not supported"):
        run_compiled.resolve_query("create_time=5", {}, history)


def test_earlier_runs_records_are_the_resolver_history(spec_file, tmp_path):
    root = tmp_path / "root"
    first = run_compiled.prepare_run(spec_file, str(root))
    first.results["Trainer"] = run_compiled.StepResult(
        "Trainer", "ran", 1.0, {"model": [Artifact("m-first", MODEL_TYPE, "/r/m-first", {})]})
    first.save()
    second = run_compiled.prepare_run(spec_file, str(root))
    records = run_compiled.load_records(str(root), exclude_run=second.run_id)
    assert [a.name for a in run_compiled.recorded_artifacts(records)] == ["m-first"]


def test_a_step_with_the_same_command_and_inputs_as_an_earlier_one_comes_from_the_cache(tmp_path):
    spec = container("a.b.Executor")["container"]
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    invocation = run_compiled.executor_input(
        {"train_steps": {"intValue": "5"}}, {},
        {"model": [Artifact("m1", MODEL_TYPE, str(model_dir), {})]}, "/x/out.json", "parameters")
    key = run_compiled.cache_key(spec, invocation)
    records = [{"tasks": {"Trainer": {"state": "ran", "cache_key": key, "outputs": {
        "model": [Artifact("m1", MODEL_TYPE, str(model_dir), {}).runtime_artifact()]}}}}]
    assert run_compiled.cached_outputs(records, key)["model"][0].name == "m1"
    invocation["inputs"]["parameters"]["train_steps"] = {"intValue": "6"}
    assert run_compiled.cached_outputs(records, run_compiled.cache_key(spec, invocation)) is None
    model_dir.rmdir()  # outputs deleted since: not served from the cache
    assert run_compiled.cached_outputs(records, key) is None


def test_a_failing_step_stops_the_run_naming_the_step_its_exit_code_and_log_tail(job, tmp_path):
    """The driver of the first container step (TFX's ExampleGen driver, as compiled) fails;
    nothing downstream starts."""
    gen = config_lib.EXAMPLE_GEN
    executor = job["pipelineSpec"]["deploymentSpec"]["executors"][f"{gen}_executor"]["container"]
    assert "preCacheCheck" in executor["lifecycle"]
    executor["lifecycle"]["preCacheCheck"] = {"command": ["python", "-c"],
                                              "args": ["import sys; print('reading the data'); "
                                                       "sys.exit('no CSV under the data root')"]}
    executor["command"] = ["python", "-c", "raise SystemExit(3)"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(job))
    run = run_compiled.prepare_run(str(path), str(tmp_path / "root"))
    started = []
    with pytest.raises(run_compiled.StepFailed) as failed:
        run_compiled.execute(run, on_start=lambda i, n, name: started.append(name))
    assert failed.value.task == gen and failed.value.exit_code == 1
    assert "no CSV under the data root" in failed.value.log_tail
    message = str(failed.value)
    assert message.startswith(f"step {gen} failed with exit code 1; not run: ")
    not_run = message.split("not run: ", 1)[1].split(".")[0].split(", ")
    assert set(not_run) == _downstream(gen, _tasks(job))
    assert started == [gen]  # first in the order (ties by name)
    record = json.loads((tmp_path / "root" / "run-compiled" / run.run_id / "run.json").read_text())
    assert record["state"] == "failed" and record["failure"]["task"] == gen
    assert list(record["tasks"]) == []


def test_options_that_cannot_work_are_refused_before_anything_is_written(spec_file, tmp_path):
    with pytest.raises(SpecError, match="local folder"):
        run_compiled.prepare_run(spec_file, "gs://bucket/root")
    with pytest.raises(SpecError, match="not JSON"):
        (tmp_path / "x.yaml").write_text("a: b")
        run_compiled.prepare_run(str(tmp_path / "x.yaml"), str(tmp_path / "root"))
    with pytest.raises(SpecError, match="cannot read"):
        run_compiled.prepare_run(str(tmp_path / "missing.json"), str(tmp_path / "root"))
    assert not os.path.exists(tmp_path / "root")


def test_image_root_is_where_the_dockerfile_copies_the_project():
    """run-compiled maps, and the compiler writes, the folder that the Dockerfile's `COPY . <dest>`
    fills (relative to the WORKDIR in force there)."""
    import posixpath
    import shlex
    from pipeline.kubeflow import runner as kubeflow_runner
    workdir, project = "/", None
    with open(os.path.join(config_lib.PROJECT_ROOT, "Dockerfile")) as f:
        for line in f:
            words = shlex.split(line.split("#", 1)[0]) if not line.startswith(" ") else []
            if words[:1] == ["WORKDIR"]:
                workdir = posixpath.join(workdir, words[1])
            elif words[:1] == ["COPY"] and words[1:2] == ["."]:
                project = posixpath.normpath(posixpath.join(workdir, words[2]))
    assert project is not None, "the Dockerfile has no `COPY . <dest>`"
    assert run_compiled.IMAGE_PROJECT_ROOT == project
    assert kubeflow_runner.IMAGE_PROJECT_ROOT == project


@pytest.mark.parametrize("bad", ["../evil", "/abs", "a/b", ".."])
def test_task_and_output_names_that_could_be_paths_are_refused(compiled_job, bad):
    job = copy.deepcopy(compiled_job)
    run_compiled.check_supported(job)  # as compiled: accepted
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    tasks[bad] = tasks.pop(config_lib.EXAMPLE_GEN)
    with pytest.raises(SpecError, match="cannot be a folder name"):
        run_compiled.check_supported(job)
    job = copy.deepcopy(compiled_job)
    for component in job["pipelineSpec"]["components"].values():
        outputs = component.get("outputDefinitions", {}).get("artifacts")
        if outputs:
            outputs[bad] = outputs.pop(next(iter(outputs)))
            break
    with pytest.raises(SpecError, match="output name"):
        run_compiled.check_supported(job)


# ---------------------------------------------------------------- the kfp2 backend's rules


def test_a_vertex_form_spec_with_a_resolver_is_refused_by_kfp2_rules_naming_each_rule_and_source(
        resolver_spec_file, tmp_path):
    spec_file = resolver_spec_file
    root = tmp_path / "root"
    with pytest.raises(SpecError) as refused:
        run_compiled.prepare_run(spec_file, str(root), backend=run_compiled.KFP2)
    message = str(refused.value)
    assert "breaks open-source KFP 2.x's rules" in message
    for rule, (_, source) in run_compiled.KFP_RULES.items():
        if rule != "parameter-values":
            assert f"rule {rule}:" in message and source in message, rule
    assert "task Blessing-resolver is a resolver executor" in message
    assert "backend/src/v2/compiler/visitor.go:126-134" in message and run_compiled.KFP_SOURCE in message
    assert "parameter data_root: no parameterType (type: STRING)" in message
    assert "runtimeValue.constantValue" in message
    assert not root.exists()
    # The same spec runs by Vertex's rules (its default), and the kfp2 form cannot be forced on it there.
    assert run_compiled.prepare_run(spec_file, str(root)).backend == run_compiled.VERTEX
    with pytest.raises(SpecError, match="sends parameters only as parameterValues"):
        run_compiled.prepare_run(kfp2_spec_file(tmp_path), str(root), form=run_compiled.LEGACY_FORM)


def kfp2_spec(tmp_path):
    """A bare 2.1.0 PipelineSpec, shaped like `compile --target kfp2`: an importer, then a container
    step (a tiny Python program) that writes the ExecutorInput it gets and its lifecycle hook, if run."""
    show = ("import json, os, sys; invocation = json.loads(sys.argv[1]); "
            "out = os.path.dirname(invocation['outputs']['outputFile']); os.makedirs(out, exist_ok=True); "
            "open(os.path.join(out, sys.argv[2]), 'w').write(json.dumps(invocation))")
    return {
        "pipelineInfo": {"name": "small"}, "schemaVersion": "2.1.0", "defaultPipelineRoot": ROOT,
        "root": {
            "inputDefinitions": {"parameters": {
                "train_steps": {"parameterType": "NUMBER_INTEGER", "defaultValue": 50, "isOptional": True},
                "data_root": {"parameterType": "STRING", "defaultValue": "/app/data/taxi", "isOptional": True}}},
            "dag": {"tasks": {
                "Import": {"componentRef": {"name": "Import"}, "taskInfo": {"name": "Import"},
                           "inputs": {"parameters": {"uri": {"componentInputParameter": "data_root"}}}},
                "Show": {"componentRef": {"name": "Show"}, "taskInfo": {"name": "Show"},
                         "dependentTasks": ["Import"],
                         "inputs": {"artifacts": {"data": {"taskOutputArtifact": {
                                        "producerTask": "Import", "outputArtifactKey": "artifact"}}},
                                    "parameters": {
                                        "train_steps": {"componentInputParameter": "train_steps"},
                                        "label": {"runtimeValue": {"constant": "big_tipper"}}}}}}}},
        "components": {
            "Import": {"executorLabel": "Import_executor",
                       "inputDefinitions": {"parameters": {"uri": {"parameterType": "STRING"}}},
                       "outputDefinitions": {"artifacts": {"artifact": {"artifactType": {"schemaTitle": "system.Dataset"}}}}},
            "Show": {"executorLabel": "Show_executor",
                     "inputDefinitions": {"artifacts": {"data": {"artifactType": {"schemaTitle": "system.Dataset"}}},
                                          "parameters": {"train_steps": {"parameterType": "NUMBER_INTEGER"},
                                                         "label": {"parameterType": "STRING"}}}}},
        "deploymentSpec": {"executors": {
            "Import_executor": {"importer": {"artifactUri": {"runtimeParameter": "uri"},
                                             "typeSchema": {"schemaTitle": "system.Dataset"}}},
            "Show_executor": {"container": {
                "image": "registry.example/keras-tfx:test", "command": ["python", "-c", show],
                "args": ["{{$}}", "executor.json"],
                "lifecycle": {"preCacheCheck": {"command": ["python", "-c", show],
                                                "args": ["{{$}}", "hook.json"]}}}}}},
    }


def kfp2_spec_file(tmp_path):
    path = tmp_path / "kfp2.json"
    path.write_text(json.dumps(kfp2_spec(tmp_path)))
    return str(path)


def test_a_kfp2_spec_runs_by_kfp2_rules_parameter_values_importer_and_no_lifecycle_hook(tmp_path):
    root = tmp_path / "root"
    run = run_compiled.prepare_run(kfp2_spec_file(tmp_path), str(root), params=["train_steps=7"])
    assert run.backend == run_compiled.KFP2 and run.form == run_compiled.VALUES_FORM
    results = run_compiled.execute(run)
    assert {name: r.state for name, r in results.items()} == {"Import": "imported", "Show": "ran"}
    (imported,) = results["Import"].outputs["artifact"]
    assert imported.uri == os.path.join(config_lib.PROJECT_ROOT, "data", "taxi")  # the image's /app, mapped
    show_dir = os.path.join(run.run_dir, "Show")
    with open(os.path.join(show_dir, "executor.json")) as f:
        invocation = json.load(f)
    assert invocation["inputs"]["parameterValues"] == {"train_steps": 7, "label": "big_tipper"}
    assert "parameters" not in invocation["inputs"]
    assert [a["uri"] for a in invocation["inputs"]["artifacts"]["data"]["artifacts"]] == [imported.uri]
    assert not os.path.exists(os.path.join(show_dir, "hook.json"))  # KFP 2.x runs no lifecycle hook
    with open(run.log_path("Show")) as f:
        assert "lifecycle.preCacheCheck not run" in f.read()


@pytest.mark.parametrize("break_it, rule", [
    (lambda s: s["components"]["Show"]["inputDefinitions"]["parameters"]["label"].pop("parameterType"),
     "parameter-type"),
    (lambda s: s["root"]["dag"]["tasks"]["Show"]["inputs"]["parameters"].update(
        label={"runtimeValue": {"constantValue": {"stringValue": "x"}}}), "constant"),
    (lambda s: s["deploymentSpec"]["executors"].update(
        Show_executor={"resolver": {"outputArtifactQueries": {}}}), "container-or-importer"),
    (lambda s: s.update(schemaVersion="2.0.0"), "pipeline-spec"),
])
def test_each_kfp2_rule_alone_refuses_the_spec(tmp_path, break_it, rule):
    spec = kfp2_spec(tmp_path)
    break_it(spec)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(SpecError) as refused:
        run_compiled.prepare_run(str(path), str(tmp_path / "root"))
    assert [line.split(":")[0].strip() for line in str(refused.value).splitlines() if "rule " in line] == [
        f"rule {rule}"]


def _outcome_run(blessing_metadata):
    """A run whose ServingCheck and Pusher steps left these artifacts (as run.json records them)."""
    run = run_compiled.Run(job={}, spec_path="p.json", pipeline_root="/r", params={}, form="parameters",
                           path_map=None)
    artifact = run_compiled.Artifact
    run.results = {
        "ServingCheck": run_compiled.StepResult("ServingCheck", "ran", 1.0, {"blessing": [
            artifact("b", {"schemaTitle": "tfx.InfraBlessing"}, "/r/ServingCheck/blessing", blessing_metadata)]}),
        "Pusher": run_compiled.StepResult("Pusher", "ran", 1.0, {"pushed_model": [
            artifact("p", {"schemaTitle": "tfx.PushedModel"}, "/r/Pusher/pushed_model", {"pushed": 0})]})}
    return run


def test_the_outcome_says_whether_the_serving_check_passed_and_why_not():
    reason = "the model calls tf.py_function (layer 'clean_names'): a SavedModel cannot carry Python code"
    failed = _outcome_run({"blessed": 0, "reason": reason})
    assert run_compiled.outcome(failed)[1:] == [f"serving check: failed: {reason}",
                                                "pushed: nothing (the model failed the serving check)"]
    assert run_compiled.serving_check_failed(failed) == reason
    passed = _outcome_run({"blessed": 1, "reason": "", "load_seconds": 0.52, "warmup_requests": 4,
                           "serving_default_p50_ms_batch_1": 1.0, "serving_default_p99_ms_batch_1": 2.0,
                           "serving_default_p50_ms_batch_100": 3.0, "serving_default_p99_ms_batch_100": 4.5})
    assert run_compiled.outcome(passed)[1] == (
        "serving check: passed: loaded in 0.5 s in a fresh TensorFlow process, 4 warm-up requests answered "
        "through both signatures; p50/p99 1.0/2.0 ms at batch 1, 3.0/4.5 ms at batch 100")
    assert run_compiled.serving_check_failed(passed) is None


def test_the_exit_task_runs_after_a_failure_with_kfps_final_status_and_the_run_parameters(compiled_path, tmp_path):
    """The exit handler's own command, replaced by a tiny program that keeps the ExecutorInput it gets."""
    from components.exit_handler import EXIT_HANDLER
    from pipeline.kubeflow import compiled_exit
    with open(compiled_path) as f:
        job = json.load(f)
    keep = ("import json, os, sys; invocation = json.loads(sys.argv[1]); "
            "open(os.path.join(os.path.dirname(invocation['outputs']['outputFile']), 'got.json'), 'w')"
            ".write(json.dumps(invocation))")
    job["pipelineSpec"]["deploymentSpec"]["executors"][f"{EXIT_HANDLER}_executor"]["container"].update(
        command=["python", "-c", keep], args=["{{$}}"])
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    run = run_compiled.prepare_run(str(path), str(tmp_path / "root"), ["notify_urls=http://127.0.0.1:9/x"])
    assert EXIT_HANDLER not in run.tasks and config_lib.TRAINER in run.tasks  # the sub-DAG's steps, flattened
    failure = RuntimeError("step CsvExampleGen failed with exit code 1; not run: Trainer.")
    result = compiled_exit.run_exit_task(run, failure)
    assert result.state == "ran"
    got = json.loads((tmp_path / "root" / "run-compiled" / run.run_id / EXIT_HANDLER / "got.json").read_text())
    parameters = got["inputs"]["parameters"]  # the vertex form
    status = json.loads(parameters["final_status"]["stringValue"])
    assert status == {"state": "FAILED", "pipelineTaskName": "tfx-dag", "pipelineJobResourceName": run.run_id,
                      "error": {"code": 2, "message": str(failure)}}
    assert parameters["notify_urls"] == {"stringValue": "http://127.0.0.1:9/x"}
    assert parameters["data_root"] == {"stringValue": os.path.join(config_lib.PROJECT_ROOT, "data/taxi")}
    assert parameters["serving_dir"] == {"stringValue": str(tmp_path / "root" / "serving_model")}
    created = parameters["run_created"]["stringValue"]
    assert abs(exit_handler_time(created) - run.started) < 1.5
    record = json.loads((tmp_path / "root" / "run-compiled" / run.run_id / "run.json").read_text())
    assert record["tasks"][EXIT_HANDLER]["state"] == "ran"
    # Without notify_urls it would post nothing: recorded as skipped, not started.
    quiet = run_compiled.prepare_run(str(path), str(tmp_path / "quiet"))
    assert compiled_exit.run_exit_task(quiet, None).state == "skipped"
    assert not (tmp_path / "quiet" / "run-compiled" / quiet.run_id / EXIT_HANDLER).exists()


def exit_handler_time(text):
    from pipeline.kubeflow import exit_handler
    return exit_handler.parse_time(text)
