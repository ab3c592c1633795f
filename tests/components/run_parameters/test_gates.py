"""The data-dependent blessing bounds, computed from Examples as CsvExampleGen writes them."""
import json

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format

from components.run_parameters import executor, gates
from components.trainer.features import Label
from pipeline import pipeline as pipeline_lib


def _split(tmp_path, name, label, values):
    folder = tmp_path / f"Split-{name}"
    folder.mkdir()
    with tf.io.TFRecordWriter(str(folder / "data.gz"), options="GZIP") as writer:
        for value in values:
            example = tf.train.Example()
            feature = example.features.feature[label]
            if isinstance(value, str):
                feature.bytes_list.value.append(value.encode())
            elif isinstance(value, int):
                feature.int64_list.value.append(value)
            else:
                feature.float_list.value.append(value)
            writer.write(example.SerializeToString())
    return str(folder)


def test_regression_bound_is_the_mean_predictors_mae_less_the_lift(tmp_path):
    train, evaluation = [10, 20, 30, 40], [5, 25, 45]
    uris = {"train": _split(tmp_path, "train", "y", train), "eval": _split(tmp_path, "eval", "y", evaluation)}
    settings = json.loads(gates.settings("regression", "y", "int64", 0.01, None))
    bound = gates.bounds(settings, 0.0, uris.get)["mae"]
    mean_mae = float(np.abs(np.array(evaluation) - np.mean(train)).mean())  # (20 + 0 + 20) / 3
    assert bound["baseline"] == pytest.approx(mean_mae) and bound["bound"] == pytest.approx(0.99 * mean_mae)
    assert "always predicting the training split's mean 25" in bound["note"]
    explicit = gates.bounds(json.loads(gates.settings("regression", "y", "int64", 0.01, 4.0)), 0.0, uris.get)
    assert explicit == {"mae": {"bound": 4.0, "note": "--max-mae"}}


def test_classification_bound_is_the_majority_rate_plus_the_lift_unless_explicit(tmp_path):
    uris = {"eval": _split(tmp_path, "eval", "y", ["no"] * 19 + ["yes"])}
    settings = json.loads(gates.settings("classification", "y", "string", 0.01, None))
    bound = gates.bounds(settings, 0.0, uris.get)["accuracy"]
    assert bound["bound"] == pytest.approx(0.96) and bound["majority_class"] == "no"
    assert "always answering the majority class 'no': 0.9500, + 0.01" == bound["note"]
    assert gates.bounds(settings, 0.7, uris.get) == {"accuracy": {"bound": 0.7, "note": "--min-accuracy"}}


def test_the_evaluator_writes_the_bounds_into_the_eval_config(tmp_path):
    uris = {"eval": _split(tmp_path, "eval", "y", [0] * 9 + [1])}
    label = Label("y", (0, 1))
    config = pipeline_lib.eval_config(label, [], 0.0, 0.0)
    props = {"eval_config": json_format.MessageToJson(config), "min_accuracy": 0.0, "accuracy_metric": "accuracy",
             executor.GATES_KEY: gates.settings("classification", "y", "int64", 0.01, None)}
    updated, notes = executor.with_gates(props, uris.get)
    parsed = json_format.Parse(updated["eval_config"], type(config)())
    accuracy = next(m for m in parsed.metrics_specs[0].metrics if json.loads(m.config or "{}").get("name") == "accuracy")
    assert accuracy.per_slice_thresholds[0].threshold.value_threshold.lower_bound.value == pytest.approx(0.91)
    assert set(notes) == {"accuracy", "auc"} and notes["auc"]["bound"] == pytest.approx(0.51)
