"""A run killed with SIGKILL mid-training loses nothing: the rerun completes from the cache."""
from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from components.latest_pushed_model import records
from pipeline import config as config_lib
from pipeline.report import metadata
from pipeline import pipeline as pipeline_lib

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(150)]


def _run_cli(data_root, output_dir, steps):
    return [sys.executable, "-m", "pipeline", "run", "--data-root", data_root, "--output-dir",
            output_dir, "--train-steps", str(steps), "--min-accuracy", "0.5"]


def _start(command, env=None) -> subprocess.Popen:
    """Starts the CLI with its output going to files (not pipes, which a child that prints more
    than a pipe holds would block on while the test polls or waits)."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdout=out, stderr=err, env=env, start_new_session=True)
    process.out, process.err = out, err
    return process


def _stderr(process) -> str:
    process.err.seek(0)
    return process.err.read().decode("utf-8", "replace")


def _kill_when(condition, command, env, never: str) -> None:
    """Starts the run, SIGKILLs its whole process group as soon as `condition()` holds."""
    process = _start(command, env)
    deadline = time.time() + 600
    while not condition():
        assert process.poll() is None, _stderr(process)[-3000:]
        assert time.time() < deadline, never
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def test_sigkill_during_the_trainer_then_rerun_completes(small_taxi_dir, tmp_path):
    output_dir = str(tmp_path / "out")
    trainer_dirs = os.path.join(output_dir, "pipeline_root", "Trainer", "model_run", "*", "events.out.*")
    _kill_when(lambda: glob.glob(trainer_dirs),  # the Estimator has started writing summaries
               _run_cli(small_taxi_dir, output_dir, 20000), os.environ, "the Trainer never started")

    completed = subprocess.run(_run_cli(small_taxi_dir, output_dir, 200), capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=output_dir))
    summary = metadata.summarize(config)
    for node in (pipeline_lib.EXAMPLE_GEN, pipeline_lib.STATISTICS_GEN, pipeline_lib.SCHEMA_GEN,
                 pipeline_lib.EXAMPLE_VALIDATOR):
        assert summary.states[node] == "cached", (node, summary.states)
    assert summary.states[pipeline_lib.TRAINER] == "ran"
    assert summary.blessed and summary.pushed, summary
    versions = os.listdir(config.serving_dir)
    assert len(versions) == 1 and versions[0].isdigit()  # one whole version, nothing partial
    assert os.path.isfile(os.path.join(config.serving_dir, versions[0], "saved_model.pb"))


# Installed in the killed run only (through PYTHONPATH): holds the Pusher at a chosen point,
# after touching a marker file, so the test can SIGKILL it exactly there. Product code has no hook.
HOLD_PUSHER = '''
import os, shutil, time
_point, _marker = os.environ["HOLD_PUSHER_AT"], os.environ["HOLD_PUSHER_MARKER"]

def _hold():
    open(_marker, "w").close()
    time.sleep(600)

if _point == "mid-copy":
    _copyfile = shutil.copyfile
    def _copy_then_hold(src, dst, *args, **kwargs):
        result = _copyfile(src, dst, *args, **kwargs)
        if "/.partial-" in str(dst):
            _hold()
        return result
    shutil.copyfile = _copy_then_hold
elif _point == "after-rename":
    _rename = os.rename
    def _rename_then_hold(src, dst, *args, **kwargs):
        _rename(src, dst, *args, **kwargs)
        if os.path.basename(str(src)).startswith(".partial-"):
            _hold()
    os.rename = _rename_then_hold
'''


def _killed_in_the_pusher(command, point, tmp_path):
    hook = tmp_path / f"hook-{point}"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOLD_PUSHER)
    marker = tmp_path / f"held-{point}"
    env = dict(os.environ, PYTHONPATH=str(hook), HOLD_PUSHER_AT=point, HOLD_PUSHER_MARKER=str(marker))
    _kill_when(marker.exists, command, env, "the Pusher never started")


def _whole_versions(serving_dir):
    names = os.listdir(serving_dir)
    for name in names:
        assert name.isdigit(), f"{name} in {serving_dir}: a partial or foreign entry where servers look"
        assert os.path.isfile(os.path.join(serving_dir, name, "saved_model.pb"))
        assert os.listdir(os.path.join(serving_dir, name, "variables"))
    return sorted(names)


def test_sigkill_during_the_pusher_never_leaves_a_partial_version(small_taxi_dir, tmp_path):
    output_dir = str(tmp_path / "out")
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=output_dir))

    # Killed mid-copy: a .partial- folder is left, but no numbered version.
    _killed_in_the_pusher(_run_cli(small_taxi_dir, output_dir, 100), "mid-copy", tmp_path)
    assert not [n for n in os.listdir(config.serving_dir) if n.isdigit()]
    completed = subprocess.run(_run_cli(small_taxi_dir, output_dir, 100), capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = metadata.summarize(config)
    # (The Evaluator reruns: the killed run's blessing makes its own model the baseline now.)
    for node in (pipeline_lib.EXAMPLE_GEN, pipeline_lib.STATISTICS_GEN, pipeline_lib.TRAINER):
        assert summary.states[node] == "cached", (node, summary.states)
    assert summary.states[pipeline_lib.PUSHER] == "ran" and summary.pushed
    first = _whole_versions(config.serving_dir)
    assert len(first) == 1

    # Killed after the rename, before ML Metadata (and the push record) record the push: the
    # version is whole and served; the rerun finds that very model served, pushes nothing, and
    # records the version, so it is the next run's baseline. (Another step count makes a new
    # model; --max-accuracy-drop 1 blesses it whatever its accuracy against the first.)
    command = _run_cli(small_taxi_dir, output_dir, 120) + ["--max-accuracy-drop", "1"]
    _killed_in_the_pusher(command, "after-rename", tmp_path)
    second = _whole_versions(config.serving_dir)
    assert len(second) == 2 and records.read_record(config.serving_dir, second[-1]) is None
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = metadata.summarize(config)
    assert summary.states[pipeline_lib.TRAINER] == "cached" and not summary.pushed
    assert summary.serving_version == second[-1]
    assert _whole_versions(config.serving_dir) == second
    assert records.latest_pushed(config.serving_dir)["version"] == second[-1]


def test_two_runs_started_at_once_one_runs_the_other_is_refused(small_taxi_dir, tmp_path):
    output_dir = str(tmp_path / "out")
    command = _run_cli(small_taxi_dir, output_dir, 50)
    processes = [_start(command) for _ in range(2)]
    outcomes = sorted((p.wait(timeout=600), _stderr(p)) for p in processes)
    (ok, _), (refused, message) = outcomes
    assert (ok, refused) == (0, 3), outcomes
    assert "another run is using" in message and "nothing was changed" in message
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=output_dir))
    summary = metadata.summarize(config)  # ML Metadata holds one whole, successful run
    assert set(summary.states.values()) == {"ran"} and summary.pushed
    assert len(_whole_versions(config.serving_dir)) == 1
