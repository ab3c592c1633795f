"""--notify: one JSON POST per webhook and run; a webhook that fails or hangs changes nothing."""
import http.server
import json
import socket
import threading
import time

import pytest

from pipeline import notify


class _Hook:
    """A webhook on 127.0.0.1 (port from the OS at bind time) that records what it is sent."""

    def __init__(self, status=200, delay=0.0):
        self.bodies = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                hook.bodies.append((self.headers.get("Content-Type"), json.loads(self.rfile.read(length))))
                time.sleep(delay)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = _Hook()
    yield server
    server.close()


def _message(status="pushed", **fields):
    values = dict(pipeline="keras-tfx", run_id="run-20261201-010000", data_root="data/taxi",
                  output_dir="/out", metrics={"accuracy": 0.89, "auc": 0.95}, blessed=True,
                  pushed_version="1795900000", serving_version="1795900000")
    values.update(fields)
    return notify.message(status, **values)


def test_each_webhook_gets_the_outcome_once_as_json_with_a_one_line_text(hook):
    other = _Hook()
    try:
        assert notify.post([hook.url, other.url], _message()) == []
    finally:
        other.close()
    for server in (hook, other):
        assert len(server.bodies) == 1
        content_type, body = server.bodies[0]
        assert content_type == "application/json"
        assert body["status"] == "pushed" and body["run_id"] == "run-20261201-010000"
        assert body["versions"] == {"pushed": "1795900000", "serving": "1795900000"}
        assert body["metrics"] == {"accuracy": 0.89, "auc": 0.95}
        assert body["text"] == "keras-tfx on data/taxi: pushed version 1795900000 (accuracy 0.8900, auc 0.9500)"
        assert "\n" not in body["text"]


def test_a_failure_says_where_and_why_in_its_text(hook):
    body = _message("failed", metrics={}, blessed=None, pushed_version=None, serving_version=None,
                    failed_component="Trainer", reason="Trainer: the training loss became NaN\nmore detail")
    notify.post([hook.url], body)
    (_, got), = hook.bodies
    assert got["text"] == "keras-tfx on data/taxi: FAILED in Trainer; nothing pushed: Trainer: the training loss became NaN"
    assert got["reason"].endswith("more detail") and got["failed_component"] == "Trainer"


def test_a_dead_a_failing_and_a_hanging_webhook_are_reported_never_raised_and_bounded_in_time(hook):
    with socket.socket() as probe:  # a port nobody listens on: bound, never accepted
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
        failing, hanging = _Hook(status=500), _Hook(delay=5.0)
        try:
            started = time.monotonic()
            lines = notify.post([dead, failing.url, hanging.url, hook.url], _message(), timeout=1.0)
            elapsed = time.monotonic() - started
        finally:
            failing.close()
            hanging.close()
    assert elapsed < 4.5  # the hanging hook would take 5 s: its 1-s timeout was kept, with room for load
    assert len(lines) == 3 and all("the run's outcome is unchanged" in line for line in lines)
    assert any(dead in line for line in lines) and any("HTTP 500" in line for line in lines)
    assert any(hanging.url in line and "no answer within 1 s" in line for line in lines)
    assert len(hook.bodies) == 1  # the good one still got it


@pytest.mark.parametrize("url", ["hooks.slack.com/x", "ftp://host/x", "http://", "file:///etc/passwd"])
def test_a_url_that_is_not_http_is_refused_before_anything_runs(url):
    with pytest.raises(ValueError, match="--notify"):
        notify.check_url(url)
