"""TF Serving's REST API over the pushed versions, on KServe's model server and a current TensorFlow.

Run by `python -m pipeline serve` in `.venv-serving` (see serve_env.py), as a script: it imports
only kserve, tensorflow, numpy (TensorFlow's) and the stdlib, never the pipeline's TF 2.15 code.

- `POST /v1/models/NAME:predict`: TF Serving's request and response JSON. Rows
  (`{"instances": [...]}` -> `{"predictions": [...]}`) or columns (`{"inputs": {...}}` ->
  `{"outputs": ...}`), `signature_name` (default `serving_default`), `{"b64": ...}` for bytes.
  KServe's V1 route and DataPlane carry it; `PushedModel.predict` reads TF Serving's formats.
- `GET /v1/models/NAME`: TF Serving's model status JSON. KServe's V1 route of that path answers
  `{"name", "ready"}`, so a route of our own is added to KServe's FastAPI app ahead of it.
- Versions: the newest whole numeric folder under the serving dir (versions.py, the Pusher's
  rule), polled every `--poll-seconds` as TF Serving's file system source does. A new version is
  loaded completely (and its warm-up requests replayed) before requests switch to it, in one
  reference assignment, so no request fails during a switch; one that cannot be loaded is
  logged, shown in the status as END with its error, and the old version keeps serving.
- A body over `--max-body-mb` gets 413; every other bad request a 400 with `{"error": ...}`
  naming what is wrong; an unknown model name 404. The server keeps serving.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import concurrent.futures
import json
import logging
import math
import os
import socket
import sys
import threading
import time
import warnings
from typing import Any, Dict, List, Optional, Tuple

import versions  # this script's sibling (sys.path[0] is its folder)

DEFAULT_SIGNATURE = "serving_default"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
_ROW_KEYS = ("instances", "inputs")
# Which version answered a predict request (TF Serving's REST answer does not say; its gRPC one does).
VERSION_HEADER = "x-model-version"


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


# ---------------------------------------------------------------------------------------------
# Reading TF Serving's request JSON into tensors


class BadRequest(ValueError):
    """What is wrong with a request, as the client is told (400)."""


def _dtype_text(dtype) -> str:
    return {"string": "a string (or {\"b64\": ...} for bytes)", "float32": "a number",
            "float64": "a number", "int64": "a whole number", "int32": "a whole number"}.get(
                dtype.name, dtype.name)


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _convert(name: str, value: Any, dtype, where: str) -> Any:
    """One JSON value (nested lists allowed) as the input's dtype; BadRequest when it is not one."""
    kind = dtype.name
    if kind == "string":
        if type(value) is str:
            return value.encode("utf-8")
        if _is_b64(value) and isinstance(value["b64"], str):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"input {name!r}{where}: {{\"b64\": ...}} holds no valid base64") from None
    elif kind.startswith("float"):
        if type(value) in (float, int):
            return float(value)
    elif kind.startswith("int"):
        if type(value) is int:
            return value
        if type(value) is float and value.is_integer():
            return int(value)
    else:
        raise BadRequest(f"input {name!r}: this server cannot feed a {kind} input from JSON")
    if isinstance(value, list):
        return [_convert(name, v, dtype, where) for v in value]
    raise BadRequest(f"input {name!r}{where}: expected {_dtype_text(dtype)} ({kind}), got {json.dumps(value)}")


def to_tensor(name: str, values: List[Any], spec, where_rows: bool):
    """The values of one input (one per row, or one column) as an array that fits its TensorSpec."""
    import numpy as np
    kind = spec.dtype.name
    # The common case, checked in one pass: scalars of the right JSON type. Anything else (b64,
    # nested lists, a wrong value) goes value by value, which also names the row that is wrong.
    if kind.startswith("float") and all(type(v) is float or type(v) is int for v in values):
        converted = values
    elif kind.startswith("int") and all(type(v) is int for v in values):
        converted = values
    elif kind == "string" and all(type(v) is str for v in values):
        converted = [v.encode("utf-8") for v in values]
    else:
        converted = [_convert(name, v, spec.dtype, f" (row {i + 1})" if where_rows else "")
                     for i, v in enumerate(values)]
    try:
        array = np.array(converted, dtype=object if spec.dtype.name == "string" else spec.dtype.as_numpy_dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRequest(f"input {name!r}: the values do not form a tensor ({exc}); expected shape "
                         f"{_shape_text(spec.shape)}") from None
    if spec.dtype.name == "string" and array.dtype == object and any(
            isinstance(x, list) for x in array.reshape(-1)):
        raise BadRequest(f"input {name!r}: rows of different lengths; expected shape {_shape_text(spec.shape)}")
    if not spec.shape.is_compatible_with(array.shape):
        per_row = " (one value per row)" if spec.shape.rank == 1 else ""
        raise BadRequest(f"input {name!r}: shape {list(array.shape)} does not fit the signature's "
                         f"{_shape_text(spec.shape)}{per_row}")
    return array


def _shape_text(shape) -> str:
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape.as_list()) + "]" if shape.rank is not None \
        else "any shape"


