"""`python -m pipeline serve`: TF Serving's REST API on KServe, over the pushed versions.

One server for the module, started as a user starts it (which builds .venv-serving on first use),
serving a pushed-layout SavedModel with the serving contract's signatures. The expected answers
come from contract_model.probability, computed here without TensorFlow.
"""
from __future__ import annotations

import base64
import os
import shutil
import threading
import time

import pytest

from tests.pipeline.serving import contract_model
from tests.pipeline.serving.conftest import Server, call

pytestmark = pytest.mark.e2e

ROWS = [{"trip_miles": 1.5, "payment_type": "Cash", "trip_start_hour": 10},
        {"trip_miles": 9.0, "payment_type": "Credit Card", "trip_start_hour": 3},
        {"trip_miles": 0.2, "payment_type": "Credit Card", "trip_start_hour": 23}]
RAW = "serving_raw"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    output_dir = str(root / "out")
    contract_model.write_version(os.path.join(output_dir, "serving_model"), 1, bias=0.0, warmup_rows=ROWS)
    running = Server(output_dir, str(root / "serve.log"))
    running.biases = {"1": 0.0}  # version -> the bias it was written with
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def bias(server) -> float:
    return server.biases[server.served_version()]


def b64(row) -> dict:
    return {"b64": base64.b64encode(contract_model.example_bytes(row)).decode()}


def close(a, b) -> bool:
    return abs(a - b) < 1e-5


def test_status_is_tf_servings_json(server):
    status, body = call(server.status_url)
    assert status == 200
    assert body == {"model_version_status": [{"version": server.served_version(), "state": "AVAILABLE",
                                              "status": {"error_code": "OK", "error_message": ""}}]}


def test_rows_through_serving_raw(server):
    status, body = server.predict({"signature_name": RAW, "instances": ROWS})
    assert status == 200, body
    expected_bias = bias(server)
    assert len(body["predictions"]) == len(ROWS)
    for row, prediction in zip(ROWS, body["predictions"]):
        p = contract_model.probability(row, expected_bias)
        assert close(prediction["probabilities"][0], p)
        assert prediction["class_id"] == int(p >= 0.5)
        assert prediction["class_name"] == contract_model.CLASSES[int(p >= 0.5)]


def test_columns_through_serving_raw(server):
    columns = {name: [row[name] for row in ROWS] for name in contract_model.FEATURES}
    status, body = server.predict({"signature_name": RAW, "inputs": columns})
    assert status == 200, body
    outputs = body["outputs"]
    expected = [contract_model.probability(row, bias(server)) for row in ROWS]
    assert all(close(got[0], want) for got, want in zip(outputs["probabilities"], expected))
    assert outputs["class_name"] == [contract_model.CLASSES[int(p >= 0.5)] for p in expected]


def test_rows_through_serving_default_take_base64_examples(server):
    status, body = server.predict({"instances": [b64(row) for row in ROWS]})  # signature_name defaults
    assert status == 200, body
    expected = [contract_model.probability(row, bias(server)) for row in ROWS]
    assert [p["all_classes"] for p in body["predictions"]] == [["1"]] * len(ROWS)
    assert all(close(p["probabilities"][0], want) for p, want in zip(body["predictions"], expected))
    named = server.predict({"signature_name": "serving_default", "instances": [{"examples": b64(ROWS[0])}]})
    assert named[0] == 200 and close(named[1]["predictions"][0]["probabilities"][0], expected[0])


def test_columns_through_serving_default(server):
    expected = [contract_model.probability(row, bias(server)) for row in ROWS]
    for inputs in ({"examples": [b64(row) for row in ROWS]}, [b64(row) for row in ROWS]):
        status, body = server.predict({"inputs": inputs})
        assert status == 200, body
        assert all(close(got[0], want) for got, want in zip(body["outputs"]["probabilities"], expected))
        assert body["outputs"]["all_classes"] == [["1"]] * len(ROWS)


def test_serving_default_and_serving_raw_agree(server):
    raw = server.predict({"signature_name": RAW, "instances": ROWS})[1]["predictions"]
    examples = server.predict({"instances": [b64(row) for row in ROWS]})[1]["predictions"]
    assert all(close(a["probabilities"][0], b["probabilities"][0]) for a, b in zip(raw, examples))


