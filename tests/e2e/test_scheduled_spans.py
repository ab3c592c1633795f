"""Scheduled runs: new data arrives as span folders; each run ingests the newest and warm-starts."""
from __future__ import annotations

import json
import os

import pytest

from components.trainer import task
from pipeline import config as config_lib
from pipeline.local import runner as local_runner
from pipeline.report import results
from pipeline import pipeline as pipeline_lib
from tests.conftest import read_taxi_rows, write_csv

pytestmark = pytest.mark.e2e


def _latest_output(config, node, type_name):
    store = results.open_store(config.metadata_path)
    execution = results.latest_run_executions(store, config.pipeline_name)[node]
    return results._artifact_of_type(store, results.output_artifacts(store, execution.id), type_name)


def test_newest_span_is_ingested_and_training_warm_starts(tmp_path):
    columns, rows = read_taxi_rows(every=6)
    half = len(rows) // 2
    data_root = tmp_path / "incoming"
    write_csv(str(data_root / "span-1" / "data.csv"), columns, rows[:half])
    config = config_lib.PipelineConfig(data_root=str(data_root), output_dir=str(tmp_path / "out"),
                                       train_steps=100, warm_start=True, min_accuracy=0.5)

    config = local_runner.run(config)
    first = results.summarize(config)
    assert first.pushed
    examples = _latest_output(config, pipeline_lib.EXAMPLE_GEN, "Examples")
    assert examples.custom_properties["span"].int_value == 1
    first_model = _latest_output(config, pipeline_lib.TRAINER, "Model")
    run_dir = _latest_output(config, pipeline_lib.TRAINER, "ModelRun").uri
    assert not os.path.exists(os.path.join(run_dir, task.WARM_START_REPORT))  # nothing to start from

    write_csv(str(data_root / "span-2" / "data.csv"), columns, rows[half:])
    local_runner.run(config)
    second = results.summarize(config)
    assert second.states[pipeline_lib.EXAMPLE_GEN] == "ran"
    assert second.states[pipeline_lib.TRAINER] == "ran"
    examples = _latest_output(config, pipeline_lib.EXAMPLE_GEN, "Examples")
    assert examples.custom_properties["span"].int_value == 2
    run_dir = _latest_output(config, pipeline_lib.TRAINER, "ModelRun").uri
    with open(os.path.join(run_dir, task.WARM_START_REPORT)) as f:
        report = json.load(f)
    # The base model is the baseline step's copy of the version the first run pushed.
    baseline = _latest_output(config, pipeline_lib.BASELINE, "Model")
    assert baseline.custom_properties["source_model_uri"].string_value == first_model.uri
    assert report["base_model"].startswith(baseline.uri)
    assert any(name.startswith("dense_0") for name in report["copied"])
    assert any(name.startswith("probabilities") for name in report["copied"])


def test_span_folders_next_to_csv_files_are_refused(tmp_path):
    write_csv(str(tmp_path / "span-1" / "a.csv"), ["x"], [{"x": "1"}])
    write_csv(str(tmp_path / "b.csv"), ["x"], [{"x": "1"}])
    with pytest.raises(config_lib.ConfigError, match="both CSV files and span folders"):
        config_lib.PipelineConfig(data_root=str(tmp_path)).check_paths()
