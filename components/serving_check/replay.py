"""The serving check's fresh process: load a SavedModel and replay warm-up requests, TensorFlow only.

Self-contained on purpose: the executor runs this file's source with `python -I -S -c`, so the
process starts with no site-packages, no .pth hooks (the project's editable install is one), no
working directory on sys.path, and then adds only the folders given in the job file, those that
hold TensorFlow. It imports the standard library and TensorFlow, nothing of the project and
nothing of the user's code, as a model server would. It prints one line, RESULT_MARK + JSON.

The job file (JSON, argv[1]): {"model_dir", "site_dirs": [...], "requests": [{"signature",
"inputs": {name: base64 of a serialized TensorProto}}], "repeats": {"1": n, "100": n}}.
"""
import base64
import json
import math
import sys
import time

RESULT_MARK = "SERVING_CHECK_RESULT "
TOLERANCE = 1e-5          # raw vs tf.Example probabilities of the same rows
PROBABILITY_SLACK = 1e-5  # float32 rounding around [0, 1] and around a row sum of 1
DEFAULT, RAW = "serving_default", "serving_raw"


class CheckFailed(Exception):
    """The model does not serve as a server needs; the message says what, in a user's terms."""


_NOISE = ("Graph execution error", "Detected at node", "<stack traces", "Traceback", "File ", "[[", "raise ")


def first_line(exc, most=400):
    """The line of an error that says what went wrong (TensorFlow's start with where, not what)."""
    text = [t.strip() for t in str(exc).splitlines() if t.strip()]
    line = next((t for t in text if not t.startswith(_NOISE)), text[0] if text else type(exc).__name__)
    node = next((t[len("Detected at node "):].split(" ")[0] for t in text if t.startswith("Detected at node ")), "")
    line = f"{line} (at node {node})" if node else line
    return (line[:most] + "...") if len(line) > most else line


def _percentile(values, q):
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(math.ceil(q / 100.0 * len(ordered))) - 1))
    return ordered[rank]


def main(job_path):
    started = time.perf_counter()
    with open(job_path) as f:
        job = json.load(f)
    sys.path.extend(job["site_dirs"])
    result = {"blessed": False, "reason": "", "sys_path": list(sys.path)}
    try:
        import numpy as np
        import tensorflow as tf
        from tensorflow.core.framework import tensor_pb2
        result["tensorflow_version"] = tf.__version__
        result["import_seconds"] = time.perf_counter() - started
        result.update(_check(job, tf, np, tensor_pb2))
        result["blessed"] = True
    except CheckFailed as exc:
        result["reason"] = str(exc)
    except Exception as exc:  # pylint: disable=broad-except
        result["reason"] = f"the check itself failed: {type(exc).__name__}: {first_line(exc)}"
    result["modules_of_the_project"] = sorted(
        m for m in sys.modules if m.split(".")[0] in ("components", "pipeline", "examples"))
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


def _load(job, tf):
    started = time.perf_counter()
    try:
        loaded = tf.saved_model.load(job["model_dir"])
    except Exception as exc:  # pylint: disable=broad-except
        message = first_line(exc)
        if "Op type not registered" in message:
            raise CheckFailed(f"a fresh TensorFlow {tf.__version__} process cannot load the model: {message}. The "
                              "model uses an op that plain TensorFlow (and TF Serving) does not have") from None
        raise CheckFailed(f"a fresh TensorFlow {tf.__version__} process cannot load the model: {message}") from None
    return loaded, time.perf_counter() - started


def _call(signature, inputs, tf):
    outputs = signature(**{name: tf.constant(value) for name, value in inputs.items()})
    return {name: tensor.numpy() for name, tensor in outputs.items()}


def _check_predictions(where, rows, outputs, np):
    """A regression model's answer: finite numbers, one per row (no range: they are the label's units)."""
    p = outputs["predictions"]
    if p.ndim != 2 or p.shape[0] != rows or p.shape[1] != 1:
        raise CheckFailed(f"{where}: 'predictions' has shape {list(p.shape)}, expected [{rows}, 1]")
    if not np.all(np.isfinite(p)):
        raise CheckFailed(f"{where}: 'predictions' holds NaN or Inf ({int(np.sum(~np.isfinite(p)))} values)")
    return p


