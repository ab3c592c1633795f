"""NAME=VALUE options (`--hparam`, `--input-map`, `--param`): one parser, one typing rule.

The rule, for every option that takes such pairs:

- The pair is split at its first `=`: NAME before it, VALUE (which may hold more `=`) after it.
  NAME must be letters, digits, '_', '-' and '.' (not starting with '.' or '-'), and given once.
- The receiver of the option declares its names and their types (a compiled spec's
  parameterType, the built-in model's hyperparameters, a model input's feature name). A name it
  does not declare is refused, listing the ones it does, unless it takes names of its own (a
  user's model takes any hyperparameter; `--input-map` any input).
- A `string` name takes VALUE as typed, character for character (`data_root=2024` stays "2024").
  Any other type reads VALUE as JSON (strict: no NaN or Infinity) and takes only a value of that
  type: `integer` a whole number (500, not 5e2 or 500.0), `float` any number (500 becomes 500.0),
  `boolean` true or false, `list` a JSON array, `struct` a JSON object. A name with no declared
  type takes VALUE as JSON when it parses as JSON, else as the text.

Ranges and meanings (a batch size > 0, a feature that exists) are the receiver's to check.
Every error names the option and the pair as typed, says what was expected and gives an example.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Dict, Mapping, Optional, Sequence

from components.names import is_plain_name
from pipeline.config import ConfigError

STRING, INTEGER, FLOAT, BOOLEAN, LIST, STRUCT = "string", "integer", "float", "boolean", "list", "struct"
TYPES = (STRING, INTEGER, FLOAT, BOOLEAN, LIST, STRUCT)
UNTYPED = None  # a name the receiver takes without declaring its type

# KFP's parameterType (PipelineSpec 2.1) and the older `type` of schema 2.0.0 specs.
_SPEC_TYPES = {"STRING": STRING, "NUMBER_INTEGER": INTEGER, "INT": INTEGER, "NUMBER_DOUBLE": FLOAT,
               "DOUBLE": FLOAT, "BOOLEAN": BOOLEAN, "LIST": LIST, "STRUCT": STRUCT}

# What each type asks for, and a value to show when the receiver has no example of its own.
_EXPECTED = {STRING: "any text", INTEGER: "a whole number", FLOAT: "a number",
             BOOLEAN: "true or false", LIST: "a JSON list", STRUCT: "a JSON object"}
_EXAMPLES = {STRING: "text", INTEGER: "500", FLOAT: "0.5", BOOLEAN: "true", LIST: "[1,2]",
             STRUCT: '{"key":"value"}'}


class PairError(ConfigError):
    """A NAME=VALUE pair that its option refuses; the message names the option and the pair."""


@dataclasses.dataclass(frozen=True)
class Receiver:
    """What an option's names are: their types, and whether other names are taken."""
    option: str                                  # "--param"
    noun: str                                    # "parameter": "train_steps is an integer parameter"
    owner: str                                   # "this package": "... is not a parameter of this package"
    types: Mapping[str, Optional[str]] = dataclasses.field(default_factory=dict)
    takes_other_names: bool = False
    other_names_type: Optional[str] = UNTYPED    # the type of a name not in `types`, when taken
    examples: Mapping[str, str] = dataclasses.field(default_factory=dict)  # NAME -> VALUE text
    unknown_hint: str = ""                       # appended when a name is refused as unknown

    def type_of(self, name: str) -> Optional[str]:
        return self.types[name] if name in self.types else self.other_names_type

    def example(self, name: str, type_: Optional[str]) -> str:
        value = self.examples.get(name)
        if value is None or (type_ is not None and _typed(value, type_) is _INVALID):
            value = _EXAMPLES.get(type_, "1")
        return f"{self.option} {name}={value}"


def spec_type(parameter_type: str) -> Optional[str]:
    """Our type for a compiled spec's parameterType (or schema 2.0.0 `type`); None if unknown."""
    return _SPEC_TYPES.get(parameter_type)


def parse(items: Sequence[str], receiver: Receiver) -> Dict[str, object]:
    """NAME -> typed VALUE for the pairs given to `receiver.option`, in order; PairError if any
    pair breaks the rule (see the module docstring)."""
    parsed: Dict[str, object] = {}
    given: Dict[str, str] = {}
    for item in items:
        name, sep, text = item.partition("=")
        where = f"{receiver.option} {item}"
        if not sep:
            raise PairError(f"{where}: expected NAME=VALUE (no '=' in it), e.g. "
                            f"{receiver.example(*_any_name(receiver, item))}")
        if not is_plain_name(name):
            problem = "NAME is empty" if not name else f"the name {name!r} is not valid"
            raise PairError(f"{where}: {problem}; a name is letters, digits, '_', '-' and '.', e.g. "
                            f"{receiver.example(*_any_name(receiver))}")
        if name in given:
            raise PairError(f"{where}: {name} is given twice (first as {given[name]}); give each "
                            f"{receiver.noun} once")
        if name not in receiver.types and not receiver.takes_other_names:
            known = ", ".join(sorted(receiver.types)) or "none"
            raise PairError(f"{where}: {name} is not a {receiver.noun} of {receiver.owner}; "
                            f"known: {known}" + (f"; {receiver.unknown_hint}" if receiver.unknown_hint else ""))
        type_ = receiver.type_of(name)
        value = _typed(text, type_)
        if value is _INVALID:
            raise PairError(f"{where}: {name} is {_article(type_)} {type_} {receiver.noun}; give "
                            f"{_EXPECTED[type_]}, e.g. {receiver.example(name, type_)}")
        parsed[name], given[name] = value, item
    return parsed


_INVALID = object()


def _typed(text: str, type_: Optional[str]) -> object:
    """The value of `text` as `type_`, or _INVALID."""
    if type_ == STRING:
        return text
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        return text if type_ is UNTYPED else _INVALID
    if isinstance(value, float) and not math.isfinite(value):  # 1e999: JSON, but no number
        return text if type_ is UNTYPED else _INVALID
    if type_ is UNTYPED:
        return value
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_ == INTEGER:
        return value if is_number and isinstance(value, int) else _INVALID
    if type_ == FLOAT:
        return float(value) if is_number else _INVALID
    if type_ == BOOLEAN:
        return value if isinstance(value, bool) else _INVALID
    if type_ == LIST:
        return value if isinstance(value, list) else _INVALID
    if type_ == STRUCT:
        return value if isinstance(value, dict) else _INVALID
    raise ValueError(f"unknown pair type {type_!r}; one of {TYPES}")


def _refuse_constant(constant: str):
    raise ValueError(f"{constant} is not a JSON number")


def _any_name(receiver: Receiver, typed: str = ""):
    """A name and its type for the example of an error: what was typed, if the receiver takes
    it as a name, else one the receiver knows."""
    if is_plain_name(typed) and (typed in receiver.types or receiver.takes_other_names):
        return typed, receiver.type_of(typed)
    for name in sorted(receiver.examples) or sorted(receiver.types):
        return name, receiver.type_of(name)
    return "NAME", receiver.other_names_type


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
