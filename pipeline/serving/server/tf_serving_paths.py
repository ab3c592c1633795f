"""TF Serving's REST paths, matched as TF Serving matches them, as ASGI middleware in front of
KServe's FastAPI app (stdlib only).

TF Serving (tensorflow_serving/model_servers/http_rest_api_util.cc, kPredictionApiGegex and
kModelStatusApiRegex; http_rest_api_handler.cc ProcessRequest) reads every path under `/v1/`
with two case-insensitive regexes, one for POST and one for GET: `/V1/Models/NAME:predict` is
answered as `/v1/models/NAME:predict` (the model name itself stays case-sensitive); a path under
`/v1/` that neither matches (a trailing slash, a GET on `:predict`, `:PREDICT`) is refused 400
"Malformed request: METHOD PATH"; `GET /v1/models` is refused 400 "Missing model name in request.".
Here a matching path is rewritten to its lowercase form before FastAPI routes it (FastAPI's routes
are case-sensitive, and it answers a trailing slash with a 307 and no body); the rest is answered
as TF Serving answers it, with what to send instead.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from typing import Optional, Tuple

# TF Serving's regexes (RE2 `(?i)`, FullMatch), with [0-9] for RE2's ASCII-only \d.
_HANDLED = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)
_PREDICTION_API = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)", re.IGNORECASE)
_MODEL_STATUS_API = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.IGNORECASE)
_VERBS = ("classify", "regress", "predict")


def _canonical(name: str, version: Optional[str], label: Optional[str], tail: str) -> Tuple[Optional[str], str]:
    """(the path in lowercase form, or None, and the error when the version is not an int64)."""
    path = f"/v1/models/{name}"
    if version:
        if int(version) >= 2 ** 63:  # TF Serving's SimpleAtoi into an int64 fails
            return None, f"Failed to convert version: {version} to numeric."
        path += f"/versions/{int(version)}"  # SimpleAtoi: /versions/007 is version 7
    if label:
        path += f"/labels/{label}"
    return path + tail, ""


def route(method: str, path: str, api: str) -> Tuple[Optional[str], Optional[str]]:
    """(path to route, None), or (None, the 400's message) for a path under /v1/ TF Serving refuses.

    `api` (the paths this server answers) ends each message. Paths outside /v1/ are passed on as
    they are (TF Serving answers none of them; KServe's own routes and 404 answer them here).
    """
    if not _HANDLED.fullmatch(path):
        return path, None
    malformed = f"Malformed request: {method} {path}"
    if method == "POST" and _PREDICTION_API.fullmatch(path):
        name, version, label, verb = _PREDICTION_API.fullmatch(path).groups()
        if verb in _VERBS:  # the regex takes :PREDICT; the handler compares it as written
            canonical, error = _canonical(name, version, label, f":{verb}")
            return (canonical, None) if canonical else (None, f"{error} This server answers {api}")
        return None, f"{malformed} (the method is lowercase: :{verb.lower()}). This server answers {api}"
    if method == "GET" and _MODEL_STATUS_API.fullmatch(path):
        name, version, label, subresource = _MODEL_STATUS_API.fullmatch(path).groups()
        if not name:
            return None, f"Missing model name in request. This server answers {api}"
        # TF Serving answers metadata for "metadata" only; /METADATA matches its regex and gets the status.
        canonical, error = _canonical(name, version, label, "/metadata" if subresource == "metadata" else "")
        return (canonical, None) if canonical else (None, f"{error} This server answers {api}")
    return None, f"{malformed}{_hint(method, path)}. This server answers {api}"


def _hint(method: str, path: str) -> str:
    stripped = path.rstrip("/")
    if stripped != path and _HANDLED.fullmatch(stripped) and route(method, stripped, "")[0] is not None:
        return f" (no trailing slash: {method} {stripped})"
    if method == "GET" and _PREDICTION_API.fullmatch(path):
        return f" ({_PREDICTION_API.fullmatch(path).group(4)} takes a POST with a JSON body; a GET answers the status)"
    if method == "POST" and _MODEL_STATUS_API.fullmatch(path):
        return " (a POST goes to NAME:predict; a GET on this path answers the model's status or metadata)"
    if method not in ("GET", "POST"):
        return " (TF Serving answers GET and POST only)"
    return ""


class TFServingPaths:
    """ASGI middleware: TF Serving's paths under /v1/ rewritten to their lowercase form, or refused
    400 with TF Serving's {"error": ...}, before the app routes them."""

    def __init__(self, app, api: str):
        self.app, self.api = app, api

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, error = route(scope.get("method", ""), scope.get("path", ""), self.api)
        if error is not None:
            body = json.dumps({"error": error}).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if path != scope.get("path"):
            scope = dict(scope, path=path, raw_path=urllib.parse.quote(path, safe="/:@!$&'()*+,;=").encode())
        await self.app(scope, receive, send)
