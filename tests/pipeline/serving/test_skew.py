"""predict's serving-skew check: rows unlike the training data are named, rows like it are not."""
import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components.latest_pushed_model import records
from pipeline.serving import skew
from tests.components.drift_guard.test_executor import SCHEMA, _statistics


def _rows(path, fare_shift=0.0, seed=7, delimiter=",", decimal=".", count=400):
    """A CSV like the training data's (fare ~ N(10, 2), colour half blue), `fare` moved by `fare_shift`."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write(f"fare{delimiter}colour\n")
        for _ in range(count):
            fare = f"{rng.normal(10, 2) + fare_shift:.4f}".replace(".", decimal)
            f.write(f"{fare}{delimiter}{'blue' if rng.random() < 0.5 else 'red'}\n")
    return str(path)


@pytest.fixture()
def served(tmp_path):
    """A pushed version folder whose push record names the training data's statistics."""
    training = _statistics(tmp_path, "training")
    serving_dir = tmp_path / "serving_model"
    (serving_dir / "17").mkdir(parents=True)
    records.write_record(str(serving_dir), {"version": "17", "statistics_uri": training.uri})
    return str(serving_dir / "17"), text_format.Parse(SCHEMA, schema_pb2.Schema())


def test_rows_shifted_by_five_standard_deviations_are_named_with_distance_and_threshold(served, tmp_path):
    model_dir, schema = served
    lines = skew.skew_warnings([_rows(tmp_path / "shifted.csv", fare_shift=10.0)], model_dir, schema)
    assert len(lines) == 1, lines
    assert "'fare'" in lines[0] and "threshold 0.1" in lines[0]


def test_rows_like_the_training_data_give_no_warning(served, tmp_path):
    model_dir, schema = served
    assert skew.skew_warnings([_rows(tmp_path / "same.csv")], model_dir, schema) == []


def test_a_model_without_a_push_record_is_not_compared(served, tmp_path):
    _, schema = served
    (tmp_path / "elsewhere" / "3").mkdir(parents=True)
    assert skew.skew_warnings([_rows(tmp_path / "x.csv", fare_shift=10.0)], str(tmp_path / "elsewhere" / "3"),
                              schema) == []


def test_a_european_export_is_read_in_predicts_dialect(served, tmp_path):
    """';' between fields and ',' as the decimal mark: the shift is still seen, and like rows are not."""
    model_dir, schema = served
    shifted = _rows(tmp_path / "shifted.csv", fare_shift=10.0, delimiter=";", decimal=",")
    lines = skew.skew_warnings([shifted], model_dir, schema, delimiter=";", decimal=",")
    assert len(lines) == 1 and "'fare'" in lines[0], lines
    same = _rows(tmp_path / "same.csv", delimiter=";", decimal=",")
    assert skew.skew_warnings([same], model_dir, schema, delimiter=";", decimal=",") == []


def test_too_few_rows_are_not_compared_even_when_they_moved(served, tmp_path):
    """Below skew.MIN_ROWS rows, samples of the training data itself read as drifted: no verdict."""
    model_dir, schema = served
    few = _rows(tmp_path / "few.csv", fare_shift=10.0, count=skew.MIN_ROWS - 1)
    with pytest.raises(skew.TooFewRows, match=f"{skew.MIN_ROWS - 1} rows are too few .*it takes {skew.MIN_ROWS}"):
        skew.skew_warnings([few], model_dir, schema)
    enough = _rows(tmp_path / "enough.csv", fare_shift=10.0, count=skew.MIN_ROWS)
    assert len(skew.skew_warnings([enough], model_dir, schema)) == 1
