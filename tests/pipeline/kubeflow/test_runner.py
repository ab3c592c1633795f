"""Compiling for Kubeflow: offline, no cluster; the compiled specs are checked strictly."""
from __future__ import annotations

import importlib
import json
import os

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from components.exit_handler import EXIT_HANDLER, TFX_DAG
from pipeline.kubeflow import compiled_exit, runner as kubeflow_runner
from pipeline.kubeflow.launcher.spec import kfp2_violations
from pipeline import pipeline as pipeline_lib
from pipeline.config import ConfigError, PipelineConfig

IMAGE = "registry.example/keras-tfx:test"
ROOT = "gs://no-such-bucket/keras-tfx"

LOCAL_DEPENDENCIES = {
    pipeline_lib.EXAMPLE_GEN: set(),
    pipeline_lib.SCHEMA_GEN: set(),
    pipeline_lib.STATISTICS_GEN: {pipeline_lib.EXAMPLE_GEN},
    pipeline_lib.EXAMPLE_VALIDATOR: {pipeline_lib.STATISTICS_GEN, pipeline_lib.SCHEMA_GEN},
    pipeline_lib.DRIFT_GUARD: {pipeline_lib.STATISTICS_GEN, pipeline_lib.SCHEMA_GEN, pipeline_lib.LATEST_PUSHED_MODEL},
    pipeline_lib.TRAINER: {pipeline_lib.EXAMPLE_GEN, pipeline_lib.SCHEMA_GEN, pipeline_lib.EXAMPLE_VALIDATOR,
                           pipeline_lib.DRIFT_GUARD},
    pipeline_lib.EVALUATOR: {pipeline_lib.EXAMPLE_GEN, pipeline_lib.TRAINER, pipeline_lib.LATEST_PUSHED_MODEL},
    pipeline_lib.SERVING_CHECK: {pipeline_lib.TRAINER, pipeline_lib.EVALUATOR},
    pipeline_lib.PUSHER: {pipeline_lib.TRAINER, pipeline_lib.EVALUATOR, pipeline_lib.SERVING_CHECK,
                          pipeline_lib.STATISTICS_GEN},
}


def _module_importable(command):
    assert command[:2] == ["python", "-m"], command
    importlib.import_module(command[2])


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp")
    cwd = os.getcwd()
    os.chdir(out)  # a compiler that wrote under the root would leave gs:/ here
    try:
        config = PipelineConfig(train_steps=321, eval_steps=4, min_accuracy=0.7)
        specs = {target: kubeflow_runner.compile_pipeline(config, target=target, output=str(out / name),
                                                          image=IMAGE, pipeline_root=ROOT)
                 for target, name in (("kfp2", "kfp2.json"), ("vertex", "vertex.json"),
                                      ("kubeflow-v1", "p.yaml"))}
    finally:
        os.chdir(cwd)
    return out, specs, specs["kubeflow-v1"]


IR_TARGETS = ["kfp2", "vertex"]


def test_compiling_touches_nothing_but_the_output(compiled):
    out, _, _ = compiled
    assert sorted(os.listdir(out)) == ["kfp2.json", "p.yaml", "vertex.json"]


def _pipeline_spec(specs, target):
    """The PipelineSpec dict: kfp2 writes it bare (as KFP's API server reads it), vertex in a PipelineJob."""
    document = json.loads(open(specs[target]).read())
    return document if target == "kfp2" else document["pipelineSpec"]


@pytest.mark.parametrize("target", IR_TARGETS)
def test_ir_spec_parses_strictly_and_matches_the_local_graph(compiled, target):
    _, specs, _ = compiled
    text = open(specs[target]).read()
    if target == "vertex":
        job = json_format.Parse(text, pipeline_spec_pb2.PipelineJob())  # unknown fields fail
        assert job.runtime_config.gcs_output_directory == ROOT
        spec = job.pipeline_spec
    else:
        spec = json_format.Parse(text, pipeline_spec_pb2.PipelineSpec())  # a bare spec, strictly
        assert spec.default_pipeline_root == ROOT
    spec = json_format.ParseDict(_pipeline_spec(specs, target), pipeline_spec_pb2.PipelineSpec())
    assert spec.schema_version == {"kfp2": "2.1.0", "vertex": "2.0.0"}[target]
    tasks = spec.components[TFX_DAG].dag.tasks  # the pipeline's tasks, beside the exit handler
    dependencies = {name: set(task.dependent_tasks) for name, task in tasks.items()}
    assert set(dependencies) == set(pipeline_lib.COMPONENT_IDS)  # one task per node: no resolver tasks
    for node, upstream in LOCAL_DEPENDENCIES.items():
        assert dependencies[node] == upstream, node
    # The baseline task has no inputs, so it must never come from a cache; every other task may.
    for name, task in tasks.items():
        assert task.caching_options.enable_cache == (name != pipeline_lib.LATEST_PUSHED_MODEL), name


