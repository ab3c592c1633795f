"""The server's body limit (ASGI middleware, stdlib only), on a stand-in app; through the running
server: tests/pipeline/serving/test_serve.py::test_a_body_over_the_limit_gets_413."""
from __future__ import annotations

import asyncio
import json

from pipeline.serving.server import body_limit


def _call(path: str, chunks, headers=(), max_bytes: int = 10):
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
    asyncio.run(body_limit.BodyLimit(app, max_bytes=max_bytes, max_mb=1e-5)(scope, receive, send))
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


def test_a_gzip_body_is_decompressed_as_tf_serving_does_within_the_limit():
    import gzip
    packed = gzip.compress(b"12345") + gzip.compress(b"678")  # two members, as `cat a.gz b.gz`
    given, sent = _call("/v1/models/m:predict", [packed[:7], packed[7:]], [(b"content-encoding", b"gzip")], 100)
    assert sent == [] and given["message"]["body"] == b"12345678"
    assert b"content-encoding" not in dict(given["scope"]["headers"])
    assert dict(given["scope"]["headers"])[b"content-length"] == b"8"


def test_a_body_that_is_not_gzip_or_in_another_encoding_is_refused():
    import gzip
    for body in (gzip.compress(b"1" * 11)[:10], b"not gzip"):  # cut short; not gzip at all
        given, sent = _call("/v1/models/m:predict", [body], [(b"content-encoding", b"gzip")])
        assert given is None and sent[0]["status"] == 400
        assert "not whole gzip data" in json.loads(sent[1]["body"])["error"]
    given, sent = _call("/v1/models/m:predict", [b"x"], [(b"content-encoding", b"br")])
    assert given is None and sent[0]["status"] == 415 and "'br' is not read" in json.loads(sent[1]["body"])["error"]


def test_a_gzip_body_small_on_the_wire_but_over_the_limit_decompressed_gets_413():
    import gzip
    packed = gzip.compress(b"1" * 1000)
    given, sent = _call("/v1/models/m:predict", [packed], [(b"content-encoding", b"gzip")], len(packed))
    assert given is None and sent[0]["status"] == 413
    assert "decompressed, is over this server's limit" in json.loads(sent[1]["body"])["error"]
