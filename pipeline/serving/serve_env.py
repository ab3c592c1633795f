"""`python -m pipeline serve`: builds the serving environment on first use, then runs the server in it.

The server (pipeline/serving/server/server.py) needs KServe and a current TensorFlow, which cannot
share a venv with the pipeline's TF 2.15 stack (protobuf 6.33 against 4.25). So it gets its own venv,
`.venv-serving`, installed with uv from its committed lock (`--no-deps`: no resolution at install
time), and rebuilt when the lock changes. Importable without TensorFlow.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import time
from typing import List, Optional

from pipeline import config as config_lib

SERVER_DIR = os.path.join(config_lib.PROJECT_ROOT, "pipeline", "serving", "server")
LOCK_FILE = os.path.join(SERVER_DIR, "requirements.lock")
SERVER_SCRIPT = os.path.join(SERVER_DIR, "server.py")
VENV = os.environ.get("KERAS_TFX_SERVING_VENV") or os.path.join(config_lib.PROJECT_ROOT, ".venv-serving")
STAMP = ".installed-lock"  # holds the sha256 of the lock the venv was built from


def venv_python(venv: str = VENV) -> str:
    return os.path.join(venv, "bin", "python")


def lock_digest(lock_file: str = LOCK_FILE) -> str:
    with open(lock_file, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def is_current(venv: str = VENV, lock_file: str = LOCK_FILE) -> bool:
    """True when `venv` was built, completely, from the lock as it is now."""
    try:
        with open(os.path.join(venv, STAMP)) as f:
            return f.read().strip() == lock_digest(lock_file) and os.access(venv_python(venv), os.X_OK)
    except OSError:
        return False


def ensure(venv: str = VENV, lock_file: str = LOCK_FILE, echo=print) -> str:
    """Builds `venv` from `lock_file` unless it is current; returns its Python. Two callers at once
    wait for each other (a file lock) instead of building twice."""
    os.makedirs(os.path.dirname(os.path.abspath(venv)), exist_ok=True)
    with open(venv.rstrip("/") + ".build-lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if is_current(venv, lock_file):
            return venv_python(venv)
        reason = "the lock changed" if os.path.isdir(venv) else "first use"
        echo(f"building the serving environment {venv} from {os.path.relpath(lock_file, config_lib.PROJECT_ROOT)} "
             f"({reason}; KServe and TensorFlow {_pinned('tensorflow-cpu', lock_file)}: about a minute with a warm "
             "package cache, several when downloading)...")
        started = time.time()
        stamp = os.path.join(venv, STAMP)
        if os.path.exists(stamp):
            os.remove(stamp)  # a build stopped halfway is never taken for a whole one
        uv = [sys.executable, "-m", "uv"]
        _run(uv + ["venv", "--quiet", "--clear", "--python", sys.executable, venv])
        _run(uv + ["pip", "install", "--quiet", "--python", venv_python(venv), "--no-deps", "--compile-bytecode",
                   "-r", lock_file])
        with open(stamp, "w") as f:
            f.write(lock_digest(lock_file))
        echo(f"built {venv} in {time.time() - started:.0f} s")
        return venv_python(venv)


def _pinned(package: str, lock_file: str) -> str:
    with open(lock_file) as f:
        for line in f:
            if line.startswith(package + "=="):
                return line.split("==", 1)[1].strip()
    return "?"


def _run(command: List[str]) -> None:
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise config_lib.ConfigError(
            f"building the serving environment failed (exit code {completed.returncode}): {' '.join(command)}\n"
            "It needs the package registry (PyPI) once; check the network or proxy, then run serve again.")


def server_command(python: str, serving_dir: str, model_name: str, host: str, port: int, max_body_mb: float,
                   poll_seconds: float, threads: Optional[int] = None) -> List[str]:
    command = [python, SERVER_SCRIPT, "--serving-dir", os.path.abspath(serving_dir), "--model-name", model_name,
               "--host", host, "--port", str(port), "--max-body-mb", str(max_body_mb),
               "--poll-seconds", str(poll_seconds)]
    return command + (["--threads", str(threads)] if threads else [])
