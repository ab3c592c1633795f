"""The request body limit, as ASGI middleware in front of KServe's FastAPI app (stdlib only)."""
from __future__ import annotations

import json
import zlib
from typing import Any, Dict


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 with a JSON error, before the app
    reads it. The body is read here (the app would read it whole anyway) and handed on.

    A gzip-compressed body (Content-Encoding: gzip, as TF Serving reads) is decompressed here, within
    the same limit. It also marks a predict request's body as not JSON-typed, so KServe's DataPlane hands the bytes
    to PushedModel, which reads them as TF Serving does, whatever the Content-Type (curl -d sends
    a form type), with one error message for a body that is not JSON.
    """

    def __init__(self, app, max_bytes: int, max_mb: float):
        self.app, self.max_bytes, self.max_mb = app, max_bytes, max_mb

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "POST" and scope.get("path", "").endswith(":predict"):
            scope = dict(scope, headers=[(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
                         + [(b"content-type", b"application/x-tf-serving-request")])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        chunks, size, more = [], 0, True
        too_large = declared is not None and declared.isdigit() and int(declared) > self.max_bytes
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            body = message.get("body", b"")
            size += len(body)
            more = message.get("more_body", False)
            if size > self.max_bytes:
                too_large = True
            if too_large:
                if size > 4 * self.max_bytes:
                    break  # read enough to answer; the connection is dropped after the answer
                continue
            chunks.append(body)
        if too_large:
            total = int(declared) if declared and declared.isdigit() else size
            await _send_json(send, 413, {"error": f"the request body ({total / 1e6:.1f} MB) is over this server's "
                                                  f"limit of {self.max_mb:g} MB (serve --max-body-mb); send "
                                                  "fewer rows per request"})
            return
        body = b"".join(chunks)
        encoding = dict(scope.get("headers") or []).get(b"content-encoding", b"").strip().lower()
        if encoding not in (b"", b"identity"):
            # TF Serving's HTTP server reads a gzip-compressed request body; so does this one.
            status, error = (None, None)
            if encoding in (b"gzip", b"x-gzip"):
                try:
                    body = _gunzip(body, self.max_bytes)
                except _Overflow:
                    status, error = 413, (f"the request body, decompressed, is over this server's limit of "
                                          f"{self.max_mb:g} MB (serve --max-body-mb); send fewer rows per request")
                except (zlib.error, EOFError) as exc:
                    status, error = 400, (f"the request says Content-Encoding: gzip, but its body is not whole gzip "
                                          f"data ({exc}); compress it with gzip, or drop the header")
            else:
                status, error = 415, (f"Content-Encoding {encoding.decode('latin-1')!r} is not read here; send the "
                                      "body as it is, or gzip-compressed with Content-Encoding: gzip")
            if error:
                await _send_json(send, status, {"error": error})
                return
            scope = dict(scope, headers=[(k, v) for k, v in scope.get("headers") or []
                                         if k not in (b"content-encoding", b"content-length")]
                         + [(b"content-length", str(len(body)).encode())])
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}],
                                      receive), send)


class _Overflow(ValueError):
    pass


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """gzip data (one or more members) decompressed, at most `max_bytes` of it (else _Overflow)."""
    out = []
    size = 0
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        part = inflater.decompress(data, max_bytes + 1 - size)
        size += len(part)
        if size > max_bytes:
            raise _Overflow()
        out.append(part)
        if not inflater.eof:
            raise EOFError("it ends before the gzip stream does")
        data = inflater.unused_data
    return b"".join(out)


def _replay(messages, receive):
    pending = list(messages)

    async def replayed():
        return pending.pop(0) if pending else await receive()
    return replayed


async def _send_json(send, status: int, content: Dict[str, Any]) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
