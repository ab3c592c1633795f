"""TF Serving's REST JSON: a request body read into tensors that fit a signature, and the
signature's outputs written as TF Serving's response.

- Rows (`{"instances": [...]}` -> `{"predictions": [...]}`) or columns (`{"inputs": {...}}` ->
  `{"outputs": ...}`), `signature_name` (default `serving_default`), `{"b64": ...}` for bytes.
- Whatever is wrong with a request raises BadRequest, whose message the client gets (400).

Stdlib and numpy only (the specs it checks against are the signature's TensorSpecs), so it
imports in either environment; the server imports it as its sibling.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import sys
from typing import Any, Dict, List, Tuple

DEFAULT_SIGNATURE = "serving_default"
_ROW_KEYS = ("instances", "inputs")
_DOUBLE_MAX = sys.float_info.max
_INT_RANGE = {f"{sign}int{bits}": ((0, 2 ** bits - 1) if sign else (-2 ** (bits - 1), 2 ** (bits - 1) - 1))
              for sign in ("", "u") for bits in (8, 16, 32, 64)}


class BadRequest(ValueError):
    """What is wrong with a request, as the client is told (400)."""


def _dtype_text(dtype) -> str:
    return {"string": "a string (or {\"b64\": ...} for bytes)", "float32": "a number",
            "float64": "a number", "int64": "a whole number", "int32": "a whole number"}.get(
                dtype.name, dtype.name)


def _json_type(value: Any) -> str:
    """A value's JSON type, as the client wrote it (not Python's name for it)."""
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


# How a missing value is sent to serving_raw (README "Serving over JSON"; the export's contract).
_MISSING = {"string": '""', "float": "NaN", "int": "-9223372036854775808 (int64's minimum)"}


def _got(value: Any, dtype) -> str:
    """What the client sent, for a message; null says how a missing value is sent instead."""
    if value is None:
        kind = next((k for k in _MISSING if dtype.name.startswith(k)), None)
        return "null" + (f" (JSON null is not a value: send a missing value as {_MISSING[kind]})" if kind else "")
    return json.dumps(value)[:200]


def _text_bytes(name: str, value: str, where: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800): JSON can spell it, UTF-8 cannot
        raise BadRequest(f"input {name!r}{where}: the string {json.dumps(value)[:200]} is not valid Unicode "
                         "(an unpaired surrogate escape); send text as UTF-8, or bytes as {\"b64\": ...}") from None


def _too_large(number: str, where: str = "") -> str:
    """Why a number past any double's range is refused, wherever the request holds it."""
    return (f"the number {number}{where} is too large for any float; TF Serving refuses it too (a value meant "
            "as infinite is sent as Infinity)")


def _number_text(value: int) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} digits)"


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _convert(name: str, value: Any, dtype, where: str) -> Any:
    """One JSON value (nested lists allowed) as the input's dtype; BadRequest when it is not one."""
    kind = dtype.name
    if kind == "string":
        if type(value) is str:
            return _text_bytes(name, value, where)
        if _is_b64(value) and isinstance(value["b64"], str):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"input {name!r}{where}: {{\"b64\": ...}} holds no valid base64") from None
    elif kind.startswith("float"):
        if type(value) is float:
            return value  # past float32's range it becomes infinity, as TF Serving's GetFloat() makes it
        if type(value) is int:
            if abs(value) > _DOUBLE_MAX:  # rapidjson refuses such a number as it reads the body
                raise BadRequest(f"input {name!r}{where}: {_too_large(_number_text(value))}")
            return float(value)
    elif kind.startswith("int"):
        if type(value) is float:  # 3.0, 3e0, NaN: rapidjson reads them as doubles, which IsInt64() refuses
            why = ""
            if value.is_integer() and abs(value) < 2 ** 63:
                why = (f"; send {int(value)}: a JSON number written with a fraction or an exponent is a float, "
                       "which TF Serving refuses for an integer input too")
            elif not math.isfinite(value):
                why = f"; an integer has no {_got(value, dtype)} (a missing integer is sent as {_MISSING['int']})"
            raise BadRequest(f"input {name!r}{where}: expected {_dtype_text(dtype)} ({kind}), got "
                             f"{_got(value, dtype)}{why}")
        if type(value) is int:
            low, high = _INT_RANGE[kind]
            if not low <= value <= high:
                raise BadRequest(f"input {name!r}{where}: {value} is out of {kind}'s range ({low} to {high})")
            return value
    else:
        raise BadRequest(f"input {name!r}: this server cannot feed a {kind} input from JSON")
    if isinstance(value, list):
        return [_convert(name, v, dtype, where) for v in value]
    raise BadRequest(f"input {name!r}{where}: expected {_dtype_text(dtype)} ({kind}), got {_got(value, dtype)}")


