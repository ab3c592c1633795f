"""Compiling for Kubeflow: offline, no cluster; the compiled specs are checked strictly."""
from __future__ import annotations

import importlib
import json
import os

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline import kubeflow_runner
from pipeline import pipeline as pipeline_lib
from pipeline.config import ConfigError, PipelineConfig

IMAGE = "registry.example/keras-tfx:test"
ROOT = "gs://no-such-bucket/keras-tfx"

# The resolver node compiles to two v2 tasks (model blessing, then model).
LOCAL_DEPENDENCIES = {
    pipeline_lib.EXAMPLE_GEN: set(),
    pipeline_lib.SCHEMA_GEN: set(),
    pipeline_lib.STATISTICS_GEN: {pipeline_lib.EXAMPLE_GEN},
    pipeline_lib.EXAMPLE_VALIDATOR: {pipeline_lib.STATISTICS_GEN, pipeline_lib.SCHEMA_GEN},
    pipeline_lib.TRAINER: {pipeline_lib.EXAMPLE_GEN, pipeline_lib.SCHEMA_GEN, pipeline_lib.EXAMPLE_VALIDATOR},
    pipeline_lib.EVALUATOR: {pipeline_lib.EXAMPLE_GEN, pipeline_lib.TRAINER, pipeline_lib.RESOLVER},
    pipeline_lib.PUSHER: {pipeline_lib.TRAINER, pipeline_lib.EVALUATOR},
}


def _node(task_name: str) -> str:
    return pipeline_lib.RESOLVER if task_name.startswith(pipeline_lib.RESOLVER) else task_name


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
        v2 = kubeflow_runner.compile_pipeline(config, target="kubeflow-v2", output=str(out / "p.json"),
                                              image=IMAGE, pipeline_root=ROOT)
        v1 = kubeflow_runner.compile_pipeline(config, target="kubeflow-v1", output=str(out / "p.yaml"),
                                              image=IMAGE, pipeline_root=ROOT)
    finally:
        os.chdir(cwd)
    return out, v2, v1


def test_compiling_touches_nothing_but_the_output(compiled):
    out, _, _ = compiled
    assert sorted(os.listdir(out)) == ["p.json", "p.yaml"]


def test_v2_spec_parses_strictly_and_matches_the_local_graph(compiled):
    _, v2, _ = compiled
    job = json_format.Parse(open(v2).read(), pipeline_spec_pb2.PipelineJob())  # unknown fields fail
    spec = json_format.ParseDict(json.loads(open(v2).read())["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    tasks = spec.root.dag.tasks
    dependencies = {}
    for name, task in tasks.items():
        dependencies.setdefault(_node(name), set()).update(_node(t) for t in task.dependent_tasks)
    assert set(dependencies) == set(pipeline_lib.COMPONENT_IDS)
    for node, upstream in LOCAL_DEPENDENCIES.items():
        assert dependencies[node] == upstream, node
    assert job.pipeline_spec  # the job wraps the same spec
    assert job.runtime_config.gcs_output_directory == ROOT


def test_v2_every_container_step_uses_the_image_and_importable_code(compiled):
    _, v2, _ = compiled
    executors = json.loads(open(v2).read())["pipelineSpec"]["deploymentSpec"]["executors"]
    containers = [e["container"] for e in executors.values() if "container" in e]
    assert len(containers) == 7  # every component but the resolver, which KFP answers itself
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


def test_v2_run_parameters_are_declared_with_defaults(compiled):
    _, v2, _ = compiled
    job = json.loads(open(v2).read())
    declared = job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    assert {k: v["type"] for k, v in declared.items()} == {
        "data_root": "STRING", "train_steps": "INT", "eval_steps": "INT", "min_accuracy": "DOUBLE"}
    assert job["runtimeConfig"]["parameters"] == {
        "data_root": {"stringValue": "/app/data/taxi"}, "train_steps": {"intValue": "321"},
        "eval_steps": {"intValue": "4"}, "min_accuracy": {"doubleValue": 0.7}}
    trainer = job["pipelineSpec"]["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    assert trainer["train_steps"] == {"componentInputParameter": "train_steps"}
    evaluator = job["pipelineSpec"]["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["parameters"]
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
    with pytest.raises(ConfigError, match="--image"):
        kubeflow_runner.compile_pipeline(PipelineConfig(), target="kubeflow-v2",
                                         output=str(tmp_path / "p.json"), image="", pipeline_root=ROOT)
    with pytest.raises(ConfigError, match="outside the project"):
        kubeflow_runner.path_in_image("/etc/passwd")
    with pytest.raises(ConfigError, match="ends in .yaml"):
        kubeflow_runner.compile_pipeline(PipelineConfig(), target="kubeflow-v1",
                                         output=str(tmp_path / "p.json"), image=IMAGE, pipeline_root=ROOT)
    assert not os.path.exists(tmp_path / "p.json")
