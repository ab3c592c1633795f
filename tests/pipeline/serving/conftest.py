"""The serving environment and a running `python -m pipeline serve`, shared by the serving tests."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Optional, Tuple

import pytest

from pipeline import config as config_lib
from pipeline.serving import serve_env


@pytest.fixture(scope="session")
def serving_python():
    """.venv-serving's Python, built from the committed lock when missing or stale (as `serve` does)."""
    return serve_env.ensure()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, body: Any = None, raw: Optional[bytes] = None, timeout: float = 30,
         content_type: str = "application/json") -> Tuple[int, Any]:
    """(status, parsed JSON) of a GET (no body) or POST to the server."""
    status, answer, _ = exchange(url, body, raw, timeout, content_type)
    return status, answer


def exchange(url: str, body: Any = None, raw: Optional[bytes] = None, timeout: float = 30,
             content_type: str = "application/json") -> Tuple[int, Any, dict]:
    """(status, parsed JSON, headers) of a GET (no body) or POST; NaN goes out as JSON's NaN literal."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type} if data is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


class Server:
    """A `python -m pipeline serve` subprocess on 127.0.0.1 and a free port."""

    def __init__(self, output_dir: str, log_path: str, model_name: str = "keras-tfx", max_body_mb: float = 1):
        self.output_dir, self.log_path, self.model_name = output_dir, log_path, model_name
        self.serving_dir = os.path.join(output_dir, "serving_model")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.predict_url = f"{self.base}/v1/models/{model_name}:predict"
        self.status_url = f"{self.base}/v1/models/{model_name}"
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "serve", "--output-dir", output_dir, "--port", str(self.port),
             "--model-name", model_name, "--max-body-mb", str(max_body_mb), "--poll-seconds", "0.5"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=config_lib.PROJECT_ROOT)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.log_text()[-4000:]}")
            try:
                if call(self.status_url, timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"serve did not answer within {timeout} s:\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def served_version(self) -> str:
        status, body = call(self.status_url)
        assert status == 200, body
        return [e["version"] for e in body["model_version_status"] if e["state"] == "AVAILABLE"][0]

    def predict(self, body: Any, **kwargs) -> Tuple[int, Any]:
        return call(self.predict_url, body, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