def to_tensor(name: str, values: List[Any], spec, where_rows: bool):
    """The values of one input (one per row, or one column) as an array that fits its TensorSpec."""
    import numpy as np
    kind = spec.dtype.name
    # The common case, checked in one pass: scalars of the right JSON type. Anything else (b64,
    # nested lists, a wrong value) goes value by value, which also names the row that is wrong.
    converted = None
    if kind.startswith("float") and all(type(v) is float or type(v) is int for v in values):
        if all(type(v) is float or abs(v) <= _DOUBLE_MAX for v in values):
            converted = values
    elif kind.startswith("int") and all(type(v) is int for v in values):
        low, high = _INT_RANGE.get(kind, (None, None))
        if low is not None and all(low <= v <= high for v in values):
            converted = values
    elif kind == "string" and all(type(v) is str for v in values):
        try:
            converted = [v.encode("utf-8") for v in values]
        except UnicodeEncodeError:
            pass  # value by value, to name the row
    try:
        if converted is None:
            converted = [_convert(name, v, spec.dtype, f" (row {i + 1})" if where_rows else "")
                         for i, v in enumerate(values)]
        with np.errstate(over="ignore"):  # a finite number past float32's range is infinity, as in TF Serving
            array = np.array(converted, dtype=object if spec.dtype.name == "string" else spec.dtype.as_numpy_dtype)
    except BadRequest:
        raise  # names the value, as it is (BadRequest is a ValueError too)
    except RecursionError:
        raise BadRequest(f"input {name!r}: its lists nest too deeply; expected shape {_shape_text(spec.shape)}") \
            from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRequest(f"input {name!r}: the values do not form a tensor ({exc}); expected shape "
                         f"{_shape_text(spec.shape)}") from None
    if spec.dtype.name == "string" and array.dtype == object and any(
            isinstance(x, list) for x in array.reshape(-1)):
        raise BadRequest(f"input {name!r}: rows of different lengths; expected shape {_shape_text(spec.shape)}")
    if not spec.shape.is_compatible_with(array.shape):
        per_row = " (one value per row)" if spec.shape.rank == 1 else ""
        if spec.shape.rank == 1 and array.shape[1:] == (1,):  # [x] where x is meant
            per_row = f" (one value per row: send \"{name}\": x, not \"{name}\": [x])"
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


class _TooLarge(ValueError):
    pass


def _finite_float(text: str) -> float:
    """JSON's number as Python's json reads it, but 1e400 is refused, not read as infinity."""
    value = float(text)
    if math.isinf(value):
        raise _TooLarge(text[:40])
    return value


def read_request(body: Any) -> Tuple[str, str, Any]:
    """(signature name, 'instances' or 'inputs', the data) of a request body (bytes or parsed JSON)."""
    if isinstance(body, (bytes, bytearray)):
        # Python's json, not KServe's orjson: like TF Serving's parser it takes the literals NaN and
        # Infinity, and NaN is how a serving_raw client sends a missing number (SERVING_CONTRACT).
        try:
            body = json.loads(body, parse_float=_finite_float)
        except _TooLarge as exc:
            raise BadRequest(_too_large(str(exc), " in the request")) from None
        except RecursionError:
            raise BadRequest("the request body nests lists or objects too deeply to read") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the request body is not JSON ({exc}); send a JSON object such as "
                             "{\"instances\": [{...}, ...]}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a JSON object with \"instances\" (rows) or \"inputs\" "
                         f"(columns), not a JSON {_json_type(body)}")
    # Absent or "": the default signature, as TF Serving reads an empty ModelSpec.signature_name.
    signature = body.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(signature, str):
        raise BadRequest(f"\"signature_name\" must be a string, got {json.dumps(signature)}")
    signature = signature or DEFAULT_SIGNATURE
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
        raise BadRequest(f"\"instances\" must be a list of rows, got a JSON {_json_type(instances)}")
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
        raise BadRequest(f"\"inputs\" must be an object keyed by input name, got a JSON {_json_type(inputs)}. "
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


def tf_error_reason(message: str) -> str:
    """The line of a TensorFlow error that says what was wrong: not 'Graph execution error:', nor the
    traceback of the Python line that built the op ('  File "server.py", line 133, ...'), nor '[[node ...]]'."""
    lines = [line.strip() for line in message.splitlines()
             if line.strip() and not line[:1].isspace()
             and not line.startswith(("Graph execution error", "Detected at node", "[["))]
    reason = lines[0] if lines else message.strip()
    return reason.split(" [Op:")[0]


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return value  # NaN and infinities too: response_body() writes them as TF Serving does


def _float32_value(value: float) -> float:
    """A float32 as the number TF Serving writes for it (json_tensor.cc WriteDecimal): six significant
    digits when they read back as the same float32, else nine; not the float64 digits of the float32
    (0.1, not 0.10000000149011612)."""
    import numpy as np
    if not math.isfinite(value):
        return value
    six = float("%.6g" % value)
    return six if np.float32(six) == np.float32(value) else float("%.9g" % value)


def _tolist(array) -> Any:
    import numpy as np
    if array.dtype == np.float32:
        flat = [_float32_value(v) for v in array.reshape(-1).tolist()]
        return np.array(flat, dtype=object).reshape(array.shape).tolist()
    listed = array.tolist()

    def walk(v):
        return [walk(x) for x in v] if isinstance(v, list) else _json_value(v)
    return walk(listed)


def response_body(response: Dict[str, Any]) -> bytes:
    """The response as TF Serving writes it: a NaN or infinite output as the literals NaN, Infinity,
    -Infinity (json_tensor.cc WriteDecimal), which its parser and Python's json read back; not null."""
    return json.dumps(response, allow_nan=True, separators=(",", ":")).encode()


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
