"""A whole run: a kfp2 spec by KFP 2.x's rules (importer, container, no lifecycle hook), a failing
step that stops the run, and options refused before anything is written."""
from __future__ import annotations

import json
import os

import pytest

from pipeline import config as config_lib
from pipeline.kubeflow import targets
from pipeline.kubeflow.launcher.run import execute, prepare_run
from pipeline.kubeflow.launcher.spec import SpecError
from pipeline.kubeflow.launcher.task_handler import StepFailed
from pipeline.kubeflow.launcher.values import VALUES_FORM
from tests.pipeline.kubeflow.launcher.specs import downstream, kfp2_spec_file, tasks_of


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
    run = prepare_run(str(path), str(tmp_path / "root"))
    started = []
    with pytest.raises(StepFailed) as failed:
        execute(run, on_start=lambda i, n, name: started.append(name))
    assert failed.value.task == gen and failed.value.exit_code == 1
    assert "no CSV under the data root" in failed.value.log_tail
    message = str(failed.value)
    assert message.startswith(f"step {gen} failed with exit code 1; not run: ")
    not_run = message.split("not run: ", 1)[1].split(".")[0].split(", ")
    assert set(not_run) == downstream(gen, tasks_of(job))
    assert started == [gen]  # first in the order (ties by name)
    record = json.loads((tmp_path / "root" / "run-compiled" / run.run_id / "run.json").read_text())
    assert record["state"] == "failed" and record["failure"]["task"] == gen
    assert list(record["tasks"]) == []


def test_options_that_cannot_work_are_refused_before_anything_is_written(spec_file, tmp_path):
    with pytest.raises(SpecError, match="local folder"):
        prepare_run(spec_file, "gs://bucket/root")
    with pytest.raises(SpecError, match="not JSON"):
        (tmp_path / "x.yaml").write_text("a: b")
        prepare_run(str(tmp_path / "x.yaml"), str(tmp_path / "root"))
    with pytest.raises(SpecError, match="cannot read"):
        prepare_run(str(tmp_path / "missing.json"), str(tmp_path / "root"))
    assert not os.path.exists(tmp_path / "root")


def test_a_kfp2_spec_runs_by_kfp2_rules_parameter_values_importer_and_no_lifecycle_hook(tmp_path):
    root = tmp_path / "root"
    run = prepare_run(kfp2_spec_file(tmp_path), str(root), params=["train_steps=7"])
    assert run.backend == targets.KFP2 and run.form == VALUES_FORM
    results = execute(run)
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


def test_each_executor_kind_has_its_handler():
    from pipeline.kubeflow.launcher import run as run_lib
    assert run_lib.handler_for({"resolver": {}}) is run_lib.run_resolver_step
    assert run_lib.handler_for({"importer": {}}) is run_lib.run_importer_step
    assert run_lib.handler_for({"container": {}}) is run_lib.run_container_step
