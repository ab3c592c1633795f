"""TF Serving's REST JSON read into tensors and written back, in the pipeline's environment (the
module imports no sibling and no KServe); the running server's answers: tests/pipeline/serving/test_serve.py."""
from __future__ import annotations

import base64
import math

import numpy as np
import pytest
import tensorflow as tf

from pipeline.serving.server import tf_serving_json as tfs

SPECS = {"miles": tf.TensorSpec([None], tf.float32), "company": tf.TensorSpec([None], tf.string),
         "hour": tf.TensorSpec([None], tf.int64)}


def test_a_request_names_its_signature_and_its_format():
    assert tfs.read_request(b'{"instances": [1, 2]}') == ("serving_default", "instances", [1, 2])
    assert tfs.read_request({"signature_name": "serving_raw", "inputs": {"a": [1]}}) == (
        "serving_raw", "inputs", {"a": [1]})
    # As TF Serving's parser, the literal NaN is a number: how a serving_raw client sends a missing one.
    assert math.isnan(tfs.read_request(b'{"instances": [NaN]}')[2][0])


@pytest.mark.parametrize("body, says", [
    (b"trip_miles=1", "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    ({"instances": [1], "inputs": [1]}, "it has both"),
    ({"rows": [1]}, "it has neither (keys: rows)"),
    ({"signature_name": 3, "instances": [1]}, "\"signature_name\" must be a string"),
])
def test_a_bad_request_says_what_is_wrong(body, says):
    with pytest.raises(tfs.BadRequest) as raised:
        tfs.read_request(body)
    assert says in str(raised.value)


def test_rows_become_one_tensor_per_input_typed_by_the_signature():
    rows = [{"miles": 1, "company": "A", "hour": 3},
            {"miles": 2.5, "company": {"b64": base64.b64encode(b"\xff").decode()}, "hour": 4.0}]
    tensors, count = tfs.rows_to_tensors(rows, SPECS)
    assert count == 2
    assert tensors["miles"].dtype == np.float32 and tensors["miles"].tolist() == [1.0, 2.5]
    assert tensors["company"].tolist() == [b"A", b"\xff"] and tensors["hour"].tolist() == [3, 4]


@pytest.mark.parametrize("rows, says", [
    ([{"miles": 1, "company": "A"}], "row 1 of \"instances\": missing 'hour'"),
    ([{"miles": 1, "company": "A", "hour": 3, "x": 1}], "unknown 'x'"),
    ([{"miles": "far", "company": "A", "hour": 3}], "input 'miles' (row 1): expected a number (float32)"),
    ([{"miles": 1, "company": "A", "hour": 3.5}], "input 'hour' (row 1): expected a whole number (int64)"),
    ([], "\"instances\" is empty"),
])
def test_rows_that_do_not_fit_are_named(rows, says):
    with pytest.raises(tfs.BadRequest) as raised:
        tfs.rows_to_tensors(rows, SPECS)
    assert says in str(raised.value)


def test_columns_must_have_one_length():
    tensors, count = tfs.columns_to_tensors({"miles": [1, 2], "company": ["A", "B"], "hour": [1, 2]}, SPECS)
    assert count == 2 and tensors["company"].tolist() == [b"A", b"B"]
    with pytest.raises(tfs.BadRequest, match="different numbers of rows: company 1, hour 2, miles 2"):
        tfs.columns_to_tensors({"miles": [1, 2], "company": ["A"], "hour": [1, 2]}, SPECS)


def test_a_single_input_signature_takes_bare_values():
    spec = {"examples": tf.TensorSpec([None], tf.string)}
    tensors, count = tfs.rows_to_tensors([{"b64": base64.b64encode(b"\x00").decode()}, "x"], spec)
    assert count == 2 and tensors["examples"].tolist() == [b"\x00", b"x"]


def test_the_response_is_tf_servings_json():
    outputs = {"probabilities": np.array([[0.25], [np.nan]]), "class_name": np.array([b"1", b"\xff"])}
    assert tfs.format_response(outputs, "instances", 2) == {"predictions": [
        {"probabilities": [0.25], "class_name": "1"}, {"probabilities": [None], "class_name": {"b64": "/w=="}}]}
    assert tfs.format_response({"p": np.array([[0.5]])}, "instances", 1) == {"predictions": [[0.5]]}
    assert tfs.format_response({"p": np.array([[0.5]])}, "inputs", 1) == {"outputs": [[0.5]]}
