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
            {"miles": 2.5, "company": {"b64": base64.b64encode(b"\xff").decode()}, "hour": 4}]
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
    outputs = {"probabilities": np.array([[0.25], [0.5]]), "class_name": np.array([b"1", b"\xff"])}
    assert tfs.format_response(outputs, "instances", 2) == {"predictions": [
        {"probabilities": [0.25], "class_name": "1"}, {"probabilities": [0.5], "class_name": {"b64": "/w=="}}]}
    assert tfs.format_response({"p": np.array([[0.5]])}, "instances", 1) == {"predictions": [[0.5]]}
    assert tfs.format_response({"p": np.array([[0.5]])}, "inputs", 1) == {"outputs": [[0.5]]}


@pytest.mark.parametrize("rows, says", [
    # A lone surrogate escape is valid JSON but not UTF-8 (was a 500: UnicodeEncodeError).
    ([{"miles": 1, "company": "\ud800", "hour": 3}], "input 'company' (row 1): the string \"\\ud800\" is not valid"),
    ([{"miles": 1, "company": "A", "hour": 3}, {"miles": 1, "company": "B\udfff", "hour": 3}],
     "input 'company' (row 2)"),
    # Out of range: was an OverflowError's "Python int too large to convert to C long", no row named.
    ([{"miles": 1, "company": "A", "hour": 2 ** 63}], "input 'hour' (row 1): 9223372036854775808 is out of int64's "
                                                     "range (-9223372036854775808 to 9223372036854775807)"),
    ([{"miles": 1, "company": "A", "hour": -2 ** 70}], "input 'hour' (row 1): -1180591620717411303424 is out of"),
    # Past any double: rapidjson refuses it as it reads the body ("Number too big to be stored in double").
    ([{"miles": 10 ** 400, "company": "A", "hour": 3}], "input 'miles' (row 1): the number 10000000000000000000..."
                                                        "(401 digits) is too large for any float"),
    # null: says how a missing value is sent instead.
    ([{"miles": None, "company": "A", "hour": 3}], "got null (JSON null is not a value: send a missing value as NaN)"),
    ([{"miles": 1, "company": "A", "hour": None}], "as -9223372036854775808 (int64's minimum)"),
    ([{"miles": 1, "company": None, "hour": 3}], "send a missing value as \"\""),
])
def test_values_that_json_can_spell_but_the_tensor_cannot_hold_are_refused_by_row(rows, says):
    with pytest.raises(tfs.BadRequest) as raised:
        tfs.rows_to_tensors(rows, SPECS)
    assert says in str(raised.value) and str(raised.value).startswith("input ")
    assert "do not form a tensor" not in str(raised.value)  # the value's own message, not wrapped in another


# TF Serving's json_tensor.cc AddValueToTensor: DT_INT64 takes a value only if rapidjson's IsInt64(),
# which a number written with a fraction or an exponent never is (rapidjson reads it as a double).
@pytest.mark.parametrize("body, says", [
    (b'{"instances": [{"miles": 1, "company": "A", "hour": 3.0}]}',
     "input 'hour' (row 1): expected a whole number (int64), got 3.0; send 3: a JSON number written with a fraction"),
    (b'{"instances": [{"miles": 1, "company": "A", "hour": 3}, {"miles": 1, "company": "A", "hour": 3e0}]}',
     "input 'hour' (row 2): expected a whole number (int64), got 3.0; send 3"),
    (b'{"instances": [{"miles": 1, "company": "A", "hour": NaN}]}',
     "input 'hour' (row 1): expected a whole number (int64), got NaN; an integer has no NaN (a missing integer is "
     "sent as -9223372036854775808"),
    (b'{"inputs": {"miles": [1], "company": ["A"], "hour": [-Infinity]}}', "input 'hour': expected a whole number"),
], ids=["3.0", "3e0 in row 2", "NaN", "-Infinity in a column"])
def test_an_integer_input_refuses_a_number_written_as_a_float_as_tf_serving_does(body, says):
    _, key, data = tfs.read_request(body)
    with pytest.raises(tfs.BadRequest) as raised:
        (tfs.rows_to_tensors if key == "instances" else tfs.columns_to_tensors)(data, SPECS)
    assert says in str(raised.value)


def test_a_float_input_takes_what_tf_serving_takes():
    """json_tensor_test.cc FloatTensorWithPrecisionLoss (an integer float32 cannot hold exactly is taken,
    rounded) and FloatTensorThatExceedsMaxReturnsInf (a finite number past float32's range is infinity)."""
    _, _, rows = tfs.read_request(b'{"instances": [{"miles": 1435774380, "company": "A", "hour": 3},'
                                  b' {"miles": 1.7976931348623157e308, "company": "A", "hour": 3},'
                                  b' {"miles": -1e39, "company": "A", "hour": 3},'
                                  b' {"miles": 1e-50, "company": "A", "hour": 3}]}')
    tensors, _ = tfs.rows_to_tensors(rows, SPECS)
    assert tensors["miles"].tolist() == [1435774336.0, math.inf, -math.inf, 0.0]
    columns, _ = tfs.columns_to_tensors({"miles": [2 ** 200], "company": ["A"], "hour": [3]}, SPECS)
    assert columns["miles"].tolist() == [math.inf]


