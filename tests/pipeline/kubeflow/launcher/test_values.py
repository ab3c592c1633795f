"""Run parameters, each task's parameters, and the paths in them mapped to this machine."""
from __future__ import annotations

import json
import os

import pytest

from pipeline import config as config_lib
from pipeline.kubeflow.launcher import values
from pipeline.kubeflow.launcher.run import prepare_run
from pipeline.kubeflow.launcher.spec import SpecError


def test_run_parameters_take_compiled_defaults_then_typed_overrides(job):
    params = values.run_parameters(job, ["train_steps=7", "min_accuracy=1", "data_root=2024"])
    assert params == {"data_root": "2024", "train_steps": 7, "min_accuracy": 1.0, "eval_steps": 0,
                      "accept_drift": 0, "notify_urls": ""}
    assert isinstance(params["min_accuracy"], float)
    with pytest.raises(SpecError, match=r"^--param train_steps=many: train_steps is an integer parameter; "
                                        r"give a whole number, e\.g\. --param train_steps=50$"):
        values.run_parameters(job, ["train_steps=many"])
    with pytest.raises(SpecError, match="--param train_steps=5e2: train_steps is an integer parameter"):
        values.run_parameters(job, ["train_steps=5e2"])
    with pytest.raises(SpecError, match="--param min_accuracy=NaN: min_accuracy is a float parameter"):
        values.run_parameters(job, ["min_accuracy=NaN"])
    with pytest.raises(SpecError, match=r"--param learning_rate=1: learning_rate is not a parameter of this "
                                        r"pipeline; known: accept_drift, data_root, eval_steps, min_accuracy, "
                                        r"notify_urls, train_steps"):
        values.run_parameters(job, ["learning_rate=1"])
    with pytest.raises(SpecError, match="--param train_steps: expected NAME=VALUE"):
        values.run_parameters(job, ["train_steps"])
    with pytest.raises(SpecError, match=r"--param train_steps=8: train_steps is given twice \(first as train_steps=7\)"):
        values.run_parameters(job, ["train_steps=7", "train_steps=8"])


def test_a_parameter_type_run_compiled_cannot_pass_is_refused_when_overridden(job):
    job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]["flags"] = {"parameterType": "LIST",
                                                                             "defaultValue": []}
    assert values.run_parameters(job, [])["flags"] == []
    with pytest.raises(SpecError, match=r"--param flags=\[1\]: flags is a LIST parameter, which run-compiled "
                                        "does not support"):
        values.run_parameters(job, ["flags=[1]"])


def test_image_paths_and_the_compiled_root_become_local(spec_file, tmp_path):
    run = prepare_run(spec_file, str(tmp_path / "root"))
    assert run.params["data_root"] == os.path.join(config_lib.PROJECT_ROOT, "data/taxi")
    task = run.tasks[config_lib.PUSHER]
    parameters = values.task_parameters(task, run.component(config_lib.PUSHER), run.params, "parameters",
                                        run.path_map)
    assert json.loads(parameters["push_destination"]["stringValue"]) == {
        "filesystem": {"base_directory": str(tmp_path / "root" / "serving_model")}}
    # Only whole path prefixes: /application is not /app.
    assert run.path_map("/application/x") == "/application/x"
    assert not os.path.exists(tmp_path / "root")  # preparing writes nothing


def test_image_root_is_where_the_dockerfile_copies_the_project():
    """run-compiled maps, and the compiler writes, the folder that the Dockerfile's `COPY . <dest>`
    fills (relative to the WORKDIR in force there)."""
    import posixpath
    import shlex
    from pipeline.kubeflow import targets
    workdir, project = "/", None
    with open(os.path.join(config_lib.PROJECT_ROOT, "Dockerfile")) as f:
        for line in f:
            words = shlex.split(line.split("#", 1)[0]) if not line.startswith(" ") else []
            if words[:1] == ["WORKDIR"]:
                workdir = posixpath.join(workdir, words[1])
            elif words[:1] == ["COPY"] and words[1:2] == ["."]:
                project = posixpath.normpath(posixpath.join(workdir, words[2]))
    assert project is not None, "the Dockerfile has no `COPY . <dest>`"
    assert targets.IMAGE_PROJECT_ROOT == project
