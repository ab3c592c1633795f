"""A run killed with SIGKILL mid-training loses nothing: the rerun completes from the cache."""
from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import config as config_lib
from pipeline import results
from pipeline import pipeline as pipeline_lib

pytestmark = pytest.mark.e2e


def _run_cli(data_root, output_dir, steps):
    return [sys.executable, "-m", "pipeline", "run", "--data-root", data_root, "--output-dir",
            output_dir, "--train-steps", str(steps), "--min-accuracy", "0.5"]


def test_sigkill_during_the_trainer_then_rerun_completes(small_taxi_dir, tmp_path):
    output_dir = str(tmp_path / "out")
    process = subprocess.Popen(_run_cli(small_taxi_dir, output_dir, 20000), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    trainer_dirs = os.path.join(output_dir, "pipeline_root", "Trainer", "model_run", "*", "events.out.*")
    while not glob.glob(trainer_dirs):  # the Estimator has started writing summaries
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.time() < deadline, "the Trainer never started"
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL

    completed = subprocess.run(_run_cli(small_taxi_dir, output_dir, 200), capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=output_dir))
    summary = results.summarize(config)
    for node in (pipeline_lib.EXAMPLE_GEN, pipeline_lib.STATISTICS_GEN, pipeline_lib.SCHEMA_GEN,
                 pipeline_lib.EXAMPLE_VALIDATOR):
        assert summary.states[node] == "cached", (node, summary.states)
    assert summary.states[pipeline_lib.TRAINER] == "ran"
    assert summary.blessed and summary.pushed, summary
    versions = os.listdir(config.serving_dir)
    assert len(versions) == 1 and versions[0].isdigit()  # one whole version, nothing partial
    assert os.path.isfile(os.path.join(config.serving_dir, versions[0], "saved_model.pb"))