def test_the_edges_of_each_type_still_fit():
    rows = [{"miles": float("inf"), "company": "Ünï 🚕", "hour": -2 ** 63},
            {"miles": 3.4e38, "company": "", "hour": 2 ** 63 - 1}]
    tensors, _ = tfs.rows_to_tensors(rows, SPECS)
    assert tensors["miles"].tolist()[0] == float("inf") and tensors["hour"].tolist() == [-2 ** 63, 2 ** 63 - 1]
    assert tensors["company"].tolist() == ["Ünï 🚕".encode(), b""]


@pytest.mark.parametrize("body, says", [
    (b'{"instances": [1e400]}', "the number 1e400 in the request is too large for any float"),
    (b'{"instances": ' + b"[" * 100000 + b"]" * 100000 + b"}", "nests lists or objects too deeply"),
    (b'{"instances": null}', None),
], ids=["1e400", "nested 100000 deep", "null instances"])
def test_bodies_that_python_reads_oddly_get_a_400(body, says):
    if says is None:
        with pytest.raises(tfs.BadRequest, match="\"instances\" must be a list of rows, got a JSON null"):
            tfs.rows_to_tensors(tfs.read_request(body)[2], SPECS)
        return
    with pytest.raises(tfs.BadRequest) as raised:
        tfs.read_request(body)
    assert says in str(raised.value)


def test_lists_nested_deeper_than_python_recurses_are_a_400():
    deep = 1.0
    for _ in range(900):  # readable by json (its limit is about 1000), too deep to convert value by value
        deep = [deep]
    with pytest.raises(tfs.BadRequest, match="input 'miles'"):
        tfs.rows_to_tensors([{"miles": deep, "company": "A", "hour": 3}], SPECS)


def test_an_empty_signature_name_is_the_default_as_in_tf_serving():
    assert tfs.read_request({"signature_name": "", "instances": [1]})[0] == "serving_default"
    with pytest.raises(tfs.BadRequest, match="must be a string, got null"):
        tfs.read_request({"signature_name": None, "instances": [1]})


def test_json_types_are_named_as_json_names_them():
    with pytest.raises(tfs.BadRequest, match="not a JSON array"):
        tfs.read_request(b"[1]")
    with pytest.raises(tfs.BadRequest, match="got a JSON object"):
        tfs.rows_to_tensors({"a": 1}, SPECS)


def test_a_tensorflow_error_is_told_by_its_reason_not_its_traceback():
    # TF 2.21's message for serving_default fed "hello" (it was answered as its traceback's first line,
    # 'File ".../server.py", line 133, in <module>').
    message = ('Graph execution error:\n\nDetected at node ParseExample/ParseExampleV2 defined at (most recent call '
               'last):\n  File "/x/pipeline/serving/server/server.py", line 133, in <module>\n\n    sys.exit(main())'
               '\n\nCould not parse example input, value: \'hello\'\n\t [[{{node ParseExample/ParseExampleV2}}]] '
               '[Op:__inference_pruned_1527]')
    assert tfs.tf_error_reason(message) == "Could not parse example input, value: 'hello'"
    assert tfs.tf_error_reason("Expected 3 but got 4 [Op:Foo]") == "Expected 3 but got 4"


def test_a_list_of_one_where_a_value_is_meant_is_told_so():
    with pytest.raises(tfs.BadRequest, match=r"shape \[1, 1\] does not fit the signature's \[-1\] \(one value per "
                                             r"row: send \"miles\": x, not \"miles\": \[x\]\)"):
        tfs.rows_to_tensors([{"miles": [2.5], "company": "A", "hour": 3}], SPECS)


def test_nan_and_infinite_outputs_are_written_as_tf_serving_writes_them():
    """json_tensor_test.cc FromJsonSingleFloatTensorNonFinite: [[NaN, Infinity], [3.0, -Infinity]]
    (they were written as null, which a TF Serving client reads as a missing value, not a number)."""
    outputs = {"p": np.array([[np.nan, np.inf], [3.0, -np.inf]], dtype=np.float32)}
    body = tfs.response_body(tfs.format_response(outputs, "instances", 2))
    assert body == b'{"predictions":[[NaN,Infinity],[3.0,-Infinity]]}'
    assert tfs.response_body(tfs.format_response({"p": np.array([np.nan])}, "inputs", 1)) == b'{"outputs":[NaN]}'


def test_float32_outputs_are_the_numbers_tf_serving_writes():
    """json_tensor.cc WriteDecimal: six significant digits when they read back as the same float32,
    else nine (json_tensor_test.cc FromJsonSingleFloatTensorSixDigitPrecision); not the float64 digits."""
    values = np.array([0.1, 0.8064743280410767, 9e6, 3e-05, 1435774380.0, 2.0 ** -149], dtype=np.float32)
    written = tfs.format_response({"p": values}, "inputs", 6)["outputs"]
    assert written == [0.1, 0.806474328, 9e6, 3e-05, 1.43577434e9, 1.4013e-45]
    assert np.array(written, dtype=np.float32).tolist() == values.tolist()  # each reads back as its float32
    assert tfs.response_body({"outputs": written}) == b'{"outputs":[0.1,0.806474328,9000000.0,3e-05,1435774340.0,' \
                                                      b"1.4013e-45]}"
