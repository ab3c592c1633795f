"""The image, really built (`make image`) and really run: the kfp2 spec's every step inside it.

Builds with docker where an engine runs, else podman on a local Debian base (tools/build_image.sh);
runs with `run-compiled --image` (docker run, podman run, or podman mount + chroot). Skipped where
no engine can build (no docker, no podman or not root), except under CI (CI set), where it fails.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from components.exit_handler import EXIT_HANDLER
from pipeline import config as config_lib
from pipeline.kubeflow import runner as kubeflow_runner, run_compiled

pytestmark = pytest.mark.e2e

IMAGE = "keras-tfx:e2e"
TRAIN_STEPS = 60
# A build from nothing took 3.4 min here with a warm uv cache (BENCHMARKS.md); a cold package
# cache and a loaded machine take several times that. Bounded well above.
BUILD_TIMEOUT_S = 2400


def _can_build() -> bool:
    docker = shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    return bool(docker or (shutil.which("podman") and os.geteuid() == 0))


@pytest.fixture(scope="module")
def built_image():
    if not _can_build():
        if os.environ.get("CI"):
            pytest.fail("CI: no docker engine and no podman as root, so the image cannot be built "
                        "(.ci/run installs podman and debootstrap as root)")
        pytest.skip("no docker engine and no podman as root here: the image cannot be built")
    # --no-print-directory: under `make test` this make is nested and would add "Leaving directory".
    result = subprocess.run(["make", "--no-print-directory", "image", f"IMAGE={IMAGE}"],
                            cwd=config_lib.PROJECT_ROOT, capture_output=True, text=True, check=False,
                            timeout=BUILD_TIMEOUT_S)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert result.stdout.strip().splitlines()[-1].startswith(f"built image {IMAGE} "), result.stdout[-2000:]
    return IMAGE


@pytest.mark.timeout(BUILD_TIMEOUT_S + 1200)  # the build (fixture) and the run
def test_the_kfp2_spec_runs_every_step_inside_the_built_image(built_image, small_taxi_dir, tmp_path):
    root = tmp_path / "root"
    # The data goes under the pipeline root, the one host folder the steps see; the schema is the
    # image's own copy (/app/schemas/...), as compiled by default.
    shutil.copytree(small_taxi_dir, root / "data")
    spec = kubeflow_runner.compile_pipeline(
        config_lib.PipelineConfig(train_steps=TRAIN_STEPS, min_accuracy=0.0, min_auc=0.0), target="kfp2",
        output=str(tmp_path / "p.json"),
        image=built_image, pipeline_root="gs://no-such-bucket/keras-tfx")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run-compiled", spec, "--pipeline-root", str(root),
         "--image", built_image, "--param", f"data_root={root / 'data'}"],
        capture_output=True, text=True, cwd=config_lib.PROJECT_ROOT, check=False, timeout=1200)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert f"in image {built_image}" in result.stdout
    (record,) = run_compiled.load_records(str(root))
    assert record["state"] == "succeeded" and record["backend"] == "kfp2" and record["image"]
    assert set(record["tasks"]) == set(config_lib.COMPONENT_IDS) | {EXIT_HANDLER}  # the exit handler ran last
    assert {record["tasks"][task]["state"] for task in config_lib.COMPONENT_IDS} == {"ran"}
    assert record["tasks"][EXIT_HANDLER]["state"] == "skipped"  # no notify_urls: nothing to post
    pushed = record["tasks"][config_lib.PUSHER]["outputs"]["pushed_model"][0]["metadata"]
    assert pushed["pushed"] == 1 and os.path.isfile(os.path.join(pushed["pushed_destination"], "saved_model.pb"))
    # Each step ran the image's Python and the image's copy of the project, not this checkout.
    for task in config_lib.COMPONENT_IDS:
        with open(record["tasks"][task]["log"]) as f:
            log = f.read()
        assert any(line.startswith(f"=== executor in image {built_image} ") for line in log.splitlines()), task
        assert config_lib.PROJECT_ROOT not in log or config_lib.PROJECT_ROOT == "/app", task
    with open(record["tasks"][config_lib.TRAINER]["log"]) as f:
        assert "/opt/venv/lib/python3.11/site-packages/" in f.read()
    # The serving check loaded the model inside the image too, in a fresh process of the image's
    # Python that imported TensorFlow only, and blessed it.
    check = record["tasks"][config_lib.SERVING_CHECK]["outputs"]["blessing"][0]
    assert check["metadata"]["blessed"] == 1 and check["metadata"]["load_seconds"] > 0
    assert any(line.startswith("serving check: passed: ") for line in result.stdout.splitlines()), result.stdout
    with open(os.path.join(check["uri"], "serving_check.json")) as f:
        checked = json.load(f)
    assert checked["modules_of_the_project"] == [] and "/opt/venv/lib/python3.11/site-packages" in checked["sys_path"]
