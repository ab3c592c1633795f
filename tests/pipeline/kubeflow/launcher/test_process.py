"""Where a step's command runs: here (from the checkout) or in the image; the log's header says which."""
from __future__ import annotations

import sys
from unittest import mock

from pipeline import config as config_lib
from pipeline.kubeflow.launcher import process
from pipeline.kubeflow.launcher.image_exec import ImageExec


def test_a_step_here_runs_from_the_checkout_its_header_and_output_appended_to_its_log(tmp_path):
    log = tmp_path / "logs" / "Step.log"
    log.parent.mkdir()
    log.write_text("earlier\n")
    program = "import os, sys; print(os.getcwd()); sys.exit(4)"
    code = process.run_process([sys.executable, "-c", program], str(log), "executor", process.LOCAL)
    assert code == 4
    assert log.read_text().splitlines() == [
        "earlier", f"=== executor: {sys.executable} -c {program}", config_lib.PROJECT_ROOT]
    assert not process.LOCAL.in_image


def test_the_header_cuts_long_arguments(tmp_path):
    log = tmp_path / "Step.log"
    process.run_process([sys.executable, "-c", "pass", "x" * 300], str(log), "executor", process.LOCAL)
    assert log.read_text().splitlines()[0] == f"=== executor: {sys.executable} -c pass {'x' * 200}..."


def test_a_step_in_the_image_says_so_in_the_header_and_runs_there(tmp_path):
    image = ImageExec("keras-tfx:local", str(tmp_path), "docker")
    log = tmp_path / "Step.log"
    with mock.patch.object(ImageExec, "run", return_value=0) as run:
        code = process.run_process(["python", "-c", "pass"], str(log), "driver (lifecycle.preCacheCheck)", image)
    assert code == 0 and run.call_args[0][0] == ["python", "-c", "pass"]
    assert log.read_text() == ("=== driver (lifecycle.preCacheCheck) in image keras-tfx:local (docker run): "
                               "python -c pass\n")
    assert image.in_image
