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
    bound = gates.bounds(settings, None, uris.get)["mae"]
    mean_mae = float(np.abs(np.array(evaluation) - np.mean(train)).mean())  # (20 + 0 + 20) / 3
    assert bound["baseline"] == pytest.approx(mean_mae) and bound["bound"] == pytest.approx(0.99 * mean_mae)
    assert "always predicting the training split's mean 25" in bound["note"]
    explicit = gates.bounds(json.loads(gates.settings("regression", "y", "int64", 0.01, 4.0)), None, uris.get)
    assert explicit == {"mae": {"bound": 4.0, "note": "--max-mae"}}


def test_classification_bound_is_the_majority_rate_plus_the_lift_unless_explicit(tmp_path):
    uris = {"eval": _split(tmp_path, "eval", "y", ["no"] * 19 + ["yes"])}
    settings = json.loads(gates.settings("classification", "y", "string", 0.01, None))
    bound = gates.bounds(settings, None, uris.get)["accuracy"]
    assert bound["bound"] == pytest.approx(0.96) and bound["majority_class"] == "no"
    assert "always answering the majority class 'no': 0.9500, + 0.01" == bound["note"]
    assert gates.bounds(settings, 0.7, uris.get) == {"accuracy": {"bound": 0.7, "note": "--min-accuracy"}}
    # An explicit 0 is a bound of 0 (no accuracy gate), not "from the data".
    assert gates.bounds(settings, 0.0, uris.get) == {"accuracy": {"bound": 0.0, "note": "--min-accuracy"}}


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), (-1.0, None), (gates.FROM_DATA, None),
                                             (0.0, 0.0), (0, 0.0), (0.7, 0.7), ("1", 1.0)])
def test_the_min_accuracy_parameter_is_explicit_unless_negative_or_missing(value, expected):
    assert gates.explicit_min_accuracy(value) == expected


@pytest.mark.parametrize("given", [None, 0.0, 0.7, 1.0])
def test_the_option_survives_the_parameter_round_trip(given):
    """--min-accuracy (None: not given) -> the run parameter -> the bound the Evaluator holds."""
    parameter = gates.min_accuracy_parameter(given)
    assert isinstance(parameter, float)
    assert gates.explicit_min_accuracy(parameter) == given


def test_a_min_accuracy_parameter_above_one_is_refused_with_what_it_may_be():
    with pytest.raises(ValueError, match=r"between 0 and 1, or -1 for the eval split's majority-class rate"):
        gates.explicit_min_accuracy(1.5)


def test_the_evaluator_writes_the_bounds_into_the_eval_config(tmp_path):
    uris = {"eval": _split(tmp_path, "eval", "y", [0] * 9 + [1])}
    label = Label("y", (0, 1))
    config = pipeline_lib.eval_config(label, [], None, 0.0)
    props = {"eval_config": json_format.MessageToJson(config), "min_accuracy": gates.FROM_DATA,
             "accuracy_metric": "accuracy",
             executor.GATES_KEY: gates.settings("classification", "y", "int64", 0.01, None)}
    updated, notes = executor.with_gates(props, uris.get)
    parsed = json_format.Parse(updated["eval_config"], type(config)())
    accuracy = next(m for m in parsed.metrics_specs[0].metrics if json.loads(m.config or "{}").get("name") == "accuracy")
    assert accuracy.per_slice_thresholds[0].threshold.value_threshold.lower_bound.value == pytest.approx(0.91)
    assert set(notes) == {"accuracy", "auc"} and notes["auc"]["bound"] == pytest.approx(0.51)


def _auc_thresholds(config):
    auc = next(m for m in config.metrics_specs[0].metrics if json.loads(m.config or "{}").get("name") == "auc")
    return [t.threshold.value_threshold.lower_bound.value for t in auc.per_slice_thresholds]


def test_an_explicit_min_auc_replaces_the_no_skill_bound_and_zero_removes_it(tmp_path):
    uris = {"eval": _split(tmp_path, "eval", "y", [0] * 9 + [1])}
    label = Label("y", (0, 1))
    assert _auc_thresholds(pipeline_lib.eval_config(label, [], None, 0.0, min_lift=0.05)) == [pytest.approx(0.55)]
    assert _auc_thresholds(pipeline_lib.eval_config(label, [], None, 0.0, min_auc=0.7)) == [pytest.approx(0.7)]
    off = pipeline_lib.eval_config(label, [], 0.0, 0.0, min_auc=0.0)
    assert _auc_thresholds(off) == []
    props = {"eval_config": json_format.MessageToJson(off), "min_accuracy": 0.0, "accuracy_metric": "accuracy",
             executor.GATES_KEY: gates.settings("classification", "y", "int64", 0.01, None, 0.0)}
    _, notes = executor.with_gates(props, uris.get)
    assert notes == {"accuracy": {"bound": 0.0, "note": "--min-accuracy"}}  # no gate beyond what was asked
    explicit = dict(props, **{executor.GATES_KEY: gates.settings("classification", "y", "int64", 0.01, None, 0.7)})
    assert executor.with_gates(explicit, uris.get)[1]["auc"] == {"bound": 0.7, "note": "--min-auc"}
