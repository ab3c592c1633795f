"""The server's body limit (ASGI middleware, stdlib only), on a stand-in app; through the running
server: tests/pipeline/serving/test_serve.py::test_a_body_over_the_limit_gets_413."""
from __future__ import annotations

import asyncio
import json

from pipeline.serving.server import body_limit


def _call(path: str, chunks, headers=()):
    """(what the app was given or None, what was sent) for one POST through BodyLimit(max 10 bytes)."""
    given, sent = {}, []

    async def app(scope, receive, send):
        given["scope"], given["message"] = scope, await receive()

    async def receive():
        body = chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "POST", "path": path, "headers": list(headers)}
    asyncio.run(body_limit.BodyLimit(app, max_bytes=10, max_mb=1e-5)(scope, receive, send))
    return given or None, sent


def test_a_body_within_the_limit_reaches_the_app_whole_and_typed_for_the_predictor():
    given, sent = _call("/v1/models/m:predict", [b"12345", b"678"], [(b"content-type", b"application/json")])
    assert sent == [] and given["message"] == {"type": "http.request", "body": b"12345678", "more_body": False}
    assert dict(given["scope"]["headers"])[b"content-type"] == b"application/x-tf-serving-request"


def test_a_body_over_the_limit_gets_413_and_never_reaches_the_app():
    given, sent = _call("/v1/models/m:predict", [b"123456", b"789012"])
    assert given is None
    assert sent[0]["status"] == 413
    assert "over this server's limit of 1e-05 MB" in json.loads(sent[1]["body"])["error"]
    given, sent = _call("/v1/models/m", [b"1"], [(b"content-length", b"11")])  # declared too large
    assert given is None and sent[0]["status"] == 413
