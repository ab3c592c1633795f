"""Using a pushed model: raw CSV rows -> tf.Examples -> the `serving_default` signature."""
from __future__ import annotations

from typing import Iterable, Mapping, Optional

import numpy as np
import tensorflow as tf

from components.latest_pushed_model import records
from components.trainer.features import FeatureSet
from components.trainer.model import OUTPUT_NAME

SIGNATURE = "serving_default"


def latest_version(serving_dir: str) -> Optional[str]:
    """The newest pushed version folder that a server would load (the Pusher's own rule), or None."""
    served = records.serving_version(serving_dir)
    return served[1] if served else None


def to_example(row: Mapping[str, str], features: FeatureSet) -> tf.train.Example:
    """A tf.Example typed as CsvExampleGen types the same CSV row (empty cell: no value)."""
    example = tf.train.Example()
    for feature in features.features:
        raw = row.get(feature.name, "")
        slot = example.features.feature[feature.name]
        if raw is None or raw == "":
            slot.CopyFrom(tf.train.Feature())
        elif feature.dtype == tf.string:
            slot.bytes_list.value.append(str(raw).encode("utf-8"))
        elif feature.dtype == tf.int64:
            slot.int64_list.value.append(int(raw))
        else:
            slot.float_list.value.append(float(raw))
    return example


def predict(model_dir: str, examples: Iterable[tf.train.Example]) -> np.ndarray:
    """Class probabilities, [n, 1] for binary (positive class) or [n, classes]; a regression
    model's predictions, [n, 1]."""
    loaded = tf.saved_model.load(model_dir)
    signature = loaded.signatures[SIGNATURE]
    serialized = tf.constant([e.SerializeToString() for e in examples])
    outputs = signature(examples=serialized)
    return outputs[OUTPUT_NAME if OUTPUT_NAME in outputs else "predictions"].numpy()
