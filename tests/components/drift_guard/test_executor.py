"""DriftGuard's executor on real TFDV statistics of small CSV files."""
import json
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from components.drift_guard import ACCEPTED, NO_BASELINE, NO_STATISTICS, PASSED, DriftError
from components.drift_guard import executor
from components.latest_pushed_model.executor import RECORD_FILE

SCHEMA = """
feature { name: "fare" type: FLOAT
          drift_comparator { jensen_shannon_divergence { threshold: 0.1 } } }
feature { name: "colour" type: BYTES domain: "colour"
          drift_comparator { infinity_norm { threshold: 0.1 } } }
string_domain { name: "colour" value: "red" value: "blue" }
"""


def _statistics(tmp_path, name, fare_shift=0.0, seed=0, blue=0.5):
    """An ExampleStatistics artifact whose train split is TFDV's statistics of a small CSV."""
    rng = np.random.default_rng(seed)
    csv_path = tmp_path / f"{name}.csv"
    with open(csv_path, "w") as f:
        f.write("fare,colour\n")
        for _ in range(400):
            f.write(f"{rng.normal(10, 2) + fare_shift:.4f},{'blue' if rng.random() < blue else 'red'}\n")
    artifact = standard_artifacts.ExampleStatistics()
    artifact.uri = str(tmp_path / name)
    artifact.split_names = artifact_utils.encode_split_names(["train"])
    os.makedirs(os.path.join(artifact.uri, "Split-train"))
    # In memory (no Beam job): TFDV's same generators, a few hundred rows.
    stats = tfdv.generate_statistics_from_dataframe(pd.read_csv(csv_path))
    io_utils.write_bytes_file(os.path.join(artifact.uri, "Split-train", "FeatureStats.pb"), stats.SerializeToString())
    return artifact


def _baseline(tmp_path, record):
    """The baseline step's output: its copy of the served version's push record (or none found)."""
    artifact = standard_artifacts.Model()
    artifact.uri = str(tmp_path / "baseline")
    os.makedirs(artifact.uri)
    with open(os.path.join(artifact.uri, RECORD_FILE), "w") as f:
        json.dump(record, f)
    return artifact


def _run(tmp_path, new, record, accept_drift=0):
    schema_dir = tmp_path / "schema"
    schema_dir.mkdir(parents=True, exist_ok=True)
    io_utils.write_pbtxt_file(str(schema_dir / "schema.pbtxt"), text_format.Parse(SCHEMA, schema_pb2.Schema()))
    schema = standard_artifacts.Schema()
    schema.uri = str(schema_dir)
    output = standard_artifacts.ExampleAnomalies()
    output.uri = str(tmp_path / "drift")
    executor.Executor().Do(
        {"statistics": [new], "schema": [schema], "baseline": [_baseline(tmp_path, record)]},
        {"drift": [output]}, {"accept_drift": accept_drift})
    with open(os.path.join(output.uri, executor.DRIFT_FILE)) as f:
        return output, json.load(f)


def _served(artifact):
    return {"found": True, "version": "1700000000", "statistics_uri": artifact.uri}


def test_the_same_data_passes_with_every_feature_measured(tmp_path):
    served = _statistics(tmp_path, "served", seed=1)
    output, summary = _run(tmp_path, _statistics(tmp_path, "new", seed=2), _served(served))
    assert summary["status"] == PASSED and summary["served_version"] == "1700000000"
    by_name = {f["name"]: f for f in summary["features"]}
    assert by_name["fare"]["comparator"] == "jensen_shannon_divergence"
    assert by_name["colour"]["comparator"] == "infinity_norm"
    assert all(0 <= f["distance"] < f["threshold"] and not f["drifted"] for f in by_name.values())
    assert output.get_string_custom_property(executor.STATUS_PROPERTY) == PASSED
    assert output.get_int_custom_property(executor.ACCEPT_PROPERTY) == 0
    anomalies = anomalies_pb2.Anomalies.FromString(
        io_utils.read_bytes_file(os.path.join(output.uri, "Split-train", executor.ANOMALIES_FILE)))
    assert not anomalies.anomaly_info


def test_a_shifted_feature_stops_with_its_distance_threshold_and_what_to_do(tmp_path):
    served = _statistics(tmp_path, "served", seed=1)
    with pytest.raises(DriftError) as error:
        _run(tmp_path, _statistics(tmp_path, "new", seed=2, fare_shift=10.0), _served(served))
    message = str(error.value)
    assert "feature 'fare': Jensen-Shannon divergence" in message and "> threshold 0.1" in message
    assert "'colour'" not in message
    assert "--accept-drift" in message and "version 1700000000" in message
    assert [f["name"] for f in error.value.features] == ["fare"]
    assert error.value.features[0]["distance"] > 0.5


def test_a_moved_category_stops_on_its_l_infinity_distance(tmp_path):
    served = _statistics(tmp_path, "served", seed=1)
    with pytest.raises(DriftError, match="feature 'colour': L-infinity distance"):
        _run(tmp_path, _statistics(tmp_path, "new", seed=2, blue=0.9), _served(served))


def test_accept_drift_lets_it_through_and_records_it(tmp_path):
    served = _statistics(tmp_path, "served", seed=1)
    output, summary = _run(tmp_path, _statistics(tmp_path, "new", seed=2, fare_shift=10.0), _served(served),
                           accept_drift=1)
    assert summary["status"] == ACCEPTED and summary["accept_drift"] is True
    assert [f["name"] for f in summary["features"] if f["drifted"]] == ["fare"]
    assert output.get_int_custom_property(executor.ACCEPT_PROPERTY) == 1
    assert output.get_string_custom_property(executor.DRIFTED_PROPERTY) == "fare"


def test_nothing_served_or_no_statistics_recorded_passes_with_a_note(tmp_path):
    new = _statistics(tmp_path, "new")
    _, summary = _run(tmp_path / "none", new, {"found": False, "serving_dir": "/x"})
    assert summary["status"] == NO_BASELINE and summary["features"] == []
    _, summary = _run(tmp_path / "old", new, {"found": True, "version": "5"})
    assert summary["status"] == NO_STATISTICS and "version 5" in summary["note"]
