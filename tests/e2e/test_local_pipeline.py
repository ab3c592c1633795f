"""The real pipeline, end to end, on a small sample: TFX, Beam DirectRunner, ML Metadata, TF."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from ml_metadata.proto import metadata_store_pb2

from components.trainer.features import features_from_schema, load_schema
from pipeline import config as config_lib
from pipeline import local_runner, results, serving
from pipeline import pipeline as pipeline_lib
from tests.conftest import read_taxi_rows, write_csv

pytestmark = pytest.mark.e2e

UPSTREAM = (pipeline_lib.EXAMPLE_GEN, pipeline_lib.STATISTICS_GEN, pipeline_lib.SCHEMA_GEN,
            pipeline_lib.EXAMPLE_VALIDATOR, pipeline_lib.TRAINER)


def tree_digest(root: str) -> dict:
    digests = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def trainer_executions(config) -> int:
    store = results.open_store(config.metadata_path)
    return sum(1 for e in store.get_executions()
               if e.type.endswith("Trainer") and e.last_known_state == metadata_store_pb2.Execution.COMPLETE)


@pytest.fixture(scope="module")
def base_config(small_taxi_dir, tmp_path_factory):
    return config_lib.PipelineConfig(data_root=small_taxi_dir,
                                     output_dir=str(tmp_path_factory.mktemp("e2e") / "out"),
                                     train_steps=150, seed=3)


@pytest.fixture(scope="module")
def first_run(base_config):
    config = local_runner.run(base_config)
    return config, results.summarize(config)


def test_first_run_executes_every_component_and_pushes(first_run):
    config, summary = first_run
    assert summary.states == {node: "ran" for node in pipeline_lib.COMPONENT_IDS}
    assert summary.blessed is True and summary.pushed
    assert summary.metrics["accuracy"] >= config.min_accuracy
    assert 0.5 < summary.metrics["auc"] <= 1.0
    assert summary.metrics["example_count"] > 100
    version = serving.latest_version(config.serving_dir)
    assert version is not None and summary.pushed_path.rstrip("/") == version
    assert os.path.isfile(os.path.join(version, "saved_model.pb"))


def test_pushed_model_predicts_on_raw_examples(first_run):
    config, _ = first_run
    features = features_from_schema(load_schema(config.schema_path), config.label)
    _, rows = read_taxi_rows(every=300)
    probabilities = serving.predict(serving.latest_version(config.serving_dir),
                                    [serving.to_example(r, features) for r in rows])
    assert probabilities.shape == (len(rows), 1)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    labels = np.array([int(r["big_tipper"]) for r in rows])
    assert ((probabilities[:, 0] > 0.5) == labels).mean() > 0.6


def test_second_run_is_served_from_the_cache(first_run):
    config, _ = first_run
    local_runner.run(config)
    summary = results.summarize(config)
    assert {node: summary.states[node] for node in UPSTREAM} == {node: "cached" for node in UPSTREAM}


def test_impossible_threshold_pushes_nothing_and_keeps_earlier_versions(first_run):
    config, _ = first_run
    before = tree_digest(config.serving_dir)
    # A different model (other step count) that can never reach accuracy 1.0.
    local_runner.run(config_lib.replace(config, train_steps=60, min_accuracy=1.0))
    summary = results.summarize(config)
    assert summary.states[pipeline_lib.TRAINER] == "ran"
    assert summary.blessed is False and not summary.pushed
    assert tree_digest(config.serving_dir) == before


def test_anomalous_data_stops_before_training_with_a_readable_report(first_run, tmp_path):
    config, _ = first_run
    columns, rows = read_taxi_rows(every=6)
    rows[0]["payment_type"] = "Bitcoin"
    rows[1]["trip_start_month"] = "13"
    data_root = tmp_path / "bad"
    write_csv(str(data_root / "data.csv"), columns, rows)
    before = tree_digest(config.serving_dir)
    trainers_before = trainer_executions(config)

    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--data-root", str(data_root),
         "--output-dir", config.output_dir, "--train-steps", "50"],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 1, completed.stderr[-3000:]
    error = completed.stderr.strip().splitlines()
    report = "\n".join(error[-12:])
    assert "ExampleValidator: the data does not match the schema" in report
    assert "feature 'payment_type'" in report and "Bitcoin" in report
    assert "feature 'trip_start_month'" in report
    assert "What to do" in report
    assert "Traceback" not in completed.stderr[-2000:]
    progress = [line for line in completed.stdout.splitlines() if line.startswith("[")]
    assert any("CsvExampleGen" in line and " ran " in line for line in progress), completed.stdout
    assert "ExampleValidator" in progress[-1] and "failed" in progress[-1]
    assert not any("Trainer" in line for line in progress)
    assert trainer_executions(config) == trainers_before
    assert tree_digest(config.serving_dir) == before


def test_a_fresh_run_with_the_same_seed_and_data_gives_the_same_metrics_and_predictions(
        first_run, tmp_path):
    config, summary = first_run
    again = local_runner.run(config_lib.replace(config, output_dir=str(tmp_path / "again")))
    summary_again = results.summarize(again)
    assert summary_again.metrics.keys() == summary.metrics.keys()
    for name, value in summary.metrics.items():
        assert summary_again.metrics[name] == pytest.approx(value, abs=1e-6), name

    features = features_from_schema(load_schema(config.schema_path), config.label)
    _, rows = read_taxi_rows(every=500)
    examples = [serving.to_example(r, features) for r in rows]
    first = serving.predict(summary.pushed_path, examples)
    second = serving.predict(summary_again.pushed_path, examples)
    np.testing.assert_allclose(second, first, rtol=0, atol=1e-6)
