"""Blessing gates that mean something: bounds from the data's own baselines, set at run time.

A TFMA threshold is a number in the EvalConfig, but the numbers a model must beat depend on the
data the run reads, which compile time does not know (a Kubeflow run reads new data each time).
So the Evaluator's executor computes them, from the run's own Examples, just before TFMA runs:

- classification: the majority class's rate on the eval split (what always answering the most
  frequent class scores); the accuracy bound is that rate + `min_lift`, unless an explicit
  `--min-accuracy` is given. A binary label's AUC must be at least 0.5 (no skill) + `min_lift`,
  unless an explicit `--min-auc` is given; that bound needs no data and is in the EvalConfig from
  the start. An explicit value replaces the baseline; an explicit 0 means no bound.
- regression: the mean absolute error on the eval split of always predicting the training
  split's mean label; the MAE bound is that MAE x (1 - `min_lift`), unless an explicit
  `--max-mae` is given.

One pass over the label column of each split it needs (parsed alone, in batches). What each
bound came from is written beside TFMA's output (`gates.json`), for the decision line and report.
"""
from __future__ import annotations

import collections
import json
import os
from typing import Any, Dict, Optional

ACCURACY = "accuracy"
AUC = "auc"
MAE = "mae"
PREDICTION_PLOT = "prediction_plot"  # regression: TFMA's CalibrationPlot over the label's range
PLOT_BUCKETS = 20
GATES_FILE = "gates.json"  # in the ModelEvaluation artifact's folder: metric -> what its bound is
# The min_accuracy run parameter's value for "not given": the bound comes from the data. (A
# Kubeflow run parameter is a number, never None.)
FROM_DATA = -1.0


def min_accuracy_parameter(min_accuracy: Optional[float]) -> float:
    """`--min-accuracy` as the min_accuracy parameter: the explicit bound, or FROM_DATA when it was
    not given. explicit_min_accuracy reads it back: the two ends of one encoding."""
    return FROM_DATA if min_accuracy is None else float(min_accuracy)


def explicit_min_accuracy(value) -> Optional[float]:
    """The min_accuracy parameter as a bound, or None (from the data) for FROM_DATA / nothing."""
    if value is None or value == "" or float(value) < 0:
        return None
    if float(value) > 1.0:
        raise ValueError(f"min_accuracy must be between 0 and 1, or {FROM_DATA:g} for the eval "
                         f"split's majority-class rate + min_lift (got {value})")
    return float(value)


def auc_bound(min_auc: Optional[float], min_lift: float) -> Optional[float]:
    """A binary label's AUC bound: the explicit `--min-auc`, else 0.5 (no skill) + `min_lift`;
    None for an explicit 0 (no bound)."""
    bound = 0.5 + min_lift if min_auc is None else min_auc
    return bound if bound > 0 else None


def settings(task: str, label: str, label_dtype: str, min_lift: float,
             max_mae: Optional[float], min_auc: Optional[float] = None) -> str:
    """The Evaluator's `gates` parameter: what the executor needs to compute the bounds (JSON)."""
    return json.dumps({"task": task, "label": label, "label_dtype": label_dtype,
                       "min_lift": min_lift, "max_mae": max_mae, "min_auc": min_auc}, sort_keys=True)


def label_values(split_uri: str, label: str, dtype: str):
    """Every value of the label column in one split's gzipped TFRecords (one per example)."""
    import numpy as np
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(os.path.join(split_uri, "*")))
    tf_dtype = {"string": tf.string, "int64": tf.int64, "float32": tf.float32}[dtype]
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096)
    spec = {label: tf.io.VarLenFeature(tf_dtype)}
    chunks = []
    for batch in dataset:
        chunks.append(tf.io.parse_example(batch, spec)[label].values.numpy())
    return np.concatenate(chunks) if chunks else np.array([])


def bounds(gates: Dict[str, Any], min_accuracy: Optional[float], split_uri) -> Dict[str, Dict[str, Any]]:
    """{metric: {"bound": number, "note": what it is}} for the data-dependent thresholds.

    `min_accuracy`: an explicit bound, or None for the majority-class rate + min_lift.
    `split_uri(name)` gives a split's folder of the run's Examples.
    """
    import numpy as np

    lift = float(gates["min_lift"])
    if gates["task"] == "regression":
        explicit = gates.get("max_mae")
        if explicit is not None:
            return {MAE: {"bound": float(explicit), "note": "--max-mae"}}
        train = label_values(split_uri("train"), gates["label"], gates["label_dtype"]).astype(np.float64)
        evaluation = label_values(split_uri("eval"), gates["label"], gates["label_dtype"]).astype(np.float64)
        mean = float(train.mean()) if train.size else 0.0
        mean_mae = float(np.abs(evaluation - mean).mean()) if evaluation.size else 0.0
        return {MAE: {"bound": mean_mae * (1.0 - lift), "baseline": mean_mae, "train_mean": mean,
                      "train_min": float(train.min()) if train.size else 0.0,
                      "train_max": float(train.max()) if train.size else 1.0,
                      "note": (f"the MAE of always predicting the training split's mean {mean:.4g}: "
                               f"{mean_mae:.4f}" + (f", less {lift:g} of it" if lift else ""))}}
    if min_accuracy is not None:
        return {ACCURACY: {"bound": min_accuracy, "note": "--min-accuracy"}}
    values = label_values(split_uri("eval"), gates["label"], gates["label_dtype"])
    counts = collections.Counter(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                                 for v in values.tolist())
    if not counts:
        return {ACCURACY: {"bound": lift, "note": "no eval rows"}}
    majority, count = counts.most_common(1)[0]
    rate = count / sum(counts.values())
    return {ACCURACY: {"bound": min(1.0, rate + lift), "baseline": rate, "majority_class": majority,
                       "note": (f"always answering the majority class {majority!r}: {rate:.4f}"
                                + (f", + {lift:g}" if lift else ""))}}


def label_range(gates: Dict[str, Any], split_uri) -> tuple:
    """(low, high) of the training split's label: the regression plot's range."""
    values = label_values(split_uri("train"), gates["label"], gates["label_dtype"])
    if not values.size:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    return (low, high) if high > low else (low - 1.0, high + 1.0)


def static_notes(gates: Dict[str, Any], binary: bool) -> Dict[str, Dict[str, Any]]:
    """Notes for the bounds the EvalConfig holds from the start (AUC)."""
    if gates["task"] == "regression" or not binary:
        return {}
    lift = float(gates["min_lift"])
    explicit = gates.get("min_auc")
    bound = auc_bound(explicit, lift)
    if bound is None:
        return {}
    if explicit is not None:
        return {AUC: {"bound": float(bound), "note": "--min-auc"}}
    return {AUC: {"bound": bound, "baseline": 0.5,
                  "note": "a model with no skill: 0.5" + (f", + {lift:g}" if lift else "")}}


def write_notes(evaluation_uri: str, notes: Dict[str, Dict[str, Any]]) -> None:
    import tensorflow as tf
    with tf.io.gfile.GFile(os.path.join(evaluation_uri, GATES_FILE), "w") as f:
        f.write(json.dumps(notes, indent=1, sort_keys=True))


def read_notes(evaluation_uri: str) -> Dict[str, Dict[str, Any]]:
    """What each gated metric's bound came from ({} for an evaluation without the file)."""
    path = os.path.join(evaluation_uri, GATES_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)