@pytest.mark.parametrize("target", IR_TARGETS)
def test_ir_every_task_is_a_container_using_the_image_and_importable_code(compiled, target):
    _, specs, _ = compiled
    executors = _pipeline_spec(specs, target)["deploymentSpec"]["executors"]
    assert all(set(e) == {"container"} for e in executors.values())  # no resolver, no importer
    containers = [e["container"] for e in executors.values()]
    assert len(containers) == len(pipeline_lib.COMPONENT_IDS) + 1  # the steps and the exit handler
    for container in containers:
        assert container["image"] == IMAGE
        _module_importable(container["command"])
        args = container["args"]
        class_path = args[args.index("--executor_class_path") + 1]
        module, _, name = class_path.rpartition(".")
        assert hasattr(importlib.import_module(module), name), class_path
        lifecycle = container.get("lifecycle", {}).get("preCacheCheck")
        if lifecycle:
            _module_importable(lifecycle["command"])


def test_kfp2_spec_has_typed_parameters_and_parameter_values_only(compiled):
    """What open-source KFP 2.x's driver needs (see README: parameterType, parameterValues, constant)."""
    _, specs, _ = compiled
    spec = _pipeline_spec(specs, "kfp2")
    assert spec["schemaVersion"] == "2.1.0" and "runtimeConfig" not in spec
    declared = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: (v["parameterType"], v["defaultValue"], v["isOptional"]) for k, v in declared.items()} == {
        "data_root": ("STRING", "/app/data/taxi", True), "train_steps": ("NUMBER_INTEGER", 321, True),
        "eval_steps": ("NUMBER_INTEGER", 4, True), "min_accuracy": ("NUMBER_DOUBLE", 0.7, True),
        "accept_drift": ("NUMBER_INTEGER", 0, True), "notify_urls": ("STRING", "", True)}
    assert isinstance(declared["train_steps"]["defaultValue"], int)
    for name, component in spec["components"].items():
        for pname, definition in component.get("inputDefinitions", {}).get("parameters", {}).items():
            assert "parameterType" in definition and "type" not in definition, (name, pname)
    for name, task in {**spec["root"]["dag"]["tasks"], **compiled_exit.pipeline_tasks(spec)}.items():
        for pname, value in task.get("inputs", {}).get("parameters", {}).items():
            assert "constantValue" not in value.get("runtimeValue", {}), (name, pname)
    for executor in spec["deploymentSpec"]["executors"].values():
        assert "--json_serialized_inputs_spec_args" in executor["container"]["args"]
    trainer = compiled_exit.pipeline_tasks(spec)["Trainer"]["inputs"]["parameters"]
    assert trainer["train_steps"] == {"componentInputParameter": "train_steps"}
    assert kfp2_violations({"pipelineSpec": spec, "bare": True}) == []
    tasks = compiled_exit.pipeline_tasks(spec)
    guard = tasks["DriftGuard"]
    assert guard["inputs"]["parameters"]["accept_drift"] == {"componentInputParameter": "accept_drift"}
    assert "DriftGuard" in tasks["Trainer"]["dependentTasks"]


