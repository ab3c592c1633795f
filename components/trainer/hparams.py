"""Model hyperparameters: typed, with defaults; importable without TensorFlow."""
from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Sequence


@dataclasses.dataclass(frozen=True)
class HParams:
    hidden_units: Sequence[int] = (128, 64)
    dropout: float = 0.3
    learning_rate: float = 0.001
    batch_size: int = 128
    max_embedding_dim: int = 16
    l2: float = 1e-3

    @classmethod
    def from_dict(cls, values: Optional[Mapping]) -> "HParams":
        values = dict(values or {})
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {unknown}; known: "
                             f"{[f.name for f in dataclasses.fields(cls)]}")
        if "hidden_units" in values:
            values["hidden_units"] = tuple(int(u) for u in values["hidden_units"])
        return cls(**values)
