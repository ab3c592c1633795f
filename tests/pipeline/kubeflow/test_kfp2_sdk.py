"""The KFP 2.x SDK reads the kfp2 spec: it loads as a component and compiles as a sub-pipeline.

The SDK cannot share a venv with kfp 1.8, so it runs in `.venv-kfp2`, built here from
tests/kfp2_sdk/requirements.lock (no resolution at install time) when missing or stale.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline import config as config_lib
from pipeline.kubeflow import runner as kubeflow_runner
from pipeline.config import PipelineConfig

pytestmark = pytest.mark.e2e  # builds .venv-kfp2 (an environment) when it is missing or stale

LOCK = os.path.join(config_lib.PROJECT_ROOT, "tests", "kfp2_sdk", "requirements.lock")
CHECK = os.path.join(config_lib.PROJECT_ROOT, "tests", "kfp2_sdk", "check_spec.py")
VENV = os.path.join(config_lib.PROJECT_ROOT, ".venv-kfp2")


@pytest.fixture(scope="module")
def kfp2_python():
    python = os.path.join(VENV, "bin", "python")
    stamp = os.path.join(VENV, ".installed-lock")
    with open(LOCK) as f:
        lock = f.read()
    if not (os.path.isfile(stamp) and open(stamp).read() == lock):
        uv = [sys.executable, "-m", "uv"]
        subprocess.run(uv + ["venv", "--quiet", "--clear", "--python", sys.executable, VENV], check=True)
        subprocess.run(uv + ["pip", "install", "--quiet", "--python", python, "--no-deps", "-r", LOCK], check=True)
        with open(stamp, "w") as f:
            f.write(lock)
    return python


def check(python: str, spec: str, tmp_path) -> dict:
    result = subprocess.run([python, CHECK, spec, str(tmp_path / "outer.yaml")], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    out = tmp_path_factory.mktemp("specs")
    config = PipelineConfig(train_steps=300)
    kfp2 = kubeflow_runner.compile_pipeline(config, target="kfp2", output=str(out / "kfp2.json"),
                                            image="registry.example/k:1", pipeline_root="minio://b/r")
    vertex = kubeflow_runner.compile_pipeline(config, target="vertex", output=str(out / "vertex.json"),
                                              image="registry.example/k:1", pipeline_root="gs://b/r")
    with open(vertex) as f:
        vertex_spec = json.load(f)["pipelineSpec"]
    (out / "vertex-spec.json").write_text(json.dumps(vertex_spec))
    return kfp2, str(out / "vertex-spec.json")


def test_the_kfp2_spec_loads_in_the_kfp2_sdk_and_compiles_as_a_sub_pipeline(kfp2_python, specs, tmp_path):
    result = check(kfp2_python, specs[0], tmp_path)
    assert int(result["kfp"].split(".")[0]) == 2 and "load_error" not in result, result
    assert result["inputs"] == {"data_root": "String", "train_steps": "Integer", "eval_steps": "Integer",
                                "min_accuracy": "Float", "accept_drift": "Integer", "notify_urls": "String"}
    assert result["compiled_tasks"] == ["keras-tfx"]
    assert set(config_lib.COMPONENT_IDS) <= set(result["compiled_components"])


def test_the_untyped_vertex_spec_does_not_load_there(kfp2_python, specs, tmp_path):
    """The control: the schema 2.0.0 form (no parameterType) is what KFP 2's SDK cannot read."""
    result = check(kfp2_python, specs[1], tmp_path)
    assert result.get("load_error") == "KeyError: 'artifactType'", result
