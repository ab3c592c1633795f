"""Runs a stock TFX executor suite (tests/components/stock_suite.py) against the stock executor and
against ours, in a process of its own, and returns both outcome maps."""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(ROOT, "tests", "components", "stock_suite.py")
PREFIX = "STOCK-SUITE-RESULT "


def run_suite(test_module: str, fake_file: str, executor_module: str, timeout: float = 600):
    """(stock outcomes, our outcomes): test name -> {"outcome", "detail"}, for `test_module` run
    against the stock executor and against `executor_module`, in one process."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    args = [sys.executable, RUNNER, test_module, fake_file, executor_module]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(PREFIX)]
    assert proc.returncode == 0 and lines, (
        f"the stock suite runner failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    result = json.loads(lines[-1][len(PREFIX):])
    assert "site-packages" in result["file"], f"not the installed wheel's tests: {result['file']}"
    return result["runs"]["stock"], result["runs"][executor_module]


def failures(outcomes: dict) -> str:
    return "\n\n".join(f"{name}: {o['outcome']}\n{o['detail'][-2500:]}"
                       for name, o in sorted(outcomes.items()) if o["outcome"] in ("failed", "error"))
