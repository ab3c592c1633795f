"""The serving check: does the candidate load and answer as a model server would?

TFX's InfraValidator starts TF Serving in Docker or Kubernetes, which Vertex AI Pipelines cannot
run (tensorflow/tfx#5512) and these machines do not have. This check does the same job anywhere:

1. the Trainer's serving model (`Format-Serving`) is copied to a scratch folder;
2. its graph is read for ops a server cannot run: `tf.py_function` / `tf.numpy_function`
   (PyFunc, EagerPyFunc, PyFuncStateless) call back into the Python process that built the model,
   so every other process (TF Serving, `predict`, a notebook tomorrow) fails on them;
3. the warm-up file (`assets.extra/tf_serving_warmup_requests`, what TF Serving replays at load) is
   read, and a fresh Python process that imports TensorFlow and nothing else (replay.py, run as
   `python -I -S -c`) loads the copy and replays every request through its signature: shapes,
   finite probabilities in [0, 1] that sum to 1 (a regression model: finite predictions), and the same rows giving the same probabilities
   through `serving_default` (tf.Examples) and `serving_raw` (raw features); then it times requests
   at batch 1 and 100.

The output is TFX's standard InfraBlessing: custom property `blessed` 1/0 (and the file
INFRA_BLESSED / INFRA_NOT_BLESSED) as InfraValidator sets it, so the stock Pusher's CheckBlessing
refuses an unblessed model; plus `reason`, `load_seconds`, `warmup_requests`, the latencies, and
`serving_check.json` with all of it.
"""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import serving_check as names
from components.serving_check import replay
from components.serving_check.graph import PYTHON_OPS, layer_of, python_ops, python_ops_reason  # noqa: F401

MODEL_KEY = "model"
BLESSING_KEY = "blessing"
TIMEOUT_KEY = "timeout_seconds"
DEFAULT_TIMEOUT_SECONDS = 600
WARMUP_FILE = os.path.join(names.ASSETS_EXTRA, names.WARMUP_FILE)
# What TF Serving reads at most from a warm-up file.
MAX_WARMUP_RECORDS = 1000
# Calls timed per signature: few, so the check stays a few seconds in every run.
REPEATS = {"1": 30, "100": 10}
# TFX's InfraValidator's marker files in the blessing's folder.
BLESSED_FILE, NOT_BLESSED_FILE = "INFRA_BLESSED", "INFRA_NOT_BLESSED"


class NotServable(Exception):
    """Found before starting the fresh process; the message is the reason, in a user's terms."""


def signature_names(model_dir: str) -> List[str]:
    from tensorflow.core.protobuf import saved_model_pb2
    saved_model = saved_model_pb2.SavedModel()
    with fileio.open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    return sorted({name for g in saved_model.meta_graphs for name in g.signature_def})


