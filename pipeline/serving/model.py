"""Using a pushed model: raw CSV rows -> tf.Examples -> the `serving_default` signature."""
from __future__ import annotations

import os
from typing import Iterable, Mapping, Optional

import numpy as np
import tensorflow as tf

from components.trainer.features import FeatureSet
from components.trainer.model import OUTPUT_NAME

SIGNATURE = "serving_default"


def latest_version(serving_dir: str) -> Optional[str]:
    """The newest pushed version folder (numeric name) that holds a saved_model.pb."""
    if not os.path.isdir(serving_dir):
        return None
    versions = [v for v in os.listdir(serving_dir) if v.isdigit()
                and os.path.isfile(os.path.join(serving_dir, v, "saved_model.pb"))]
    return os.path.join(serving_dir, max(versions, key=int)) if versions else None


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
    """Class probabilities, [n, 1] for binary (positive class) or [n, classes]."""
    loaded = tf.saved_model.load(model_dir)
    signature = loaded.signatures[SIGNATURE]
    serialized = tf.constant([e.SerializeToString() for e in examples])
    outputs = signature(examples=serialized)
    return outputs[OUTPUT_NAME].numpy()
