"""A user's own CSV folder, no code edits: infer-schema, then run with --label."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from components.trainer.features import features_from_schema, load_schema
from pipeline import config as config_lib
from pipeline.local import runner as local_runner
from pipeline.report import metadata, page as report
from pipeline.serving import model as serving, predict
from tests.conftest import read_taxi_rows, write_csv

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(70)]


def _payment_rows():
    """Multi-class, string label: how a taxi trip was paid, from the bundled CSV."""
    _, rows = read_taxi_rows(every=6)
    out = []
    for row in rows:
        paid = row["payment_type"] if row["payment_type"] in ("Cash", "Credit Card") else "Other"
        out.append({"miles": row["trip_miles"], "fare": row["fare"], "hour": row["trip_start_hour"],
                    "company": row["company"], "dropoff_area": row["dropoff_community_area"],
                    "paid_by": paid})
    return out


def test_infer_schema_then_run_on_a_string_multiclass_label(tmp_path):
    rows = _payment_rows()
    data_root = tmp_path / "data"
    write_csv(str(data_root / "trips.csv"), list(rows[0]), rows)
    schema_path = tmp_path / "schema" / "schema.pbtxt"

    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "infer-schema", "--data-root", str(data_root),
         "--output", str(schema_path), "--label", "paid_by", "--output-dir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "wrote" in completed.stdout
    features = features_from_schema(load_schema(str(schema_path)), "paid_by")
    assert sorted(features.label.classes) == ["Cash", "Credit Card", "Other"]
    assert set(features.names) == {"miles", "fare", "hour", "company", "dropoff_area"}

    config = local_runner.run(config_lib.PipelineConfig(
        data_root=str(data_root), schema_path=str(schema_path), label="paid_by",
        output_dir=str(tmp_path / "out"), train_steps=200, min_accuracy=0.3))
    summary = metadata.summarize(config)
    assert summary.blessed is True and summary.pushed, summary
    assert summary.metrics["accuracy"] > 0.5
    version = serving.latest_version(config.serving_dir)
    probabilities = predict.score(predict.load_signature(version), [serving.to_example(r, features) for r in rows[:20]],
                                  features.label)
    assert probabilities.shape == (20, 3)

    # The run report of a multi-class model: its classes and confusion matrix, no binary curves.
    page = open(report.write(config), encoding="utf-8").read()
    facts = json.loads(re.search(r"id='report-data'>(.*?)</script>", page, re.S).group(1))
    assert facts["classes"] == [str(c) for c in features.label.classes]
    assert sum(n for _, _, n in facts["confusion"]) == summary.metrics["example_count"]
    assert "predicted Credit Card" in page and 'class="plot plot-roc"' not in page


def test_infer_schema_reports_a_missing_label_column(tmp_path):
    write_csv(str(tmp_path / "d" / "a.csv"), ["x", "y"], [{"x": "1", "y": "0"}])
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "infer-schema", "--data-root", str(tmp_path / "d"),
         "--output", str(tmp_path / "s.pbtxt"), "--label", "target", "--output-dir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 2
    assert "--label 'target' is not a column of the data (columns: ['x', 'y'])" in completed.stderr
    assert not os.path.exists(tmp_path / "s.pbtxt")