def _inputs_text(specs: Dict[str, Any]) -> str:
    return ", ".join(f"{n} ({s.dtype.name} {_shape_text(s.shape)})" for n, s in sorted(specs.items()))


def _check_names(given, specs: Dict[str, Any], where: str) -> None:
    missing = sorted(set(specs) - set(given))
    unknown = sorted(set(given) - set(specs))
    if missing or unknown:
        parts = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + \
                ([f"unknown {', '.join(map(repr, unknown))}"] if unknown else [])
        raise BadRequest(f"{where}: {'; '.join(parts)}. The signature's inputs: {_inputs_text(specs)}")


def read_request(body: Any) -> Tuple[str, str, Any]:
    """(signature name, 'instances' or 'inputs', the data) of a request body (bytes or parsed JSON)."""
    if isinstance(body, (bytes, bytearray)):
        # Python's json, not KServe's orjson: like TF Serving's parser it takes the literals NaN and
        # Infinity, and NaN is how a serving_raw client sends a missing number (SERVING_CONTRACT).
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the request body is not JSON ({exc}); send a JSON object such as "
                             "{\"instances\": [{...}, ...]}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a JSON object with \"instances\" (rows) or \"inputs\" "
                         f"(columns), not a JSON {type(body).__name__}")
    signature = body.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(signature, str):
        raise BadRequest(f"\"signature_name\" must be a string, got {json.dumps(signature)}")
    present = [key for key in _ROW_KEYS if key in body]
    if len(present) != 1:
        raise BadRequest("the request needs exactly one of \"instances\" (a list of rows) or \"inputs\" "
                         f"(columns); it has {'both' if present else 'neither'}"
                         + ("" if present else f" (keys: {', '.join(sorted(body)) or 'none'})"))
    return signature, present[0], body[present[0]]


def rows_to_tensors(instances: Any, specs: Dict[str, Any]) -> Tuple[Dict[str, Any], int]:
    """TF Serving's row format: a list of rows; a row is {input: value}, or the value itself when the
    signature has one input."""
    if not isinstance(instances, list):
        raise BadRequest(f"\"instances\" must be a list of rows, got a JSON {type(instances).__name__}")
    if not instances:
        raise BadRequest("\"instances\" is empty: send at least one row")
    names = list(specs)
    columns: Dict[str, List[Any]] = {name: [] for name in names}
    for i, row in enumerate(instances):
        if len(names) == 1 and not (isinstance(row, dict) and not _is_b64(row)):
            columns[names[0]].append(row)
            continue
        if not isinstance(row, dict) or _is_b64(row):
            raise BadRequest(f"row {i + 1} of \"instances\" must be an object keyed by input name, got "
                             f"{json.dumps(row)[:200]}. The signature's inputs: {_inputs_text(specs)}")
        _check_names(row, specs, f"row {i + 1} of \"instances\"")
        for name in names:
            columns[name].append(row[name])
    return {name: to_tensor(name, values, specs[name], True) for name, values in columns.items()}, len(instances)


def columns_to_tensors(inputs: Any, specs: Dict[str, Any]) -> Tuple[Dict[str, Any], int]:
    """TF Serving's columnar format: {input: batch of values}, or the batch itself when the
    signature has one input."""
    names = list(specs)
    if len(names) == 1 and not (isinstance(inputs, dict) and not _is_b64(inputs)):
        inputs = {names[0]: inputs}
    if not isinstance(inputs, dict):
        raise BadRequest(f"\"inputs\" must be an object keyed by input name, got a JSON {type(inputs).__name__}. "
                         f"The signature's inputs: {_inputs_text(specs)}")
    _check_names(inputs, specs, "\"inputs\"")
    tensors = {}
    for name in names:
        values = inputs[name]
        if not isinstance(values, list):
            raise BadRequest(f"input {name!r}: expected a list (one value per row), got {json.dumps(values)[:200]}")
        tensors[name] = to_tensor(name, values, specs[name], False)
    sizes = {name: (t.shape[0] if t.ndim else 1) for name, t in tensors.items()}
    if len(set(sizes.values())) > 1:
        raise BadRequest(f"the inputs have different numbers of rows: "
                         f"{', '.join(f'{n} {s}' for n, s in sorted(sizes.items()))}")
    size = next(iter(sizes.values()))
    if size == 0:
        raise BadRequest("\"inputs\" holds no rows: send at least one value per input")
    return tensors, size


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


