"""`python -m pipeline serve`: TF Serving's REST API on KServe, over what a real pipeline run pushed.

One small real `python -m pipeline run` and one server for the module, started as a user starts
them (the first `serve` builds .venv-serving). The server runs TensorFlow 2.21 on a model the
pipeline exported with TF 2.15; its answers are checked against the pipeline's own TF 2.15 code
(`pipeline.serving.predict.score`) and `python -m pipeline predict`, which share nothing with it.
"""
from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from components.trainer.features import features_from_schema, load_schema
from pipeline import config as config_lib
from pipeline.serving import model as serving
from pipeline.serving import predict
from tests.pipeline.serving.conftest import Server, call, exchange

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(60)]

RAW = "serving_raw"
VERSION_HEADER = "x-model-version"
ROWS = 6


@pytest.fixture(scope="module")
def features():
    return features_from_schema(load_schema(config_lib.DEFAULT_SCHEMA), config_lib.DEFAULT_LABEL)


@pytest.fixture(scope="module")
def pushed(small_taxi_dir, tmp_path_factory):
    """A small real run (60 steps, any accuracy blessed): its output dir and the pushed version folder."""
    output_dir = str(tmp_path_factory.mktemp("serve") / "out")
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--data-root", small_taxi_dir, "--output-dir", output_dir,
         "--train-steps", "60", "--min-accuracy", "0", "--seed", "5"],
        capture_output=True, text=True, timeout=900, cwd=config_lib.PROJECT_ROOT)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    version_dir = serving.latest_version(os.path.join(output_dir, "serving_model"))
    assert version_dir
    return output_dir, version_dir


