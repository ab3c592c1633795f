"""Model hyperparameters: typed, with defaults; importable without TensorFlow."""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Optional, Sequence


@dataclasses.dataclass(frozen=True)
class HParams:
    hidden_units: Sequence[int] = (128, 64)
    dropout: float = 0.3
    learning_rate: float = 0.001
    batch_size: int = 128
    max_embedding_dim: int = 16
    l2: float = 1e-3
    max_text_tokens: int = 64       # tokens of a text feature the model reads (the rest cut)
    text_embedding_dim: int = 32

    # Each hyperparameter's type, by the names of pipeline/pairs.py, which types `--hparam` values
    # by it (the bounds are checked below).
    TYPES = {"hidden_units": "list", "dropout": "float", "learning_rate": "float", "batch_size": "integer",
             "max_embedding_dim": "integer", "l2": "float", "max_text_tokens": "integer",
             "text_embedding_dim": "integer"}

    def __post_init__(self):
        units = self.hidden_units
        _check(isinstance(units, (list, tuple)) and 1 <= len(units) <= 16
               and all(_is_int(u) and 1 <= u <= 65536 for u in units),
               f"hidden_units must be a list of 1 to 16 whole numbers in 1..65536 (got {units!r})")
        _check(_is_number(self.dropout) and 0 <= self.dropout < 1,
               f"dropout must be a number in [0, 1) (got {self.dropout!r})")
        _check(_is_number(self.learning_rate) and self.learning_rate > 0,
               f"learning_rate must be a number > 0 (got {self.learning_rate!r})")
        _check(_is_int(self.batch_size) and 1 <= self.batch_size <= 1_000_000,
               f"batch_size must be a whole number in 1..1000000 (got {self.batch_size!r})")
        _check(_is_int(self.max_embedding_dim) and 1 <= self.max_embedding_dim <= 1024,
               f"max_embedding_dim must be a whole number in 1..1024 (got {self.max_embedding_dim!r})")
        _check(_is_number(self.l2) and self.l2 >= 0, f"l2 must be a number >= 0 (got {self.l2!r})")
        _check(_is_int(self.max_text_tokens) and 1 <= self.max_text_tokens <= 100_000,
               f"max_text_tokens must be a whole number in 1..100000 (got {self.max_text_tokens!r})")
        _check(_is_int(self.text_embedding_dim) and 1 <= self.text_embedding_dim <= 1024,
               f"text_embedding_dim must be a whole number in 1..1024 (got {self.text_embedding_dim!r})")

    @classmethod
    def from_dict(cls, values: Optional[Mapping]) -> "HParams":
        values = dict(values or {})
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {unknown}; known: "
                             f"{[f.name for f in dataclasses.fields(cls)]}")
        if isinstance(values.get("hidden_units"), list):
            values["hidden_units"] = tuple(values["hidden_units"])
        return cls(**values)


def batch_size_of(values: Optional[Mapping], users_model: bool) -> int:
    """The batch size the pipeline trains with, after checking the --hparam values.

    The built-in model knows its hyperparameters (any other name is refused); a user's model
    gets any names, and the pipeline itself reads only batch_size.
    """
    if not users_model:
        return HParams.from_dict(values).batch_size
    value = dict(values or {}).get("batch_size", HParams.batch_size)
    _check(_is_int(value) and 1 <= value <= 1_000_000,
           f"batch_size must be a whole number in 1..1000000 (got {value!r})")
    return value


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"--hparam {message}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))