def _tolist(array) -> Any:
    listed = array.tolist()

    def walk(v):
        return [walk(x) for x in v] if isinstance(v, list) else _json_value(v)
    return walk(listed)


def format_response(outputs: Dict[str, Any], key: str, rows: int) -> Dict[str, Any]:
    """TF Serving's response JSON: rows -> {"predictions": [...]}, columns -> {"outputs": ...}; a
    single output is given bare, several keyed by name."""
    listed = {name: _tolist(value) for name, value in outputs.items()}
    if key == "inputs":
        return {"outputs": next(iter(listed.values())) if len(listed) == 1 else listed}
    for name, value in listed.items():
        if not isinstance(value, list) or len(value) != rows:
            raise RuntimeError(f"output {name!r} has no row per instance; ask for \"inputs\" (columns) instead")
    if len(listed) == 1:
        return {"predictions": next(iter(listed.values()))}
    return {"predictions": [{name: listed[name][i] for name in listed} for i in range(rows)]}


# ---------------------------------------------------------------------------------------------
# One loaded version


class Served:
    """One loaded version: its signatures and their input specs."""

    def __init__(self, version: str, path: str):
        import tensorflow as tf
        self.version, self.path = version, path
        self.loaded = tf.saved_model.load(path)  # keeps the signatures' resources alive
        self.signatures = dict(self.loaded.signatures)
        if DEFAULT_SIGNATURE not in self.signatures:
            raise ValueError(f"it has no {DEFAULT_SIGNATURE!r} signature (it has: {', '.join(self.signatures)})")
        self.input_specs = {name: dict(sig.structured_input_signature[1]) for name, sig in self.signatures.items()}
        self.warmed = self._warm_up()

    def _warm_up(self) -> int:
        """Replays assets.extra/tf_serving_warmup_requests as TF Serving does; the number replayed."""
        path = os.path.join(self.path, WARMUP_FILE)
        if not os.path.isfile(path):
            return 0
        import warmup  # this script's sibling
        count = 0
        for signature, inputs in warmup.read_requests(path):
            if signature not in self.signatures:
                raise ValueError(f"its warm-up request {count + 1} names signature {signature!r}, which it has not")
            self.signatures[signature](**inputs)
            count += 1
        return count

    def answer(self, signature: str, key: str, data: Any) -> Dict[str, Any]:
        import tensorflow as tf
        specs = self.input_specs.get(signature)
        if specs is None:
            raise BadRequest(f"signature {signature!r} not found; this model has: {', '.join(sorted(self.signatures))}")
        tensors, rows = (rows_to_tensors if key == "instances" else columns_to_tensors)(data, specs)
        try:
            outputs = self.signatures[signature](**{n: tf.constant(t, dtype=specs[n].dtype) for n, t in tensors.items()})
        except tf.errors.InvalidArgumentError as exc:
            raise BadRequest(f"the model refused the input: {_tf_reason(exc.message)}") from None
        return format_response({name: value.numpy() for name, value in outputs.items()}, key, rows)


def _tf_reason(message: str) -> str:
    """The line of a TensorFlow error that says what was wrong (not 'Graph execution error:')."""
    lines = [line.strip() for line in message.splitlines() if line.strip()
             and not line.strip().startswith(("Graph execution error", "[[", "Detected at node"))]
    reason = lines[0] if lines else message.strip()
    return reason.split(" [Op:")[0]


# ---------------------------------------------------------------------------------------------
# KServe


