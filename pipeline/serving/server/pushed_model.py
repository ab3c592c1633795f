"""The pushed versions under one model name, as KServe serves them: one loaded version at a time,
the newest whole one (versions.py, the Pusher's rule), polled and swapped in whole.

A new version is loaded completely (and its warm-up requests replayed) before requests switch to
it, in one reference assignment, so no request fails during a switch; one that cannot be loaded
is logged, shown in the status as END with its error, and the old version keeps serving.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from typing import Any, Dict, Optional, Tuple

import versions  # this script's siblings (sys.path[0] is the server's folder)
from tf_serving_json import (DEFAULT_SIGNATURE, BadRequest, columns_to_tensors, format_response, read_request,
                             response_body, rows_to_tensors, tf_error_reason)

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
# Which version answered a predict request (TF Serving's REST answer does not say; its gRPC one does).
VERSION_HEADER = "x-model-version"


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
        self.signature_defs = _signature_defs(path)
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
            raise BadRequest(f"the model refused the input: {tf_error_reason(exc.message)}") from None
        return format_response({name: value.numpy() for name, value in outputs.items()}, key, rows)


def _signature_defs(path: str) -> Dict[str, Any]:
    """The SavedModel's SignatureDefs as TF Serving's metadata JSON writes them (proto field names,
    int64 as strings, empty fields kept), read from saved_model.pb(txt)."""
    from google.protobuf import json_format, text_format
    from tensorflow.core.protobuf import saved_model_pb2
    saved = saved_model_pb2.SavedModel()
    pb = os.path.join(path, versions.SERVED_FILES[0])
    if os.path.isfile(pb):
        with open(pb, "rb") as f:
            saved.ParseFromString(f.read())
    else:
        with open(os.path.join(path, versions.SERVED_FILES[1])) as f:
            text_format.Parse(f.read(), saved)
    graph = next((g for g in saved.meta_graphs if "serve" in g.meta_info_def.tags), saved.meta_graphs[0])
    return {name: json_format.MessageToDict(sig, preserving_proto_field_name=True,
                                            always_print_fields_with_no_presence=True)
            for name, sig in sorted(graph.signature_def.items())}


class NotServed(LookupError):
    """A version, or an API, this server does not serve (404 with the message)."""


def build_model_class():
    """The PushedModel class, a kserve.Model (made on call: kserve imports only in the serving venv)."""
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

        def served_as(self, version: Optional[str]) -> Served:
            """The served version; with `version` (/versions/N), only when it is that one."""
            served = self.served  # this request's version, whatever is swapped in meanwhile
            if version is not None and version != served.version:
                raise NotServed(f"version {version} of model {self.name!r} is not served here: this server serves "
                                f"the newest pushed version only, now {served.version} (TF Serving's "
                                "--model_version_policy latest)")
            return served

        async def predict(self, payload, headers=None, response_headers=None, version: Optional[str] = None):
            """TF Serving's predict; `version` from /versions/N:predict (KServe's route passes none)."""
            if not isinstance(payload, (bytes, bytearray, dict)):  # KServe's V2 route parsed an InferRequest
                raise InvalidInput("this server answers TF Serving's REST API (KServe's V1 protocol): POST "
                                   f"/v1/models/{self.name}:predict with {{\"instances\": [...]}}; the V2 "
                                   "(Open Inference) protocol is not served")
            served = self.served_as(version)
            if response_headers is not None:
                response_headers[VERSION_HEADER] = served.version
                # The body is written here (KServe's route sends bytes as they are; a dict it writes
                # with orjson, which writes a NaN output as null where TF Serving writes NaN).
                response_headers["content-type"] = "application/json"
            try:
                signature, key, data = read_request(payload)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(
                    self._pool, lambda: response_body(served.answer(signature, key, data)))
            except BadRequest as exc:
                raise InvalidInput(str(exc)) from None

        def status(self, version: Optional[str] = None) -> Dict[str, Any]:
            """TF Serving's GetModelStatus JSON: the served version AVAILABLE, newer ones that failed END;
            with `version` (/versions/N), that version's entry only."""
            served = self.served
            entries = [{"version": v, "state": "END", "status": {"error_code": "UNKNOWN", "error_message": m}}
                       for v, (_, m) in sorted(self.failed.items(), key=lambda kv: -int(kv[0]))
                       if served is None or int(v) > int(served.version)]
            if served is not None:
                entries.append({"version": served.version, "state": "AVAILABLE",
                                "status": {"error_code": "OK", "error_message": ""}})
            if version is not None:
                entries = [e for e in entries if e["version"] == version]
                if not entries:
                    raise NotServed(f"version {version} of model {self.name!r} is not served here, nor failed to "
                                    f"load; GET /v1/models/{self.name} lists the versions it knows")
            return {"model_version_status": entries}

        def metadata(self, version: Optional[str] = None) -> Dict[str, Any]:
            """TF Serving's GetModelMetadata JSON: the served version's signature defs."""
            served = self.served_as(version)
            return {"model_spec": {"name": self.name, "signature_name": "", "version": served.version},
                    "metadata": {"signature_def": {"signature_def": served.signature_defs}}}

    return PushedModel


def _mtime(path: str) -> float:
    for name in versions.SERVED_FILES:
        try:
            return os.stat(os.path.join(path, name)).st_mtime
        except OSError:
            continue
    return 0.0
