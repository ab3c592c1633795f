"""Where a step's command runs, behind one small interface (StepProcess): as a subprocess of this
environment (LocalProcess; this checkout plays the image's `/app`) or inside the image
(image_exec.ImageExec, for `run-compiled --image`)."""
from __future__ import annotations

import os
import subprocess
from typing import Dict, Protocol, Sequence, TextIO

from pipeline.config import PROJECT_ROOT


class StepProcess(Protocol):
    """Runs a step's command (placeholders filled in) with its output appended to the step's log."""

    # True: the command's `python` is the image's; else step_command makes it this interpreter.
    in_image: bool

    def where(self) -> str:
        """What the log's header says after the step's title: '' here, ' in <the image>' there."""

    def run(self, argv: Sequence[str], log: TextIO) -> int:
        """Runs `argv`, its output appended to `log`; returns its exit code."""


class LocalProcess:
    """A subprocess of this environment, from this checkout, with the project on PYTHONPATH."""

    in_image = False

    def where(self) -> str:
        return ""

    def run(self, argv: Sequence[str], log: TextIO) -> int:
        return subprocess.run(list(argv), stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                              env=_step_env(), check=False).returncode


LOCAL = LocalProcess()


def _step_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PROJECT_ROOT, env.get("PYTHONPATH")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_process(argv: Sequence[str], log_path: str, title: str, process: StepProcess) -> int:
    """Runs one container command, appending a header line and its output to the step's log.

    Args:
      argv: the command and args (executor_io.step_command); log_path: the step's log.
      title: what the header calls it ("executor", "driver (lifecycle.preCacheCheck)", ...).
      process: where it runs (LOCAL, or the run's image).

    Returns:
      Its exit code.
    """
    with open(log_path, "a") as log:
        log.write(f"=== {title}{process.where()}: "
                  f"{' '.join(a if len(a) < 200 else a[:200] + '...' for a in argv)}\n")
        log.flush()
        return process.run(argv, log)