def build_model_class():
    import kserve
    from kserve.errors import InvalidInput

    class PushedModel(kserve.Model):
        """The pushed versions under one name; the served one is swapped whole when a new one loads."""

        def __init__(self, name: str, serving_dir: str, poll_seconds: float, threads: int):
            super().__init__(name, return_response_headers=True)
            self.serving_dir = serving_dir
            self.poll_seconds = poll_seconds
            self.served: Optional[Served] = None
            self.failed: Dict[str, Tuple[float, str]] = {}  # version -> (saved_model mtime, error)
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="model")
            self._stop = threading.Event()
            self.log = logging.getLogger("kserve")

        def load(self) -> bool:
            found = versions.serving_version(self.serving_dir)
            if found is None:
                raise SystemExit(f"error: no pushed model under {self.serving_dir} (a numeric folder holding "
                                 "saved_model.pb); run the pipeline first (`make run`), or pass --output-dir")
            self.served = self._load(*found)
            if self.served is None:
                raise SystemExit(f"error: version {found[0]} at {found[1]} cannot be loaded: {self.failed[found[0]][1]}")
            self.ready = True
            return True

        def _load(self, version: str, path: str) -> Optional[Served]:
            started = time.monotonic()
            try:
                served = Served(version, path)
            except Exception as exc:  # pylint: disable=broad-except
                message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                self.failed[version] = (_mtime(path), message)
                self.log.error("version %s at %s cannot be loaded, so it is not served: %s", version, path, message)
                return None
            self.log.info("loaded version %s from %s in %.1f s (signatures: %s; warm-up requests replayed: %d)",
                          version, path, time.monotonic() - started, ", ".join(sorted(served.signatures)),
                          served.warmed)
            return served

        def poll_once(self) -> None:
            for version in [v for v in self.failed if not os.path.isdir(os.path.join(self.serving_dir, v))]:
                del self.failed[version]  # removed: no longer reported
            found = versions.serving_version(self.serving_dir)
            current = self.served
            if found is None or (current and found[0] == current.version):
                return
            version, path = found
            if version in self.failed and self.failed[version][0] == _mtime(path):
                return  # already failed as it is now; tried again when its files change
            served = self._load(version, path)
            if served is not None:
                self.served = served  # one reference swap: requests in flight finish on the old one
                self.failed.pop(version, None)
                self.log.info("now serving version %s (was %s)", version, current.version if current else "none")

        def poll_forever(self) -> None:
            while not self._stop.wait(self.poll_seconds):
                try:
                    self.poll_once()
                except Exception:  # pylint: disable=broad-except
                    self.log.exception("polling %s failed; still serving version %s", self.serving_dir,
                                       self.served.version if self.served else "none")

        def start(self) -> None:
            threading.Thread(target=self.poll_forever, name="version-poller", daemon=True).start()

        def stop(self) -> None:
            self._stop.set()

        async def predict(self, payload, headers=None, response_headers=None):
            served = self.served  # this request's version, whatever is swapped in meanwhile
            if response_headers is not None:
                response_headers[VERSION_HEADER] = served.version
            try:
                signature, key, data = read_request(payload)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, served.answer, signature, key, data)
            except BadRequest as exc:
                raise InvalidInput(str(exc)) from None

        def status(self) -> Dict[str, Any]:
            """TF Serving's GetModelStatus JSON: the served version AVAILABLE, newer ones that failed END."""
            served = self.served
            entries = [{"version": v, "state": "END", "status": {"error_code": "UNKNOWN", "error_message": m}}
                       for v, (_, m) in sorted(self.failed.items(), key=lambda kv: -int(kv[0]))
                       if served is None or int(v) > int(served.version)]
            if served is not None:
                entries.append({"version": served.version, "state": "AVAILABLE",
                                "status": {"error_code": "OK", "error_message": ""}})
            return {"model_version_status": entries}

    return PushedModel


def _mtime(path: str) -> float:
    for name in versions.SERVED_FILES:
        try:
            return os.stat(os.path.join(path, name)).st_mtime
        except OSError:
            continue
    return 0.0


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 with a JSON error, before the app
    reads it. The body is read here (the app would read it whole anyway) and handed on.

    It also marks a predict request's body as not JSON-typed, so KServe's DataPlane hands the bytes
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
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}],
                                      receive), send)


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


class _QuietClientErrors(logging.Filter):
    """KServe logs every 400/404 with a traceback; one line says it (the client got the message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and type(record.exc_info[1]).__name__ in ("InvalidInput", "ModelNotFound"):
            record.msg, record.args = "refused a request: %s", (record.exc_info[1],)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


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
    from fastapi.responses import JSONResponse

    model_server = kserve.ModelServer(http_port=args.port, enable_grpc=False, workers=1,
                                      enable_latency_logging=False)
    logging.getLogger("kserve").addFilter(_QuietClientErrors())
    logging.getLogger("uvicorn.access").disabled = True  # a line per request; TF Serving logs none either
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)  # likewise KServe's timing lines
    model = build_model_class()(args.model_name, args.serving_dir, args.poll_seconds, args.threads)
    try:
        model.load()
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 1
    model_server.register_model(model)
    model.start()

    # Ahead of KServe's own GET route of the same path, which answers {"name", "ready"}.
    async def model_status(model_name: str):
        found = model_server.registered_models.get_model(model_name)
        if found is None:
            return JSONResponse(status_code=404, content={
                "error": f"no model named {model_name!r} here; this server serves {args.model_name!r}"})
        return found.status()
    app.add_api_route("/v1/models/{model_name}", model_status, methods=["GET"])
    app.add_middleware(BodyLimit, max_bytes=int(args.max_body_mb * 1e6), max_mb=args.max_body_mb)

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
