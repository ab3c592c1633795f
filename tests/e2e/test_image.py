"""The image, really built (`make image`) and really run: a user's model compiled for Vertex, every
step inside the image. (tests/e2e/test_run_compiled.py runs the kfp2 spec without an image.)

Builds with docker where an engine runs, else podman on a local Debian base (tools/build_image.sh);
runs with `run-compiled --image` (docker run, podman run, or podman mount + chroot). Skipped where
no engine can build (no docker, no podman or not root), except under CI (CI set), where it fails.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from components.exit_handler import EXIT_HANDLER
from pipeline import config as config_lib
from pipeline.__main__ import cli
from pipeline.kubeflow.launcher import records as run_records
from tests.conftest import write_csv

# The image build (about 3 min in a fresh clone: debootstrap, then the lock from the uv cache that
# `make venv` filled) and the run (about 4 min).
pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(300)]

SENTIMENT_CSV = os.path.join(config_lib.PROJECT_ROOT, "data", "sentiment", "data.csv")

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


def _sentiment_sample(folder) -> str:
    """Every 8th row of the bundled sentiment data (about 2,900 sentences)."""
    with open(SENTIMENT_CSV, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, [r for i, r in enumerate(reader) if i % 8 == 0]
    return write_csv(os.path.join(folder, "data.csv"), columns, rows)


@pytest.mark.timeout(BUILD_TIMEOUT_S + 1200)  # the build (fixture) and the run
def test_a_users_text_model_compiled_for_vertex_runs_every_step_inside_the_built_image(built_image, tmp_path):
    """The production path in one run: `compile --model` names the user's module inside the image
    (examples/text_classifier.py, a TextVectorization + Embedding + LSTM prototype), and every step,
    Vertex's ExampleGen driver included, runs inside the built image on text data."""
    root = tmp_path / "root"
    # The data goes under the pipeline root, the one host folder the steps see; the schema is the
    # image's own copy (/app/schemas/...), as compiled by default.
    _sentiment_sample(str(root / "data"))
    spec = tmp_path / "byo-vertex.json"
    compiled = CliRunner().invoke(cli, [
        "compile", "--target", "vertex", "--output", str(spec), "--image", built_image,
        "--pipeline-root", "gs://no-such-bucket/keras-tfx",
        "--schema", os.path.join(config_lib.PROJECT_ROOT, "schemas", "sentiment", "schema.pbtxt"),
        "--label", "label", "--train-steps", str(TRAIN_STEPS), "--min-accuracy", "0", "--min-auc", "0",
        "--model", "examples.text_classifier:build_model", "--input-map", "input_1=text"],
        catch_exceptions=False)
    assert compiled.exit_code == 0, compiled.output
    text = spec.read_text()
    assert '\\"module\\": \\"examples.text_classifier\\"' in text and '\\"search_path\\": \\"/app\\"' in text
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run-compiled", str(spec), "--pipeline-root", str(root),
         "--image", built_image, "--param", f"data_root={root / 'data'}"],
        capture_output=True, text=True, cwd=config_lib.PROJECT_ROOT, check=False, timeout=1200)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert f"in image {built_image}" in result.stdout and "by vertex's rules" in result.stdout
    (record,) = run_records.load_records(str(root))
    assert record["state"] == "succeeded" and record["backend"] == "vertex" and record["image"]
    assert set(record["tasks"]) == set(config_lib.COMPONENT_IDS) | {EXIT_HANDLER}  # the exit handler ran last
    assert {record["tasks"][task]["state"] for task in config_lib.COMPONENT_IDS} == {"ran"}
    assert record["tasks"][EXIT_HANDLER]["state"] == "skipped"  # no notify_urls: nothing to post
    pushed = record["tasks"][config_lib.PUSHER]["outputs"]["pushed_model"][0]["metadata"]
    assert pushed["pushed"] == 1 and os.path.isfile(os.path.join(pushed["pushed_destination"], "saved_model.pb"))
    # Vertex runs the ExampleGen driver (lifecycle.preCacheCheck) first, in the image too, and its
    # span and fingerprint reach the executor.
    gen_dir = os.path.join(str(root), run_records.RUNS_DIR, record["run_id"], config_lib.EXAMPLE_GEN)
    with open(os.path.join(gen_dir, "executor_input.json")) as f:
        assert "input_fingerprint" in json.load(f)["inputs"]["parameters"]
    # Each step ran the image's Python and the image's copy of the project, not this checkout.
    for task in config_lib.COMPONENT_IDS:
        with open(record["tasks"][task]["log"]) as f:
            log = f.read()
        assert any(line.startswith(f"=== executor in image {built_image} ") for line in log.splitlines()), task
        assert config_lib.PROJECT_ROOT not in log or config_lib.PROJECT_ROOT == "/app", task
    with open(record["tasks"][config_lib.EXAMPLE_GEN]["log"]) as f:
        assert any(line.startswith(f"=== driver (lifecycle.preCacheCheck) in image {built_image} ")
                   for line in f.read().splitlines())
    # The user's model, bound by --input-map, trained in the image with the image's packages.
    with open(record["tasks"][config_lib.TRAINER]["log"]) as f:
        trainer_log = f.read()
    assert "input_1 (string, shape (None, 1)) <- text   (--input-map)" in trainer_log
    assert "/opt/venv/lib/python3.11/site-packages/" in trainer_log
    # The serving check loaded the model inside the image too, in a fresh process of the image's
    # Python that imported TensorFlow only, and blessed it.
    check = record["tasks"][config_lib.SERVING_CHECK]["outputs"]["blessing"][0]
    assert check["metadata"]["blessed"] == 1 and check["metadata"]["load_seconds"] > 0
    assert any(line.startswith("serving check: passed: ") for line in result.stdout.splitlines()), result.stdout
    with open(os.path.join(check["uri"], "serving_check.json")) as f:
        checked = json.load(f)
    assert checked["modules_of_the_project"] == [] and "/opt/venv/lib/python3.11/site-packages" in checked["sys_path"]