def _check_outputs(index, name, rows, outputs, np):
    where = f"warm-up request {index + 1} ({name}, {rows} rows)"
    if "predictions" in outputs and "probabilities" not in outputs:
        return _check_predictions(where, rows, outputs, np)
    if "probabilities" not in outputs:
        raise CheckFailed(f"{where}: the answer has no 'probabilities' output (it has {sorted(outputs)})")
    p = outputs["probabilities"]
    if p.ndim != 2 or p.shape[0] != rows or p.shape[1] < 1:
        raise CheckFailed(f"{where}: 'probabilities' has shape {list(p.shape)}, expected [{rows}, k]")
    if not np.all(np.isfinite(p)):
        raise CheckFailed(f"{where}: 'probabilities' holds NaN or Inf ({int(np.sum(~np.isfinite(p)))} values)")
    if p.min() < -PROBABILITY_SLACK or p.max() > 1 + PROBABILITY_SLACK:
        raise CheckFailed(f"{where}: 'probabilities' are not in [0, 1] (min {p.min():.6g}, max {p.max():.6g})")
    if p.shape[1] > 1:
        sums = p.sum(axis=1)
        worst = float(np.max(np.abs(sums - 1)))
        if worst > max(PROBABILITY_SLACK, 1e-6 * p.shape[1]) * 10:
            raise CheckFailed(f"{where}: the class probabilities of a row do not sum to 1 (off by up to {worst:.3g})")
    k = p.shape[1]
    if name == DEFAULT:
        # The class of each column; a binary model's one column is the positive class, and its
        # all_classes names both classes (TFMA reads the label's classes from it).
        classes = outputs.get("all_classes")
        widths = (1, 2) if k == 1 else (k,)
        if classes is None or classes.ndim != 2 or classes.shape[0] != rows or classes.shape[1] not in widths:
            raise CheckFailed(f"{where}: 'all_classes' has shape {None if classes is None else list(classes.shape)}, "
                              f"expected [{rows}, {' or '.join(str(w) for w in widths)}]")
    if name == RAW:
        for output in ("class_name", "class_id"):
            if output not in outputs or list(outputs[output].shape) != [rows]:
                got = list(outputs[output].shape) if output in outputs else "no such output"
                raise CheckFailed(f"{where}: '{output}' is {got}, expected shape [{rows}]")
        expected = (p[:, 0] >= 0.5).astype(np.int64) if k == 1 else p.argmax(axis=1)
        if not np.array_equal(outputs["class_id"].astype(np.int64), expected):
            raise CheckFailed(f"{where}: 'class_id' is not the class of the highest probability")
    return p


def _rows(name, inputs):
    if not inputs:
        return 0
    return int(next(iter(inputs.values())).shape[0]) if next(iter(inputs.values())).ndim else 1


def _timed(signature, inputs, repeats, tf):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        _call(signature, inputs, tf)
        times.append((time.perf_counter() - started) * 1000.0)
    return {"p50": _percentile(times, 50), "p99": _percentile(times, 99), "calls": repeats}


def _check(job, tf, np, tensor_pb2):
    loaded, load_seconds = _load(job, tf)
    signatures = dict(loaded.signatures)
    requests = []
    for record in job["requests"]:
        inputs = {name: tf.make_ndarray(tensor_pb2.TensorProto.FromString(base64.b64decode(value)))
                  for name, value in record["inputs"].items()}
        requests.append((record["signature"], inputs))
    answers = []
    for index, (name, inputs) in enumerate(requests):
        if name not in signatures:
            raise CheckFailed(f"warm-up request {index + 1} asks for the signature '{name}', which the model does "
                              f"not have (it has {sorted(signatures)}); TF Serving refuses to load such a model")
        rows = _rows(name, inputs)
        try:
            outputs = _call(signatures[name], inputs, tf)
        except Exception as exc:  # pylint: disable=broad-except
            raise CheckFailed(f"warm-up request {index + 1} ({name}, {rows} rows) failed in a fresh TensorFlow "
                              f"process: {type(exc).__name__}: {first_line(exc)}") from None
        answers.append((name, rows, _check_outputs(index, name, rows, outputs, np)))
    compared = 0
    for index in range(len(answers) - 1):
        (first, rows, p), (second, rows2, q) = answers[index], answers[index + 1]
        if first == DEFAULT and second == RAW and rows == rows2:
            # Relative to the values' size: a regression's predictions are in the label's units.
            scale = np.maximum(1.0, np.abs(p)) if p.shape == q.shape else 1.0
            worst = float(np.max(np.abs(p - q) / scale)) if p.shape == q.shape else float("inf")
            if worst > TOLERANCE:
                raise CheckFailed(f"warm-up requests {index + 1} and {index + 2}: the same {rows} rows get different "
                                  f"outputs through {DEFAULT} (tf.Example) and {RAW} (raw features): "
                                  f"off by up to {worst:.3g}, more than {TOLERANCE:g}")
            compared += 1
    if not compared:
        raise CheckFailed(f"the warm-up file has no {DEFAULT} request followed by a {RAW} request over the same "
                          "rows, so the two signatures could not be compared")
    latency = {}
    for name in (DEFAULT, RAW):
        mine = [inputs for n, inputs in requests if n == name]
        smallest = min(mine, key=lambda i: _rows(name, i))
        largest = max(mine, key=lambda i: _rows(name, i))
        one = {k: v[:1] for k, v in smallest.items()}
        hundred = {k: np.resize(v, (100,) + v.shape[1:]) for k, v in largest.items()}
        latency[name] = {"batch_1": _timed(signatures[name], one, int(job["repeats"]["1"]), tf),
                         "batch_100": _timed(signatures[name], hundred, int(job["repeats"]["100"]), tf)}
    return {"load_seconds": load_seconds, "requests": len(requests), "pairs_compared": compared,
            "signatures": sorted(signatures), "latency_ms": latency}


if __name__ == "__main__":
    main(sys.argv[1])