def test_vertex_spec_builds_a_vertex_pipeline_job_with_typed_run_parameters(compiled):
    """Vertex AI's own SDK reads the spec offline (anonymous credentials, nothing sent)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform
    _, specs, _ = compiled
    job = aiplatform.PipelineJob(display_name="keras-tfx", template_path=specs["vertex"], project="p",
                                 location="us-central1", credentials=AnonymousCredentials(),
                                 parameter_values={"train_steps": 5})
    parameters = job._gca_resource.runtime_config.parameters  # what Vertex would be sent
    assert {k: type(v).to_dict(v) for k, v in parameters.items()} == {
        "data_root": {"string_value": "/app/data/taxi"}, "train_steps": {"int_value": "5"},
        "eval_steps": {"int_value": "4"}, "min_accuracy": {"double_value": 0.7},
        "accept_drift": {"int_value": "0"}, "notify_urls": {"string_value": ""}}


def test_vertex_run_parameters_are_declared_with_defaults(compiled):
    _, specs, _ = compiled
    job = json.loads(open(specs["vertex"]).read())
    declared = job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    assert {k: v["type"] for k, v in declared.items()} == {
        "data_root": "STRING", "train_steps": "INT", "eval_steps": "INT", "min_accuracy": "DOUBLE",
        "accept_drift": "INT", "notify_urls": "STRING"}
    assert job["runtimeConfig"]["parameters"] == {
        "data_root": {"stringValue": "/app/data/taxi"}, "train_steps": {"intValue": "321"},
        "eval_steps": {"intValue": "4"}, "min_accuracy": {"doubleValue": 0.7},
        "accept_drift": {"intValue": "0"}, "notify_urls": {"stringValue": ""}}
    trainer = compiled_exit.pipeline_tasks(job["pipelineSpec"])["Trainer"]["inputs"]["parameters"]
    assert trainer["train_steps"] == {"componentInputParameter": "train_steps"}
    evaluator = compiled_exit.pipeline_tasks(job["pipelineSpec"])["Evaluator"]["inputs"]["parameters"]
    assert evaluator["min_accuracy"] == {"componentInputParameter": "min_accuracy"}


def test_v1_workflow_matches_the_local_graph_and_image(compiled):
    _, _, v1 = compiled
    workflow = yaml.safe_load(open(v1))
    assert workflow["apiVersion"] == "argoproj.io/v1alpha1" and workflow["kind"] == "Workflow"
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    dag = templates[workflow["spec"]["entrypoint"]]["dag"]["tasks"]
    by_name = {t["name"]: t for t in dag}
    names = {name.lower(): name for name in pipeline_lib.COMPONENT_IDS}
    assert set(by_name) == set(names)
    # The baseline step is never served from a cache: not KFP 1.8's, not TFX's own inside the step.
    baseline = templates[pipeline_lib.LATEST_PUSHED_MODEL.lower()]
    assert baseline["metadata"]["annotations"]["pipelines.kubeflow.org/max_cache_staleness"] == "P0D"
    args = baseline["container"]["args"]
    node_ir = json.loads(args[args.index("--tfx_ir") + 1])["nodes"][0]["pipelineNode"]
    assert not node_ir["executionOptions"]["cachingOptions"].get("enableCache")
    for task_name, task in by_name.items():
        upstream = {names[d] for d in task.get("dependencies", [])}
        node = names[task_name]
        expected = LOCAL_DEPENDENCIES.get(node, set())
        assert upstream == expected, node
        container = templates[task["template"]]["container"]
        assert container["image"] == IMAGE
        _module_importable(container["command"])
    arguments = {p["name"]: p.get("value") for p in workflow["spec"]["arguments"]["parameters"]}
    assert {"data_root", "train_steps", "eval_steps", "min_accuracy", "pipeline-root"} <= set(arguments)
    assert arguments["train_steps"] == "321" and arguments["pipeline-root"] == ROOT


def test_bad_compile_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="kubeflow-v2 is gone.*--target kfp2 .*--target vertex"):
        kubeflow_runner.compile_pipeline(PipelineConfig(), target="kubeflow-v2", output=str(tmp_path / "p.json"),
                                         image=IMAGE, pipeline_root=ROOT)
    with pytest.raises(ConfigError, match="JSON file"):
        kubeflow_runner.compile_pipeline(PipelineConfig(), target="kfp2", output=str(tmp_path / "p.yaml"),
                                         image=IMAGE, pipeline_root=ROOT)
    with pytest.raises(ConfigError, match="--image"):
        kubeflow_runner.compile_pipeline(PipelineConfig(), target="kfp2",
                                         output=str(tmp_path / "p.json"), image="", pipeline_root=ROOT)
    with pytest.raises(ConfigError, match="outside the project"):
        kubeflow_runner.path_in_image("/etc/passwd")
    with pytest.raises(ConfigError, match="ends in .yaml"):
        kubeflow_runner.compile_pipeline(PipelineConfig(), target="kubeflow-v1",
                                         output=str(tmp_path / "p.json"), image=IMAGE, pipeline_root=ROOT)
    assert not os.path.exists(tmp_path / "p.json")


@pytest.mark.parametrize("target", IR_TARGETS)
def test_ir_exit_handler_runs_after_the_pipeline_whatever_its_outcome_with_its_final_status(compiled, target):
    """As KFP expects an exit task (kubeflow/pipelines@7b70c7b backend/src/v2/compiler/argocompiler/dag.go:62-107,
    driver/resolve.go:458-493): at the root beside the sub-DAG it guards, trigger policy
    ALL_UPSTREAM_TASKS_COMPLETED, a taskFinalStatus input naming that sub-DAG."""
    _, specs, _ = compiled
    spec = _pipeline_spec(specs, target)
    root_tasks = spec["root"]["dag"]["tasks"]
    assert set(root_tasks) == {TFX_DAG, EXIT_HANDLER}
    exit_task = root_tasks[EXIT_HANDLER]
    assert exit_task["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
    assert exit_task["dependentTasks"] == [TFX_DAG] and "cachingOptions" not in exit_task
    parameters = exit_task["inputs"]["parameters"]
    assert parameters["final_status"] == {"taskFinalStatus": {"producerTask": TFX_DAG}}
    assert parameters["notify_urls"] == {"componentInputParameter": "notify_urls"}
    assert parameters["data_root"] == {"componentInputParameter": "data_root"}
    constant = parameters["run_created"]["runtimeValue"]
    assert (constant.get("constant") or constant.get("constantValue", {}).get("stringValue")) == \
        "{{$.pipeline_job_create_time_utc}}"
    # The sub-DAG declares the run parameters its tasks read, and the root passes them on
    # (KFP's driver reads a componentInputParameter from the enclosing DAG: resolve.go:396).
    sub_dag = spec["components"][TFX_DAG]
    used = {v["componentInputParameter"] for t in sub_dag["dag"]["tasks"].values()
            for v in t.get("inputs", {}).get("parameters", {}).values() if "componentInputParameter" in v}
    assert used == {"data_root", "train_steps", "eval_steps", "min_accuracy", "accept_drift"}
    assert set(sub_dag["inputDefinitions"]["parameters"]) == used
    assert root_tasks[TFX_DAG]["inputs"]["parameters"] == {n: {"componentInputParameter": n} for n in used}
    executor = spec["deploymentSpec"]["executors"][spec["components"][EXIT_HANDLER]["executorLabel"]]
    args = executor["container"]["args"]
    class_path = args[args.index("--executor_class_path") + 1]
    assert class_path == "components.exit_handler.component.NotifyOnExit_Executor"
    module, _, name = class_path.rpartition(".")
    assert hasattr(importlib.import_module(module), name)
    assert executor["container"]["image"] == IMAGE


def test_v1_workflow_posts_the_outcome_on_exit(compiled):
    _, _, v1 = compiled
    workflow = yaml.safe_load(open(v1))
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    on_exit = templates[workflow["spec"]["onExit"]]
    container = on_exit["container"]
    assert container["image"] == IMAGE
    _module_importable(container["command"])
    args = dict(zip(container["args"][::2], container["args"][1::2]))
    assert args["--status"] == "{{workflow.status}}" and args["--failures"] == "{{workflow.failures}}"
    assert args["--notify-urls"] == "{{workflow.parameters.notify_urls}}"
    assert args["--serving-dir"] == ROOT + "/serving_model"
    arguments = {p["name"]: p.get("value") for p in workflow["spec"]["arguments"]["parameters"]}
    assert arguments["notify_urls"] == ""
    # The exit step is not part of the DAG: Argo runs it after the DAG, whatever its outcome.
    dag = templates[workflow["spec"]["entrypoint"]]["dag"]["tasks"]
    assert on_exit["name"] not in {t["template"] for t in dag}