@pytest.fixture(scope="module")
def server(pushed, tmp_path_factory):
    output_dir, _ = pushed
    running = Server(output_dir, str(tmp_path_factory.mktemp("serve-log") / "serve.log"))
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def csv_rows(small_taxi_dir):
    """The first rows of the run's CSV, some with empty cells (missing values)."""
    with open(os.path.join(small_taxi_dir, "data.csv"), newline="") as f:
        rows = [row for _, row in zip(range(200), csv.DictReader(f))]
    by_gaps = sorted(rows, key=lambda r: sum(v == "" for v in r.values()))
    chosen = by_gaps[:ROWS // 2] + by_gaps[-(ROWS - ROWS // 2):]  # the fullest rows and the emptiest
    assert sum(v == "" for v in chosen[-1].values()) > sum(v == "" for v in chosen[0].values())
    return chosen


def raw_row(row, features):
    """A CSV row as serving_raw's JSON row: typed by the schema; an empty cell as the contract says
    (NaN for FLOAT, int64's minimum for INT, "" for BYTES)."""
    out = {}
    for feature in features.features:
        value = row.get(feature.name, "")
        if feature.dtype.name == "string":
            out[feature.name] = value
        elif feature.dtype.name == "int64":
            out[feature.name] = int(value) if value != "" else -2 ** 63
        else:
            out[feature.name] = float(value) if value != "" else float("nan")
    return out


def b64(row, features):
    return {"b64": base64.b64encode(serving.to_example(row, features).SerializeToString()).decode()}


@pytest.fixture(scope="module")
def expected(pushed, csv_rows, features):
    """Probabilities from the pipeline's own TF 2.15 code on the same rows as tf.Examples."""
    return [p[0] for p in predict.score(predict.load_signature(pushed[1]),
                                        [serving.to_example(r, features) for r in csv_rows], features.label)]


def close(a, b) -> bool:
    return abs(a - b) < 1e-5


def test_status_is_tf_servings_json(server, pushed):
    status, body = call(server.status_url)
    assert status == 200
    assert body == {"model_version_status": [{"version": os.path.basename(pushed[1]), "state": "AVAILABLE",
                                              "status": {"error_code": "OK", "error_message": ""}}]}


def test_the_exports_warm_up_requests_were_replayed_before_serving(server, pushed):
    """The warm-up file (TF Serving's PredictionLog TFRecord, written by the Trainer with the real
    tensorflow-serving-api protos) is read by the server without that package and replayed."""
    import tensorflow as tf
    records = sum(1 for _ in tf.data.TFRecordDataset(
        os.path.join(pushed[1], "assets.extra", "tf_serving_warmup_requests")))
    assert records >= 2
    assert f"warm-up requests replayed: {records})" in server.log_text()


def test_rows_through_serving_raw_in_tf_2_21_match_the_pipelines_tf_2_15(server, csv_rows, features, expected):
    status, body = server.predict({"signature_name": RAW, "instances": [raw_row(r, features) for r in csv_rows]})
    assert status == 200, body
    assert len(body["predictions"]) == len(csv_rows)
    for prediction, p in zip(body["predictions"], expected):
        assert close(prediction["probabilities"][0], p), (prediction, p)
        assert prediction["class_id"] == int(p >= 0.5)


def test_columns_through_serving_raw(server, csv_rows, features, expected):
    rows = [raw_row(r, features) for r in csv_rows]
    status, body = server.predict({"signature_name": RAW, "inputs": {n: [r[n] for r in rows] for n in rows[0]}})
    assert status == 200, body
    assert all(close(got[0], p) for got, p in zip(body["outputs"]["probabilities"], expected))
    assert body["outputs"]["class_id"] == [int(p >= 0.5) for p in expected]


def test_rows_and_columns_through_serving_default_take_base64_examples(server, csv_rows, features, expected):
    examples = [b64(r, features) for r in csv_rows]
    status, body = server.predict({"instances": examples})  # signature_name defaults to serving_default
    assert status == 200, body
    assert all(close(p["probabilities"][0], want) for p, want in zip(body["predictions"], expected))
    status, body = server.predict({"signature_name": "serving_default", "inputs": {"examples": examples}})
    assert status == 200, body
    assert all(close(got[0], want) for got, want in zip(body["outputs"]["probabilities"], expected))


def test_the_served_class_name_is_what_predict_gives(server, pushed, csv_rows, features, tmp_path):
    source = tmp_path / "rows.csv"
    with open(source, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(csv_rows[0]))
        writer.writeheader()
        writer.writerows(csv_rows)
    # `python -m pipeline predict --model DIR`'s own function, in this process (TF 2.15).
    scored, rejected, _ = predict.predict_csv(str(source), str(tmp_path / "scored.csv"), pushed[1])
    assert (scored, rejected) == (len(csv_rows), 0)
    with open(tmp_path / "scored.csv", newline="") as f:
        predicted = [row["predicted_class"] for row in csv.DictReader(f)]
    status, body = server.predict({"signature_name": RAW, "instances": [raw_row(r, features) for r in csv_rows]})
    assert status == 200, body
    assert [p["class_name"] for p in body["predictions"]] == predicted


def good(features, csv_rows):
    return raw_row(csv_rows[0], features)


def bad_requests(features, csv_rows):
    row = good(features, csv_rows)
    number = next(f.name for f in features.features if f.dtype.name == "float32")
    whole = next(f.name for f in features.features if f.dtype.name == "int64")
    first = features.features[0].name
    text = next(f.name for f in features.features if f.dtype.name == "string")
    without = {k: v for k, v in row.items() if k != first}
    return {
        "not JSON": (b"{'instances': [", "not JSON"),
        "not an object": ([row], "JSON object"),
        "no instances": ({"signature_name": RAW, "instances": []}, "empty"),
        "neither instances nor inputs": ({"signature_name": RAW, "rows": [row]}, "neither"),
        "both instances and inputs": ({"instances": [row], "inputs": {}}, "both"),
        "missing feature": ({"signature_name": RAW, "instances": [without]}, f"missing {first!r}"),
        "unknown feature": ({"signature_name": RAW, "instances": [dict(row, tip_share=1)]}, "unknown 'tip_share'"),
        "wrong type": ({"signature_name": RAW, "instances": [dict(row, **{number: "far"})]},
                       f"input {number!r} (row 1): expected a number"),
        "fraction for an integer": ({"signature_name": RAW, "instances": [dict(row, **{whole: 1.5})]},
                                    f"input {whole!r} (row 1): expected a whole number"),
        "wrong shape": ({"signature_name": RAW, "instances": [dict(row, **{number: [1.0, 2.0]})]},
                        f"input {number!r}: shape [1, 2]"),
        "columns of different lengths": ({"signature_name": RAW, "inputs": {
            k: [v, v] if k == first else [v] for k, v in row.items()}}, "different numbers of rows"),
        "unknown signature": ({"signature_name": "serving_nope", "instances": [row]},
                              "signature 'serving_nope' not found"),
        "not base64": ({"instances": [{"b64": "%%%"}]}, "no valid base64"),
        "not a tf.Example": ({"instances": [{"b64": base64.b64encode(b"\x00\x01garbage").decode()}]},
                             "Could not parse example"),
        "text for a tf.Example": ({"instances": ["hello"]}, "Could not parse example input, value: 'hello'"),
        # Valid JSON (an escape Python's json writes for no string), not valid UTF-8: was a 500.
        "lone surrogate": (json.dumps({"signature_name": RAW, "instances": [dict(row, **{text: "@@"})]}).replace(
            '"@@"', '"\\ud800"').encode(), f"input {text!r} (row 1): the string \"\\ud800\" is not valid"),
        # TF Serving reads 3.0 as a float and refuses it for an integer input (json_tensor.cc IsInt64()).
        "whole number written as a float": ({"signature_name": RAW, "instances": [dict(row, **{whole: 3.0})]},
                                            f"input {whole!r} (row 1): expected a whole number (int64), got 3.0; "
                                            "send 3"),
        "nested too deeply": (b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nests"),
    }


BAD_NAMES = sorted(["not JSON", "not an object", "no instances", "neither instances nor inputs",
                    "both instances and inputs", "missing feature", "unknown feature", "wrong type",
                    "fraction for an integer", "wrong shape", "columns of different lengths", "unknown signature",
                    "not base64", "not a tf.Example", "text for a tf.Example", "lone surrogate",
                    "whole number written as a float", "nested too deeply"])


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_request_gets_400_naming_the_problem_and_the_server_keeps_serving(server, features, csv_rows, name):
    body, says = bad_requests(features, csv_rows)[name]
    status, answer = server.predict(None, raw=body) if isinstance(body, bytes) else server.predict(body)
    assert status == 400, answer
    assert says in answer["error"], answer
    assert server.predict({"signature_name": RAW, "instances": [good(features, csv_rows)]})[0] == 200


def test_a_body_that_is_not_json_whatever_its_content_type(server):
    status, answer = server.predict(None, raw=b"trip_miles=1", content_type="application/x-www-form-urlencoded")
    assert status == 400 and "not JSON" in answer["error"], answer


def test_a_body_over_the_limit_gets_413(server, features, csv_rows):
    row = good(features, csv_rows)
    status, answer = server.predict({"signature_name": RAW, "instances": [row] * 5000})  # over 1 MB
    assert status == 413 and "over this server's limit of 1 MB" in answer["error"], answer
    assert server.predict({"signature_name": RAW, "instances": [row] * 200})[0] == 200


def test_an_unknown_model_name_gets_404(server, features, csv_rows):
    status, answer = call(f"{server.base}/v1/models/other:predict", {"instances": [good(features, csv_rows)]})
    assert status == 404 and "other" in answer["error"]
    status, answer = call(f"{server.base}/v1/models/other")
    assert status == 404 and "other" in answer["error"]


def test_tf_servings_version_and_metadata_routes(server, pushed, features, csv_rows, expected):
    """/versions/N on predict and status, and /metadata, as TF Serving answers them (KServe has none)."""
    version = os.path.basename(pushed[1])
    model = f"{server.base}/v1/models/{server.model_name}"
    body = {"signature_name": RAW, "instances": [raw_row(r, features) for r in csv_rows]}
    status, answer, headers = exchange(f"{model}/versions/{version}:predict", body)
    assert status == 200 and headers[VERSION_HEADER] == version, answer
    assert headers["content-type"] == "application/json"  # the body is written by the model, not KServe
    assert exchange(server.predict_url, body)[2]["content-type"] == "application/json"
    assert all(close(p["probabilities"][0], want) for p, want in zip(answer["predictions"], expected))
    status, answer = call(f"{model}/versions/{version}:predict", None, raw=b"{")
    assert status == 400 and "not JSON" in answer["error"], answer
    status, answer = call(f"{model}/versions/1:predict", body)
    assert status == 404 and f"now {version}" in answer["error"], answer
    assert call(f"{model}/versions/{version}") == call(server.status_url)
    status, answer = call(f"{model}/versions/1")
    assert status == 404 and "version 1" in answer["error"], answer

    status, answer = call(f"{model}/metadata")
    assert status == 200, answer
    assert answer["model_spec"] == {"name": server.model_name, "signature_name": "", "version": version}
    assert call(f"{model}/versions/{version}/metadata") == (200, answer)
    signatures = answer["metadata"]["signature_def"]["signature_def"]
    raw = signatures[RAW]
    assert raw["method_name"] == "tensorflow/serving/predict"
    assert set(raw["inputs"]) == {f.name for f in features.features}
    dtypes = {"string": "DT_STRING", "int64": "DT_INT64", "float32": "DT_FLOAT"}
    assert all(raw["inputs"][f.name]["dtype"] == dtypes[f.dtype.name] for f in features.features)
    assert raw["inputs"][features.features[0].name]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert set(signatures["serving_default"]["inputs"]) == {"examples"}


@pytest.mark.parametrize("method, path, says, code", [
    ("POST", ":classify", "no classify signature", 400),
    ("POST", "/versions/{version}:regress", "no regress signature", 400),
    # Under /v1/, what TF Serving's path regexes do not match is its 400 "Malformed request: ...".
    ("GET", ":predict", "Malformed request: GET /v1/models/keras-tfx:predict (predict takes a POST", 400),
    ("POST", "", "Malformed request: POST /v1/models/keras-tfx (a POST goes to NAME:predict", 400),
    ("GET", "/../../nope", "Malformed request: GET /v1/models/keras-tfx/../../nope", 400),
    ("GET", "/", "Malformed request: GET /v1/models/keras-tfx/ (no trailing slash: GET /v1/models/keras-tfx)", 400),
    ("POST", "/labels/stable:predict", "nothing answers POST", 404),
])
def test_other_routes_get_tf_servings_error_json(server, pushed, features, csv_rows, method, path, says, code):
    url = f"{server.base}/v1/models/{server.model_name}{path.format(version=os.path.basename(pushed[1]))}"
    status, answer = call(url, {"examples": [good(features, csv_rows)]} if method == "POST" else None)
    assert status == code and says in answer["error"], answer
    assert server.predict({"signature_name": RAW, "instances": [good(features, csv_rows)]})[0] == 200


def test_paths_are_matched_as_tf_serving_matches_them(server, features, csv_rows):
    """Case-insensitive, as TF Serving's (?i) regexes (http_rest_api_util.cc); the model name as written."""
    body = {"signature_name": RAW, "instances": [good(features, csv_rows)]}
    status, answer = call(f"{server.base}/V1/Models/{server.model_name}:predict", body)
    assert status == 200 and len(answer["predictions"]) == 1, answer
    assert call(f"{server.base}/V1/MODELS/{server.model_name}") == call(server.status_url)
    status, answer = call(f"{server.base}/v1/models/{server.model_name.upper()}:predict", body)
    assert status == 404 and server.model_name.upper() in answer["error"], answer


def newest(server) -> int:
    return max(int(n) for n in os.listdir(server.serving_dir) if n.isdigit())


def wait_for(predicate, timeout: float):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return None


def push_copy(server, source: str, version: str) -> None:
    """Publishes a copy of `source` as `version` the way the Pusher does: `.partial-*`, then rename."""
    partial = os.path.join(server.serving_dir, f".partial-{version}")
    shutil.copytree(source, partial)
    os.rename(partial, os.path.join(server.serving_dir, version))


def test_a_version_that_cannot_load_is_reported_and_the_old_one_keeps_serving(server, features, csv_rows):
    before = server.served_version()
    broken = str(newest(server) + 1)
    partial = os.path.join(server.serving_dir, f".partial-{broken}")
    os.makedirs(partial)
    with open(os.path.join(partial, "saved_model.pb"), "wb") as f:
        f.write(b"this is not a SavedModel")
    os.rename(partial, os.path.join(server.serving_dir, broken))
    try:
        def failed():
            entries = call(server.status_url)[1]["model_version_status"]
            return [e for e in entries if e["version"] == broken and e["state"] == "END"]
        entry = wait_for(failed, 30)
        assert entry, call(server.status_url)
        assert entry[0]["status"]["error_code"] != "OK" and entry[0]["status"]["error_message"]
        assert server.served_version() == before
        status, _, headers = exchange(server.predict_url, {"signature_name": RAW, "instances": [good(features, csv_rows)]})
        assert status == 200 and headers[VERSION_HEADER] == before
        assert f"version {broken}" in server.log_text() and "cannot be loaded" in server.log_text()
    finally:
        shutil.rmtree(os.path.join(server.serving_dir, broken))
    assert wait_for(lambda: len(call(server.status_url)[1]["model_version_status"]) == 1, 10)


def test_a_new_version_is_picked_up_under_load_without_a_failed_request(server, features, csv_rows, expected):
    """Clients send for about 20 s; a new version is published (Pusher-style) after 3 s."""
    old_version = server.served_version()
    new_version = str(newest(server) + 1)
    row, example = good(features, csv_rows), b64(csv_rows[0], features)
    stop, lock = threading.Event(), threading.Lock()
    results = []  # (time sent, time answered, status, version that answered, probability)

    def client(columnar: bool):
        while not stop.is_set():
            sent = time.time()
            if columnar:
                status, body, headers = exchange(server.predict_url, {"signature_name": RAW,
                                                                      "inputs": {k: [v] for k, v in row.items()}})
                p = body["outputs"]["probabilities"][0][0] if status == 200 else None
            else:
                status, body, headers = exchange(server.predict_url, {"instances": [example]})
                p = body["predictions"][0]["probabilities"][0] if status == 200 else None
            with lock:
                results.append((sent, time.time(), status, headers.get(VERSION_HEADER), p))

    threads = [threading.Thread(target=client, args=(i % 2 == 1,)) for i in range(4)]
    started = time.time()
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)
        pushed_at = time.time()
        push_copy(server, os.path.join(server.serving_dir, old_version), new_version)
        switched = wait_for(lambda: server.served_version() == new_version and time.time(), 30)
        time.sleep(max(2.0, 20 - (time.time() - started)))  # keep the load on for about 20 s in all
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert switched, f"version {new_version} was not served within 30 s:\n{server.log_text()[-3000:]}"
    failures = [r for r in results if r[2] != 200]
    assert not failures and len(results) > 40, (len(results), failures[:5])
    assert {r[3] for r in results} == {old_version, new_version}
    assert all(r[3] == old_version for r in results if r[1] < pushed_at)
    assert all(r[3] == new_version for r in results if r[0] > switched + 0.5)
    assert all(close(r[4], expected[0]) for r in results)  # the same model under both numbers
    assert switched - pushed_at < 25
    print(f"swap under load: {len(results)} requests, 0 failed, switched {switched - pushed_at:.1f} s after the "
          f"push (version {old_version} -> {new_version})")
