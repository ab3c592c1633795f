"""Scheduled runs: new data arrives as span folders; each run ingests the newest, checks it for
drift against the data of the served model, and warm-starts."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys

import pytest

from components import drift_guard
from components.latest_pushed_model import records
from components.trainer import constants
from pipeline import config as config_lib
from pipeline.local import runner as local_runner
from pipeline.report import metadata, terminal
from pipeline import pipeline as pipeline_lib
from tests.conftest import read_taxi_rows, write_csv

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(90)]


def _latest_output(config, node, type_name):
    store = metadata.open_store(config.metadata_path)
    execution = metadata.latest_run_executions(store, config.pipeline_name)[node]
    return metadata.artifact_of_type(store, metadata.output_artifacts(store, execution.id), type_name)


@pytest.fixture(scope="module")
def two_spans(tmp_path_factory):
    """Span 1 (half the rows) is pushed; span 2 (the other half: no drift) is run after it."""
    tmp_path = tmp_path_factory.mktemp("spans")
    columns, rows = read_taxi_rows(every=6)
    half = len(rows) // 2
    data_root = tmp_path / "incoming"
    write_csv(str(data_root / "span-1" / "data.csv"), columns, rows[:half])
    config = config_lib.PipelineConfig(data_root=str(data_root), output_dir=str(tmp_path / "out"),
                                       train_steps=100, warm_start=True, min_accuracy=0.5,
                                       max_accuracy_drop=0.2)
    config = local_runner.run(config)
    first = metadata.summarize(config)
    first_model = _latest_output(config, pipeline_lib.TRAINER, "Model")
    first_run_dir = _latest_output(config, pipeline_lib.TRAINER, "ModelRun").uri
    write_csv(str(data_root / "span-2" / "data.csv"), columns, rows[half:])
    local_runner.run(config)
    second = metadata.summarize(config)
    return dict(config=config, data_root=data_root, columns=columns, rows=rows[half:], first=first,
                first_model=first_model, first_run_dir=first_run_dir, second=second)


def test_newest_span_is_ingested_and_training_warm_starts(two_spans):
    config, first, second = two_spans["config"], two_spans["first"], two_spans["second"]
    assert first.pushed
    assert first.drift["status"] == drift_guard.NO_BASELINE  # nothing served yet: nothing to compare
    assert not os.path.exists(os.path.join(two_spans["first_run_dir"], constants.WARM_START_REPORT))
    assert second.states[pipeline_lib.EXAMPLE_GEN] == "ran"
    assert second.states[pipeline_lib.TRAINER] == "ran"
    examples = _latest_output(config, pipeline_lib.EXAMPLE_GEN, "Examples")
    assert examples.custom_properties["span"].int_value == 2
    run_dir = _latest_output(config, pipeline_lib.TRAINER, "ModelRun").uri
    with open(os.path.join(run_dir, constants.WARM_START_REPORT)) as f:
        report = json.load(f)
    # The base model is the baseline step's copy of the version the first run pushed.
    baseline = _latest_output(config, pipeline_lib.LATEST_PUSHED_MODEL, "Model")
    assert baseline.custom_properties["source_model_uri"].string_value == two_spans["first_model"].uri
    assert report["base_model"].startswith(baseline.uri)
    assert any(name.startswith("dense_0") for name in report["copied"])
    assert any(name.startswith("probabilities") for name in report["copied"])


def test_an_undrifted_span_is_compared_with_the_served_models_data_and_pushed(two_spans):
    config, first, second = two_spans["config"], two_spans["first"], two_spans["second"]
    first_version = os.path.basename(first.pushed_path)
    drift = second.drift
    assert drift["status"] == drift_guard.PASSED and drift["served_version"] == first_version
    # Compared with the statistics of the data the first model was trained on (its push record).
    first_statistics = _statistics_of_run(config, run_index=1)
    assert drift["served_statistics_uri"] == first_statistics
    assert records.read_record(config.serving_dir, first_version)["statistics_uri"] == first_statistics
    measured = {f["name"]: f for f in drift["features"]}
    assert measured["fare"]["comparator"] == "jensen_shannon_divergence"
    assert measured["payment_type"]["comparator"] == "infinity_norm"
    assert all(f["distance"] <= f["threshold"] for f in measured.values())
    assert second.has_baseline and second.pushed
    assert terminal.drift_line(second).startswith(f"drift: none ({len(measured)} features compared with the data "
                                                  f"of served version {first_version}")


def _statistics_of_run(config, run_index):
    store = metadata.open_store(config.metadata_path)
    _, executions = metadata.run_executions(store, config.pipeline_name)[run_index]
    return metadata.artifact_of_type(store, metadata.output_artifacts(
        store, executions[pipeline_lib.STATISTICS_GEN].id), "ExampleStatistics").uri


def _trainer_executions(config):
    store = metadata.open_store(config.metadata_path)
    return [e for e in store.get_executions() if e.type.endswith("Trainer")]


@pytest.fixture(scope="module")
def drifted(two_spans):
    """Span 3: span 2's rows with the fare moved by 5 standard deviations, run from the CLI with a
    webhook; the state before it, to compare."""
    from tests.pipeline.test_notify import _Hook
    config, rows = two_spans["config"], two_spans["rows"]
    fares = [float(r["fare"]) for r in rows]
    shift = 5 * statistics.pstdev(fares)
    moved = [dict(r, fare=f"{float(r['fare']) + shift:.2f}") for r in rows]
    write_csv(str(two_spans["data_root"] / "span-3" / "data.csv"), two_spans["columns"], moved)
    before = dict(trainers=len(_trainer_executions(config)), served=sorted(os.listdir(config.serving_dir)),
                  records=sorted(os.listdir(records.records_dir(config.serving_dir))))
    hook = _Hook()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pipeline", "run", "--data-root", config.data_root, "--output-dir",
             config.output_dir, "--train-steps", "100", "--warm-start", "--min-accuracy", "0.5",
             "--max-accuracy-drop", "0.2", "--notify", hook.url],
            capture_output=True, text=True, cwd=config_lib.PROJECT_ROOT, check=False)
    finally:
        hook.close()
    return result, before, hook.bodies


def test_a_drifted_span_stops_before_training_naming_the_feature(two_spans, drifted):
    config = two_spans["config"]
    result, before, posted = drifted
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    error = result.stderr
    assert "error: DriftGuard: the new data drifted from the data the served model" in error
    assert "feature 'fare': Jensen-Shannon divergence" in error and "--accept-drift" in error
    assert "Nothing was trained or pushed." in error
    assert "'payment_type'" not in error  # only what drifted is named
    assert re.search(rf"^\[\d+/{len(config_lib.COMPONENT_IDS)}\] +{pipeline_lib.DRIFT_GUARD} +failed ",
                     result.stdout, re.M), result.stdout
    # Nothing trained, nothing pushed: no new Trainer execution, the serving dir as it was.
    assert len(_trainer_executions(config)) == before["trainers"]
    assert sorted(os.listdir(config.serving_dir)) == before["served"]
    assert sorted(os.listdir(records.records_dir(config.serving_dir))) == before["records"]
    assert metadata.summarize(config).drift == {"status": drift_guard.DRIFTED}
    # The webhook was told once, as a drift stop with the reason.
    assert [body["status"] for _, body in posted] == ["drifted"]
    assert "feature 'fare'" in posted[0][1]["reason"] and posted[0][1]["failed_component"] == pipeline_lib.DRIFT_GUARD


def test_accept_drift_trains_on_the_reviewed_span_and_is_recorded(two_spans, drifted):
    config = dataclasses.replace(two_spans["config"], accept_drift=True)
    trainers = len(_trainer_executions(config))
    local_runner.run(config)
    summary = metadata.summarize(config)
    assert summary.states[pipeline_lib.TRAINER] == "ran" and len(_trainer_executions(config)) == trainers + 1
    assert summary.drift["status"] == drift_guard.ACCEPTED and summary.drift["accept_drift"] is True
    assert [f["name"] for f in summary.drift["features"] if f["drifted"]] == ["fare"]
    assert terminal.drift_line(summary).startswith("drift: accepted (--accept-drift): feature 'fare'")
    # ML Metadata records the decision: the drift step's execution property and its artifact.
    store = metadata.open_store(config.metadata_path)
    _, executions = metadata.run_executions(store, config.pipeline_name)[0]
    execution = executions[pipeline_lib.DRIFT_GUARD]
    assert execution.properties["accept_drift"].int_value == 1 or \
        execution.custom_properties["accept_drift"].int_value == 1
    assert "drift: accepted" in terminal.history(config, limit=1)[0]
    from pipeline.report import page
    html = open(page.write(config)).read()
    assert "Drift accepted with --accept-drift" in html and "accept_drift: yes" in html


def test_span_folders_next_to_csv_files_are_refused(tmp_path):
    write_csv(str(tmp_path / "span-1" / "a.csv"), ["x"], [{"x": "1"}])
    write_csv(str(tmp_path / "b.csv"), ["x"], [{"x": "1"}])
    with pytest.raises(config_lib.ConfigError, match="both CSV files and span folders"):
        config_lib.PipelineConfig(data_root=str(tmp_path)).check_paths()
