"""TF Serving's REST paths (ASGI middleware, stdlib only), on a stand-in app; expected answers are
TF Serving's, read from tensorflow_serving/model_servers/http_rest_api_util.cc (kPredictionApiGegex,
kModelStatusApiRegex) and http_rest_api_handler.cc (ProcessRequest). Through the running server:
tests/pipeline/serving/test_serve.py::test_paths_are_matched_as_tf_serving_matches_them."""
from __future__ import annotations

import asyncio
import json

import pytest

from pipeline.serving.server import tf_serving_paths as paths

API = "POST /v1/models/m:predict"


@pytest.mark.parametrize("method, path, routed", [
    ("POST", "/v1/models/m:predict", "/v1/models/m:predict"),
    ("POST", "/V1/Models/m:predict", "/v1/models/m:predict"),
    ("POST", "/v1/MODELS/m/VERSIONS/7:classify", "/v1/models/m/versions/7:classify"),
    ("POST", "/v1/models/m/versions/007:predict", "/v1/models/m/versions/7:predict"),  # SimpleAtoi
    ("POST", "/v1/models/m/Labels/stable:predict", "/v1/models/m/labels/stable:predict"),
    ("GET", "/v1/models/m", "/v1/models/m"),
    ("GET", "/V1/MODELS/m/Versions/3/metadata", "/v1/models/m/versions/3/metadata"),
    # The model name is not folded: ServerCore looks it up as written (404 for M when m is served).
    ("GET", "/v1/models/M", "/v1/models/M"),
    # The regex takes /METADATA, the handler compares it with "metadata": TF Serving answers the status.
    ("GET", "/v1/models/m/METADATA", "/v1/models/m"),
    # Outside /v1/ TF Serving answers nothing; KServe's own routes (and 404) answer them here.
    ("GET", "/v2/health/live", "/v2/health/live"),
    ("GET", "/", "/"),
])
def test_tf_servings_paths_are_routed_in_lowercase(method, path, routed):
    assert paths.route(method, path, API) == (routed, None)


@pytest.mark.parametrize("method, path, says", [
    ("GET", "/v1/models/m/", "Malformed request: GET /v1/models/m/ (no trailing slash: GET /v1/models/m)"),
    ("POST", "/v1/models/m:predict/", "Malformed request: POST /v1/models/m:predict/ (no trailing slash: POST "
                                      "/v1/models/m:predict)"),
    ("GET", "/v1/models/m/metadata/", "(no trailing slash: GET /v1/models/m/metadata)"),
    ("POST", "/v1/models/m:PREDICT", "Malformed request: POST /v1/models/m:PREDICT (the method is lowercase: "
                                     ":predict)"),
    ("GET", "/v1/models/m:predict", "Malformed request: GET /v1/models/m:predict (predict takes a POST"),
    ("POST", "/v1/models/m", "Malformed request: POST /v1/models/m (a POST goes to NAME:predict"),
    ("PUT", "/v1/models/m:predict", "Malformed request: PUT /v1/models/m:predict (TF Serving answers GET and POST"),
    ("POST", "/v1/models/m:explain", "Malformed request: POST /v1/models/m:explain. This server answers"),
    ("GET", "/v1/models/m/../../nope", "Malformed request: GET /v1/models/m/../../nope. This server answers"),
    ("GET", "/v1/models", "Missing model name in request."),
    ("GET", "/V1/models/", "Malformed request: GET /V1/models/."),
    ("GET", "/v1/models/m/versions/9223372036854775808", "Failed to convert version: 9223372036854775808 to "
                                                         "numeric."),
])
def test_what_tf_serving_refuses_under_v1_is_a_400_saying_what_to_send(method, path, says):
    routed, error = paths.route(method, path, API)
    assert routed is None and says in error and error.endswith(f"This server answers {API}"), error


def _call(method: str, path: str):
    given, sent = {}, []

    async def app(scope, receive, send):
        given["scope"] = scope

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "headers": []}
    asyncio.run(paths.TFServingPaths(app, api=API)(scope, receive, send))
    return given.get("scope"), sent


def test_the_middleware_rewrites_the_path_the_app_routes():
    scope, sent = _call("POST", "/V1/Models/keras-tfx:predict")
    assert sent == [] and scope["path"] == "/v1/models/keras-tfx:predict"
    assert scope["raw_path"] == b"/v1/models/keras-tfx:predict"
    scope, _ = _call("GET", "/V1/models/a b")  # decoded in scope["path"], encoded in raw_path
    assert scope["path"] == "/v1/models/a b" and scope["raw_path"] == b"/v1/models/a%20b"


def test_the_middleware_answers_a_refused_path_with_tf_servings_error_json():
    scope, sent = _call("GET", "/v1/models/keras-tfx/")
    assert scope is None
    assert sent[0]["status"] == 400 and (b"content-type", b"application/json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {"error": "Malformed request: GET /v1/models/keras-tfx/ (no trailing "
                                                    f"slash: GET /v1/models/keras-tfx). This server answers {API}"}
