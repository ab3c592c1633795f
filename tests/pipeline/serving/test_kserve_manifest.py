"""The README's KServe InferenceService (pipeline/serving/kserve/inferenceservice.yaml, included in
the README verbatim) reads into KServe's own Python models, in the serving environment."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from pipeline import config as config_lib

pytestmark = pytest.mark.e2e

MANIFEST = os.path.join(config_lib.PROJECT_ROOT, "pipeline", "serving", "kserve", "inferenceservice.yaml")
CHECK = os.path.join(os.path.dirname(__file__), "check_inferenceservice.py")


def check(python: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, CHECK, path], capture_output=True, text=True, timeout=120, check=False)


def test_the_readme_shows_the_manifest_verbatim():
    with open(MANIFEST) as f:
        manifest = f.read()
    with open(os.path.join(config_lib.PROJECT_ROOT, "README.md")) as f:
        assert "```yaml\n" + manifest + "```" in f.read()


def test_the_manifest_is_a_kserve_inferenceservice_for_the_tf_serving_runtime(serving_python):
    completed = check(serving_python, MANIFEST)
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    # Only the container name, which KServe's model fills with its default "", is added on the way back.
    assert found["round_trip_differences"] == ["spec.predictor.model.name: added as ''"]
    assert (found["api_version"], found["kind"]) == (
        f"{found['constants']['group']}/{found['constants']['version']}", found["constants"]["kind"])
    assert found["model_format"] == "tensorflow" and found["protocol"] == "v1"
    assert found["name"] == config_lib.PIPELINE_NAME  # so /v1/models/keras-tfx is the same path as `serve`'s
    assert found["storage_uri"].endswith("/serving_model")  # the Pusher's folder of version folders


def test_a_field_kserve_does_not_know_is_refused(serving_python, tmp_path):
    with open(MANIFEST) as f:
        bad = f.read().replace("storageUri:", "storageURI:")
    (tmp_path / "bad.yaml").write_text(bad)
    completed = check(serving_python, str(tmp_path / "bad.yaml"))
    assert completed.returncode != 0 and "has no field ['storageURI']" in completed.stderr