def warmup_requests(model_dir: str) -> List[Dict[str, Any]]:
    """The warm-up file's requests: [{"signature", "inputs": {name: base64 TensorProto}}]."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    path = os.path.join(model_dir, WARMUP_FILE)
    requests = []
    for index, record in enumerate(tf.data.TFRecordDataset(path)):
        data = record.numpy()
        if index >= MAX_WARMUP_RECORDS:
            raise NotServable(f"the warm-up file {WARMUP_FILE} holds more than {MAX_WARMUP_RECORDS} records, "
                              "more than TF Serving reads")
        log = prediction_log_pb2.PredictionLog.FromString(data)
        if log.WhichOneof("log_type") != "predict_log":
            raise NotServable(f"warm-up record {index + 1} is a {log.WhichOneof('log_type')}, not a predict "
                              "request; the serving contract's warm-up file holds PredictRequests")
        request = log.predict_log.request
        requests.append({"signature": request.model_spec.signature_name or names.DEFAULT_SIGNATURE,
                         "inputs": {name: base64.b64encode(tensor.SerializeToString()).decode("ascii")
                                    for name, tensor in request.inputs.items()}})
    if not requests:
        raise NotServable(f"the warm-up file {WARMUP_FILE} holds no request")
    return requests


def _site_dirs() -> List[str]:
    """The folder that holds TensorFlow (and its dependencies): all the fresh process may import from."""
    spec = importlib.util.find_spec("tensorflow")
    return [os.path.dirname(list(spec.submodule_search_locations)[0])]


def _static_checks(model_dir: str) -> None:
    if not (os.path.isfile(os.path.join(model_dir, "saved_model.pb"))):
        raise NotServable(f"the Trainer's model holds no SavedModel (no saved_model.pb in {model_dir})")
    ops = python_ops(model_dir)
    if ops:
        raise NotServable(python_ops_reason(ops))
    signatures = signature_names(model_dir)
    for needed in (names.DEFAULT_SIGNATURE, names.RAW_SIGNATURE):
        if needed not in signatures:
            raise NotServable(f"the model has no '{needed}' signature (it has {signatures}); it was exported "
                              "before the serving contract (README: What a run produces); train it again with "
                              "this version of the pipeline")
    if not os.path.isfile(os.path.join(model_dir, WARMUP_FILE)):
        raise NotServable(f"the model has no warm-up file ({WARMUP_FILE}), so a server cannot be checked "
                          "before it takes traffic; it was exported before the serving contract; train it "
                          "again with this version of the pipeline")


def run_fresh_process(job: Dict[str, Any], scratch: str, timeout: float) -> Dict[str, Any]:
    """Runs replay.py in `python -I -S` with `job`; returns its result (a failure result on a crash
    or timeout). Both pipes are read while it runs, so a chatty TensorFlow cannot block it."""
    job_path = os.path.join(scratch, "job.json")
    with open(job_path, "w") as f:
        json.dump(job, f)
    with open(replay.__file__) as f:
        source = f.read()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": scratch, "TMPDIR": scratch,
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "LANG": "C.UTF-8"}
    process = subprocess.Popen([sys.executable, "-I", "-S", "-c", source, job_path], cwd=scratch, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return {"blessed": False, "reason": f"the model did not load and answer its warm-up requests within "
                                            f"{timeout:.0f} s in a fresh TensorFlow process"}
    text = out.decode("utf-8", "replace")
    for line in reversed(text.splitlines()):
        if line.startswith(replay.RESULT_MARK):
            return json.loads(line[len(replay.RESULT_MARK):])
    tail = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()][-3:]
    return {"blessed": False, "reason": f"a fresh TensorFlow process died while loading the model (exit code "
                                        f"{process.returncode}): {' | '.join(tail) or 'no message'}"}


def check(model_dir: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Dict[str, Any]:
    """The whole check of one serving model folder (local or remote): a result dict, never raises
    for a model that does not serve."""
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="serving-check-") as scratch:
        copy = os.path.join(scratch, "model")
        try:
            if not fileio.exists(model_dir):
                raise NotServable(f"the Trainer's model folder {model_dir} does not exist")
            io_utils.copy_dir(model_dir, copy)  # the candidate itself is never opened by the check
            _static_checks(copy)
            job = {"model_dir": copy, "site_dirs": _site_dirs(), "requests": warmup_requests(copy),
                   "repeats": REPEATS}
            result = run_fresh_process(job, scratch, timeout)
        except NotServable as exc:
            result = {"blessed": False, "reason": str(exc)}
    result["model"] = model_dir
    result["seconds"] = time.time() - started
    return result


def properties_of(result: Dict[str, Any]) -> Dict[str, Any]:
    """The InfraBlessing's custom properties for a check result."""
    properties = {names.BLESSED: 1 if result.get("blessed") else 0, names.REASON: result.get("reason", "")}
    if "load_seconds" in result:
        properties[names.LOAD_SECONDS] = float(result["load_seconds"])
    if "requests" in result:
        properties[names.REQUESTS] = int(result["requests"])
    for signature, by_batch in result.get("latency_ms", {}).items():
        for batch in names.BATCH_SIZES:
            for percentile in (50, 99):
                value = by_batch.get(f"batch_{batch}", {}).get(f"p{percentile}")
                if value is not None:
                    properties[names.latency_key(signature, percentile, batch)] = float(value)
    return properties


def summary_line(properties: Dict[str, Any]) -> str:
    if properties.get(names.BLESSED):
        return names.passed_line(properties)
    return f"failed: {properties.get(names.REASON)}"


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[BLESSING_KEY])
        timeout = float(exec_properties.get(TIMEOUT_KEY) or DEFAULT_TIMEOUT_SECONDS)
        result = check(path_utils.serving_model_path(model.uri), timeout)
        properties = properties_of(result)
        fileio.makedirs(blessing.uri)
        io_utils.write_string_file(os.path.join(blessing.uri, names.RESULT_FILE),
                                   json.dumps(result, indent=1, sort_keys=True))
        io_utils.write_string_file(
            os.path.join(blessing.uri, BLESSED_FILE if properties[names.BLESSED] else NOT_BLESSED_FILE), "")
        for key, value in properties.items():
            if isinstance(value, int):
                blessing.set_int_custom_property(key, value)
            elif isinstance(value, float):
                blessing.set_float_custom_property(key, value)
            else:
                blessing.set_string_custom_property(key, value)
        logging.info(names.SERVING_CHECK_LOG, summary_line(properties))