ROW = ROWS[0]
BAD_REQUESTS = {
    "not JSON": (b"{'instances': [", "not JSON"),
    "not an object": ([ROW], "JSON object"),
    "no instances": ({"signature_name": RAW, "instances": []}, "empty"),
    "neither instances nor inputs": ({"signature_name": RAW, "rows": [ROW]}, "neither"),
    "both instances and inputs": ({"instances": [ROW], "inputs": {}}, "both"),
    "missing feature": ({"signature_name": RAW, "instances": [{"trip_miles": 1.0, "payment_type": "Cash"}]},
                        "missing 'trip_start_hour'"),
    "unknown feature": ({"signature_name": RAW, "instances": [dict(ROW, tip=1)]}, "unknown 'tip'"),
    "wrong type": ({"signature_name": RAW, "instances": [dict(ROW, trip_miles="far")]},
                   "input 'trip_miles' (row 1): expected a number"),
    "fraction for an integer": ({"signature_name": RAW, "instances": [dict(ROW, trip_start_hour=1.5)]},
                                "input 'trip_start_hour' (row 1): expected a whole number"),
    "wrong shape": ({"signature_name": RAW, "instances": [dict(ROW, trip_miles=[1.0, 2.0])]},
                    "input 'trip_miles': shape [1, 2]"),
    "columns of different lengths": ({"signature_name": RAW, "inputs": {"trip_miles": [1.0, 2.0],
                                                                        "payment_type": ["Cash"],
                                                                        "trip_start_hour": [1]}},
                                     "different numbers of rows"),
    "unknown signature": ({"signature_name": "serving_nope", "instances": [ROW]}, "signature 'serving_nope' not found"),
    "not base64": ({"instances": [{"b64": "%%%"}]}, "no valid base64"),
    "not a tf.Example": ({"instances": [{"b64": base64.b64encode(b"\x00\x01garbage").decode()}]},
                         "Could not parse example"),
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_a_bad_request_gets_400_naming_the_problem_and_the_server_keeps_serving(server, name):
    body, says = BAD_REQUESTS[name]
    status, answer = server.predict(None, raw=body) if isinstance(body, bytes) else server.predict(body)
    assert status == 400, answer
    assert says in answer["error"], answer
    assert server.predict({"signature_name": RAW, "instances": [ROW]})[0] == 200


def test_a_body_that_is_not_json_whatever_its_content_type(server):
    status, answer = server.predict(None, raw=b"trip_miles=1", content_type="application/x-www-form-urlencoded")
    assert status == 400 and "not JSON" in answer["error"], answer


def test_a_body_over_the_limit_gets_413(server):
    big = {"signature_name": RAW, "instances": [ROW] * 40000}  # about 3 MB; the server's limit is 1 MB
    status, answer = server.predict(big)
    assert status == 413 and "over this server's limit of 1 MB" in answer["error"], answer
    assert server.predict({"signature_name": RAW, "instances": [ROW] * 1000})[0] == 200  # 75 kB: fine


def test_an_unknown_model_name_gets_404(server):
    status, answer = call(f"{server.base}/v1/models/other:predict", {"instances": [ROW]})
    assert status == 404 and "other" in answer["error"]
    status, answer = call(f"{server.base}/v1/models/other")
    assert status == 404 and "other" in answer["error"]


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


def test_a_version_that_cannot_load_is_reported_and_the_old_one_keeps_serving(server):
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
        entry = wait_for(failed, 20)
        assert entry, call(server.status_url)
        assert entry[0]["status"]["error_code"] != "OK" and entry[0]["status"]["error_message"]
        assert server.served_version() == before
        assert server.predict({"signature_name": RAW, "instances": [ROW]})[0] == 200
        assert f"version {broken}" in server.log_text() and "cannot be loaded" in server.log_text()
    finally:
        shutil.rmtree(os.path.join(server.serving_dir, broken))
    assert wait_for(lambda: len(call(server.status_url)[1]["model_version_status"]) == 1, 10)


def test_a_new_version_is_picked_up_under_load_without_a_failed_request(server):
    """Clients send for about 20 s; a new version is pushed (Pusher-style rename) after 3 s."""
    old_version, old_bias = server.served_version(), bias(server)
    new_version, new_bias = str(newest(server) + 1), bias(server) + 3.0
    stop, lock = threading.Event(), threading.Lock()
    results = []  # (time, status, probability of ROW)

    def client(columnar: bool):
        while not stop.is_set():
            if columnar:
                status, body = server.predict({"signature_name": RAW, "inputs": {k: [v] for k, v in ROW.items()}})
                p = body["outputs"]["probabilities"][0][0] if status == 200 else None
            else:
                status, body = server.predict({"instances": [b64(ROW)]})
                p = body["predictions"][0]["probabilities"][0] if status == 200 else None
            with lock:
                results.append((time.time(), status, p))

    threads = [threading.Thread(target=client, args=(i % 2 == 1,)) for i in range(4)]
    started = time.time()
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)
        staging = os.path.join(server.serving_dir, ".staging")
        contract_model.write_version(staging, int(new_version), bias=new_bias, warmup_rows=ROWS)
        server.biases[new_version] = new_bias
        pushed = time.time()
        os.rename(os.path.join(staging, new_version), os.path.join(server.serving_dir, new_version))
        shutil.rmtree(staging)
        switched = wait_for(lambda: server.served_version() == new_version and time.time(), 15)
        time.sleep(max(0.0, 20 - (time.time() - started)))  # keep the load on for about 20 s in all
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert switched, f"version {new_version} was not served within 15 s:\n{server.log_text()[-3000:]}"
    failures = [r for r in results if r[1] != 200]
    assert not failures and len(results) > 40, (len(results), failures[:5])
    old_p, new_p = contract_model.probability(ROW, old_bias), contract_model.probability(ROW, new_bias)
    assert all(close(p, old_p) or close(p, new_p) for _, _, p in results)
    assert any(close(p, old_p) for t, _, p in results if t < pushed)
    assert all(close(p, new_p) for t, _, p in results if t > switched + 0.5)
    assert switched - pushed < 10
    print(f"swap under load: {len(results)} requests, 0 failed, switched {switched - pushed:.1f} s after the push "
          f"(version {old_version} -> {new_version})")
