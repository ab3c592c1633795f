"""TF Serving's REST API over the pushed versions, on KServe's model server and a current TensorFlow.

Run by `python -m pipeline serve` in `.venv-serving` (see serve_env.py), as a script: it imports
only kserve, tensorflow, numpy (TensorFlow's), the stdlib and its sibling modules here, never the
pipeline's TF 2.15 code. This module starts the server; the work is in its siblings:
tf_serving_json.py (request and response JSON), tf_serving_paths.py (paths matched as TF Serving
matches them), pushed_model.py (the loaded version, polled and swapped), body_limit.py (413),
versions.py (the Pusher's version rule), warmup.py.

- `POST /v1/models/NAME:predict`: TF Serving's request and response JSON. Rows
  (`{"instances": [...]}` -> `{"predictions": [...]}`) or columns (`{"inputs": {...}}` ->
  `{"outputs": ...}`), `signature_name` (default `serving_default`), `{"b64": ...}` for bytes.
  KServe's V1 route and DataPlane carry it; `PushedModel.predict` reads TF Serving's formats.
- `GET /v1/models/NAME`: TF Serving's model status JSON. KServe's V1 route of that path answers
  `{"name", "ready"}`, so a route of our own is added to KServe's FastAPI app ahead of it.
- TF Serving's routes KServe lacks, added the same way: `/versions/N` on each of these (N must be
  the served version, else 404), `GET /v1/models/NAME[/versions/N]/metadata` (the signature defs),
  and `:classify`/`:regress`, answered 400 as TF Serving answers them for a model whose signatures
  are predict signatures. A path or method nothing answers gets TF Serving's `{"error": ...}`.
- Paths under `/v1/` are matched as TF Serving's regexes match them (tf_serving_paths.py): case-
  insensitive (`/V1/Models/NAME:predict`), and one they do not match (a trailing slash, a GET on
  `:predict`) is 400 "Malformed request: ...", as there.
- Versions: the newest whole numeric folder under the serving dir (versions.py, the Pusher's
  rule), polled every `--poll-seconds` as TF Serving's file system source does. A new version is
  loaded completely (and its warm-up requests replayed) before requests switch to it, in one
  reference assignment, so no request fails during a switch; one that cannot be loaded is
  logged, shown in the status as END with its error, and the old version keeps serving.
- A body over `--max-body-mb` gets 413; every other bad request a 400 with `{"error": ...}`
  naming what is wrong; an unknown model name 404. The server keeps serving.
"""
# No `from __future__ import annotations`: FastAPI reads the routes' annotations (Request) at runtime.
import argparse
import logging
import os
import socket
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional

import body_limit  # this script's siblings (sys.path[0] is its folder)
import pushed_model
import tf_serving_paths
import versions


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="server.py", description=__doc__.splitlines()[0])
    parser.add_argument("--serving-dir", required=True, help="The Pusher's folder of version folders.")
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--max-body-mb", type=float, default=10.0)
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=8, help="Threads that run the model.")
    return parser.parse_args(argv)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything slow so a taken port fails at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class _QuietClientErrors(logging.Filter):
    """KServe logs every 400/404 with a traceback; one line says it (the client got the message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and type(record.exc_info[1]).__name__ in ("InvalidInput", "ModelNotFound"):
            record.msg, record.args = "refused a request: %s", (record.exc_info[1],)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def add_tf_serving_routes(app, model) -> str:
    """TF Serving's REST routes that KServe's V1 protocol lacks, ahead of KServe's own, and TF Serving's
    {"error": ...} for a path or method nothing answers (FastAPI's is {"detail": ...}); the paths answered,
    as messages name them."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException
    name = model.name
    api = (f"POST /v1/models/{name}[/versions/N]:predict, GET /v1/models/{name}[/versions/N], "
           f"GET /v1/models/{name}[/versions/N]/metadata")

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": message})

    def answer(model_name: str, version: Optional[str], work: Callable[[], Any]):
        if model_name != name:
            return error(404, f"no model named {model_name!r} here; this server serves {name!r}")
        if version is not None and not version.isdigit():
            return error(400, f"version {version!r} is not a number; a version is the pushed folder's number")
        try:
            return work()
        except pushed_model.NotServed as exc:
            return error(404, str(exc))

    # GET /v1/models/NAME: ahead of KServe's own route of that path, which answers {"name", "ready"}.
    # (GET /v1/models/NAME:predict never gets here: tf_serving_paths refuses it, as TF Serving does.)
    async def model_status(model_name: str):
        return answer(model_name, None, model.status)

    async def version_status(model_name: str, version: str):
        return answer(model_name, version, lambda: model.status(version))

    async def metadata(model_name: str, version: Optional[str] = None):
        return answer(model_name, version, lambda: model.metadata(version))

    async def version_predict(model_name: str, version: str, request: Request):
        refused = answer(model_name, version, lambda: None)
        if refused is not None:
            return refused
        headers: Dict[str, str] = {}
        try:  # a bad body raises KServe's InvalidInput, which its handler answers (400)
            result = await model.predict(await request.body(), response_headers=headers, version=version)
        except pushed_model.NotServed as exc:
            return error(404, str(exc))
        return Response(result, media_type="application/json", headers=headers)  # result: the JSON body

    async def classify_or_regress(model_name: str, request: Request, version: Optional[str] = None):
        method = request.url.path.rpartition(":")[2]
        signatures = model.served.signature_defs
        theirs = sorted({sig.get("method_name", "") for sig in signatures.values()})
        if f"tensorflow/serving/{method}" in theirs:
            why = f"this server answers :predict only, not TF Serving's :{method}."
        else:  # what TF Serving answers too: :classify/:regress run only signatures of that method
            why = (f"this model has no {method} signature (TF Serving's :{method} runs only a signature whose "
                   f"method is tensorflow/serving/{method}; this model's {', '.join(sorted(signatures))} have "
                   f"{', '.join(theirs)}), so TF Serving refuses it too.")
        return answer(model_name, version, lambda: error(400, (
            f"{why} Use POST /v1/models/{name}:predict with {{\"signature_name\": \"serving_raw\", "
            "\"instances\": [{feature: value, ...}]} (or serving_default's {\"instances\": [{\"b64\": "
            "serialized tf.Example}]})")))

    app.add_api_route("/v1/models/{model_name}", model_status, methods=["GET"])
    app.add_api_route("/v1/models/{model_name}/versions/{version}", version_status, methods=["GET"])
    app.add_api_route("/v1/models/{model_name}/metadata", metadata, methods=["GET"])
    app.add_api_route("/v1/models/{model_name}/versions/{version}/metadata", metadata, methods=["GET"])
    app.add_api_route("/v1/models/{model_name}/versions/{version}:predict", version_predict, methods=["POST"])
    for method in ("classify", "regress"):
        app.add_api_route(f"/v1/models/{{model_name}}:{method}", classify_or_regress, methods=["POST"])
        app.add_api_route(f"/v1/models/{{model_name}}/versions/{{version}}:{method}", classify_or_regress,
                          methods=["POST"])

    async def no_route(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            message = f"nothing answers {request.method} {request.url.path} here. This server answers {api}"
        elif exc.status_code == 405:
            message = f"{request.method} is not answered on {request.url.path}. This server answers {api}"
        else:
            message = str(exc.detail)
        return JSONResponse(status_code=exc.status_code, content={"error": message}, headers=exc.headers)
    app.add_exception_handler(HTTPException, no_route)
    return api


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}. Is a server already "
              "running there? Stop it or pick another --port.", file=sys.stderr)
        return 2
    if versions.serving_version(args.serving_dir) is None:
        print(f"error: no pushed model under {args.serving_dir} (a numeric folder holding saved_model.pb); "
              "run the pipeline first (`make run`), or point --output-dir at its output", file=sys.stderr)
        return 2
    sys.argv = sys.argv[:1]  # kserve.model_server parses sys.argv when imported
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import kserve
    from kserve.model_server import app
    from kserve.protocol.rest.server import RESTServer
    from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING

    model_server = kserve.ModelServer(http_port=args.port, enable_grpc=False, workers=1,
                                      enable_latency_logging=False)
    logging.getLogger("kserve").addFilter(_QuietClientErrors())
    logging.getLogger("uvicorn.access").disabled = True  # a line per request; TF Serving logs none either
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)  # likewise KServe's timing lines
    model = pushed_model.build_model_class()(args.model_name, args.serving_dir, args.poll_seconds, args.threads)
    try:
        model.load()
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 1
    model_server.register_model(model)
    model.start()

    api = add_tf_serving_routes(app, model)
    app.add_middleware(body_limit.BodyLimit, max_bytes=int(args.max_body_mb * 1e6), max_mb=args.max_body_mb)
    # Added last, so it runs first: the body limit and the routes see TF Serving's paths in lowercase.
    app.add_middleware(tf_serving_paths.TFServingPaths, api=api)

    rest = RESTServer(FASTAPI_APP_IMPORT_STRING, model_server.dataplane, model_server.model_repository_extension,
                      args.port, workers=1)
    rest.config.host = args.host  # RESTServer writes 0.0.0.0; the socket above decides, this is for its log
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving model {args.model_name!r} version {model.served.version} from {args.serving_dir}\n"
          f"  predict: POST http://{host}:{args.port}/v1/models/{args.model_name}:predict\n"
          f"  status:  GET  http://{host}:{args.port}/v1/models/{args.model_name}\n"
          f"new versions pushed there are picked up within {args.poll_seconds:g} s. Ctrl-C stops.", flush=True)
    # KServe 0.21's V1 route answers with ORJSONResponse, which FastAPI 0.165 warns about (set here,
    # after everything is imported and loaded: set before, it did not hold).
    from fastapi.exceptions import FastAPIDeprecationWarning
    warnings.filterwarnings("ignore", category=FastAPIDeprecationWarning)
    rest.run(sockets=[sock])
    model.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
