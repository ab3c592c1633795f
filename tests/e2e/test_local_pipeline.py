"""The real pipeline, end to end, on a small sample: TFX, Beam DirectRunner, ML Metadata, TF."""
from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from components.trainer.features import features_from_schema, load_schema
from pipeline import config as config_lib
from pipeline import logs
from pipeline.local import runner as local_runner
from pipeline.report import metadata, plots
from pipeline.serving import model as serving, predict
from pipeline.__main__ import cli
from pipeline import pipeline as pipeline_lib
from tests import browser
from tests.components.trainer import test_export
from tests.conftest import read_taxi_rows, write_csv
from tests.e2e.outputs import Snapshot, artifact_dirs, invoke_cli, own_copy, run_cli, tfma_overall, tree_digest
from tests.pipeline.report import test_page

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(130)]

UPSTREAM = (pipeline_lib.EXAMPLE_GEN, pipeline_lib.STATISTICS_GEN, pipeline_lib.SCHEMA_GEN,
            pipeline_lib.EXAMPLE_VALIDATOR, pipeline_lib.TRAINER)


@pytest.fixture(scope="module")
def base_config(small_taxi_dir, tmp_path_factory):
    return config_lib.PipelineConfig(data_root=small_taxi_dir,
                                     output_dir=str(tmp_path_factory.mktemp("e2e") / "out"),
                                     train_steps=150, seed=3)


@pytest.fixture(scope="module")
def first_run_terminal(base_config):
    """The first run, through the CLI as a user starts it: (config, what the terminal showed)."""
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--data-root", base_config.data_root,
         "--output-dir", base_config.output_dir, "--train-steps", str(base_config.train_steps),
         "--seed", str(base_config.seed)],
        capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return config_lib.absolute(base_config), completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def first_run(first_run_terminal):
    config, _ = first_run_terminal
    return config, metadata.summarize(config)


def test_first_run_executes_every_component_and_pushes(first_run):
    config, summary = first_run
    assert summary.states == {node: "ran" for node in pipeline_lib.COMPONENT_IDS}
    assert summary.blessed is True and summary.pushed
    # No --min-accuracy: the bound is the eval split's majority-class rate + 0.01, counted here.
    _, majority_rate = _majority_class(config)
    assert summary.metrics["accuracy"] >= majority_rate + 0.01
    assert 0.51 <= summary.metrics["auc"] <= 1.0
    assert summary.metrics["example_count"] > 100
    version = serving.latest_version(config.serving_dir)
    assert version is not None and summary.pushed_path.rstrip("/") == version
    assert os.path.isfile(os.path.join(version, "saved_model.pb"))


def test_terminal_shows_progress_training_and_a_summary_that_says_why(first_run, first_run_terminal):
    config, summary = first_run
    _, terminal = first_run_terminal
    lines = terminal.splitlines()
    progress = [line.split() for line in lines if line.startswith("[")]
    assert [(p[0], p[1], p[2]) for p in progress] == [
        (f"[{i}/10]", node, "ran") for i, node in enumerate(
            [pipeline_lib.EXAMPLE_GEN, pipeline_lib.SCHEMA_GEN, pipeline_lib.LATEST_PUSHED_MODEL,
             pipeline_lib.STATISTICS_GEN, pipeline_lib.DRIFT_GUARD, pipeline_lib.EXAMPLE_VALIDATOR, pipeline_lib.TRAINER,
             pipeline_lib.EVALUATOR, pipeline_lib.SERVING_CHECK, pipeline_lib.PUSHER], 1)], terminal
    # While training: step, loss and examples/s every tenth of the 150 steps, before the Trainer's line.
    training = [line.split() for line in lines if line.strip().startswith("Trainer: step")]
    assert [t[2] for t in training] == [f"{s}/150" for s in range(15, 151, 15)], terminal
    assert all(t[3] == "loss" and float(t[4]) > 0 and t[6] == "examples/s" and float(t[5]) > 0
               for t in training), terminal
    assert lines.index(next(line for line in lines if line.split()[:2] == ["[7/10]", "Trainer"])) > \
        lines.index(next(line for line in lines if "step 150/150" in line))
    # The first run has no baseline: one plain line, right after the baseline step's.
    baseline = next(i for i, line in enumerate(lines)
                    if pipeline_lib.LATEST_PUSHED_MODEL in line and line.startswith("["))
    assert lines[baseline + 1].strip() == logs.NO_BASELINE
    assert "Traceback" not in terminal and "INFO:" not in terminal and "WARNING:" not in terminal
    # The serving check's note, right under its line: passed, with the load time and latencies.
    check = next(i for i, line in enumerate(lines) if line.split()[:2] == ["[9/10]", pipeline_lib.SERVING_CHECK])
    assert re.fullmatch(r"      serving check: passed: loaded in \d+\.\d s in a fresh TensorFlow process, \d+ "
                        r"warm-up requests answered through both signatures; p50/p99 [\d.]+/[\d.]+ ms at batch 1, "
                        r"[\d.]+/[\d.]+ ms at batch 100", lines[check + 1]), terminal
    assert lines[check + 1].strip() in lines  # the summary says it again
    # The summary: metrics, why it was blessed, the pushed version, the report.
    accuracy = summary.metrics["accuracy"]
    assert f"accuracy {accuracy:.4f}" in terminal
    # The default gates name the baselines beaten: the eval split's majority class, counted here.
    majority, rate = _majority_class(config)
    auc = summary.metrics["auc"]
    assert (f"blessed: yes (accuracy {accuracy:.4f}, needed >= {rate + 0.01:g} (always answering the majority "
            f"class '{majority}': {rate:.4f}, + 0.01); auc {auc:.4f}, needed >= 0.51 (a model with no skill: "
            "0.5, + 0.01); no blessed model yet, so no comparison with a baseline)") in lines
    assert f"pushed: version {os.path.basename(summary.pushed_path.rstrip('/'))} to {summary.pushed_path}" in lines
    report_line = [line for line in lines if line.startswith("report: ")]
    assert len(report_line) == 1 and os.path.isfile(report_line[0][len("report: "):])


def test_the_serving_check_blessed_the_pushed_model_in_ml_metadata(first_run):
    """The ServingCheck's InfraBlessing, read from ML Metadata as any TFX tool would."""
    config, summary = first_run
    store = metadata.open_store(config.metadata_path)
    execution = metadata.latest_run_executions(store, config.pipeline_name)[pipeline_lib.SERVING_CHECK]
    (blessing,) = [a for a in metadata.output_artifacts(store, execution.id)
                   if a.type_id == store.get_artifact_type("InfraBlessing").id]
    properties = blessing.custom_properties
    assert properties["blessed"].int_value == 1 and properties["reason"].string_value == ""
    assert 0 < properties["load_seconds"].double_value < 120
    for signature in ("serving_default", "serving_raw"):
        for batch in (1, 100):
            p50 = properties[f"{signature}_p50_ms_batch_{batch}"].double_value
            assert 0 < p50 <= properties[f"{signature}_p99_ms_batch_{batch}"].double_value
    assert os.path.isfile(os.path.join(blessing.uri, "INFRA_BLESSED"))
    with open(os.path.join(blessing.uri, "serving_check.json")) as f:
        result = json.load(f)
    assert result["blessed"] is True and result["modules_of_the_project"] == []
    assert result["pairs_compared"] >= 2 and result["requests"] >= 4
    # What it checked is what was pushed: the Trainer's model, byte for byte.
    trainer = metadata.latest_run_executions(store, config.pipeline_name)[pipeline_lib.TRAINER]
    model = metadata.artifact_of_type(store, metadata.output_artifacts(store, trainer.id), "Model")
    assert result["model"] == os.path.join(model.uri, "Format-Serving")
    assert tree_digest(result["model"]) == tree_digest(summary.pushed_path)


def _report_of_first_run(first_run_terminal) -> str:
    _, terminal = first_run_terminal
    return next(line for line in terminal.splitlines() if line.startswith("report: "))[len("report: "):]


def test_run_report_holds_the_runs_numbers(first_run, first_run_terminal, small_taxi_dir):
    config, summary = first_run
    path = _report_of_first_run(first_run_terminal)
    assert os.path.dirname(path) == os.path.join(config.output_dir, "reports")
    page = open(path, encoding="utf-8").read()
    facts = json.loads(re.search(r"id='report-data'>(.*?)</script>", page, re.S).group(1))
    # Data: every CSV row is in the train or the eval split.
    _, rows = read_taxi_rows(every=6)
    assert sum(facts["rows"].values()) == len(rows) and set(facts["rows"]) == {"train", "eval"}
    for feature in ("pickup_census_tract", "company", "fare"):  # mostly, partly and never empty
        empty = sum(1 for row in rows if row[feature] == "")
        assert sum(facts["missing"][s][feature] * facts["rows"][s] for s in facts["rows"]) == \
            pytest.approx(empty, abs=1e-6), feature
    assert facts["anomalies"] == []
    # Evaluation and decision: TFMA's numbers, as ML Metadata points to them.
    assert facts["metrics"] == pytest.approx(summary.metrics)
    assert f"data-metric='auc'>{summary.metrics['auc']:.4f}<" in page
    _, majority_rate = _majority_class(config)
    checks = {check["metric"]: check for check in facts["checks"]}
    assert set(checks) == {"accuracy", "auc"}  # no baseline yet: TFX drops the change threshold
    assert len(facts["checks"]) == 2
    assert all(check["kind"] == "value" and check["passed"] is True for check in checks.values())
    assert checks["accuracy"]["value"] == pytest.approx(summary.metrics["accuracy"])
    assert float(checks["accuracy"]["bound"].split()[-1]) == pytest.approx(majority_rate + 0.01, abs=1e-6)
    assert checks["auc"]["value"] == pytest.approx(summary.metrics["auc"])
    assert checks["auc"]["bound"] == ">= 0.51"
    assert "No blessed model yet" in page
    assert facts["pushed_version"] == os.path.basename(summary.pushed_path.rstrip("/"))
    assert facts["serving_check"]["passed"] is True and facts["serving_check"]["load_seconds"] > 0
    assert {(l["signature"], l["batch"]) for l in facts["serving_check"]["latencies"]} == {
        (s, b) for s in ("serving_default", "serving_raw") for b in (1, 100)}
    assert 'id="serving-check"' in page
    # Training: the loss curve from the Estimator's summaries reaches the last step.
    assert "Training loss" in page and "at step 150" in page
    for kind in ("loss", "roc", "pr", "calibration", "histogram"):
        assert f'class="plot plot-{kind}"' in page


def test_chromium_draws_the_run_reports_plots(first_run_terminal, tmp_path):
    path = _report_of_first_run(first_run_terminal)
    shot = browser.screenshot(path, str(tmp_path / "report.png"), str(tmp_path))
    counts = browser.color_pixels(shot, {kind: plots.COLORS[kind] for kind in test_page.PLOTTED})
    assert test_page.drawn(counts), counts


def test_pushed_model_predicts_on_raw_examples(first_run):
    config, _ = first_run
    features = features_from_schema(load_schema(config.schema_path), config.label)
    _, rows = read_taxi_rows(every=300)
    probabilities = predict.score(predict.load_signature(serving.latest_version(config.serving_dir)),
                                  [serving.to_example(r, features) for r in rows], features.label)
    assert probabilities.shape == (len(rows), 1)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    labels = np.array([int(r["big_tipper"]) for r in rows])
    assert ((probabilities[:, 0] > 0.5) == labels).mean() > 0.6


def first_eval_split(config) -> list:
    """The serialized tf.Examples of the first run's eval split (ExampleGen's first artifact)."""
    root = os.path.join(config.pipeline_root, pipeline_lib.EXAMPLE_GEN, "examples")
    first = min(os.listdir(root), key=int)
    return test_export.eval_records(os.path.join(root, first))


def test_pushed_model_serves_raw_features_and_warms_up_tf_serving(first_run):
    config, summary = first_run
    features = features_from_schema(load_schema(config.schema_path), config.label)
    pushed = summary.pushed_path.rstrip("/")  # TFMA evaluated its serving_default in the run
    test_export.check_raw_signature(pushed, test_export.rows_with_gaps(), features,
                                    config.schema_path, features.names, classes=["0", "1"])
    test_export.check_warmup(pushed, first_eval_split(config), features.names)


def _eval_split(config):
    """The first run's eval split as CsvExampleGen wrote it: serialized tf.Examples and labels."""
    import tensorflow as tf
    examples_dir = artifact_dirs(config, pipeline_lib.EXAMPLE_GEN, "examples")[0]
    files = sorted(glob.glob(os.path.join(examples_dir, "Split-eval", "*.gz")))
    serialized = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    labels = np.array([tf.train.Example.FromString(s).features.feature[config.label].int64_list.value[0]
                       for s in serialized])
    return serialized, labels


def _majority_class(config):
    """The eval split's majority class and its rate, counted here from the split's tf.Examples."""
    _, labels = _eval_split(config)
    majority = int(np.bincount(labels).argmax())
    return majority, float((labels == majority).mean())


def _auc(labels, scores) -> float:
    """ROC AUC as the Mann-Whitney statistic: the chance that a random positive scores above a
    random negative (ties count a half), from average ranks."""
    from scipy.stats import rankdata
    ranks = rankdata(scores)
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_accuracy_and_auc_recomputed_from_the_pushed_models_predictions_match_terminal_report_and_tfma(
        first_run_terminal):
    """Independent numbers: the pushed SavedModel (loaded with TensorFlow, its serving signature)
    scores the eval split as CsvExampleGen wrote it; accuracy at 0.5 and a rank AUC, computed
    here, are held against what the terminal printed, the report's data and TFMA's own files."""
    import tensorflow as tf
    config, terminal = first_run_terminal
    lines = terminal.splitlines()
    pushed = re.fullmatch(r"pushed: version (\d+) to (.+)", next(l for l in lines if l.startswith("pushed: ")))
    serialized, labels = _eval_split(config)
    signature = tf.saved_model.load(pushed.group(2)).signatures["serving_default"]
    probabilities = signature(examples=tf.constant(serialized))["probabilities"].numpy()[:, 0]
    accuracy = float(((probabilities > 0.5) == (labels == 1)).mean())
    auc = _auc(labels, probabilities)
    assert 0.6 < accuracy < 1 and 0.6 < auc < 1 and len(set(labels)) == 2

    # TFMA, read with its own loader from the first run's evaluation (its only one before any rerun).
    tfma_metrics = tfma_overall(artifact_dirs(config, pipeline_lib.EVALUATOR, "evaluation")[0])
    assert tfma_metrics["example_count"] == len(labels)
    assert tfma_metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert tfma_metrics["auc"] == pytest.approx(auc, abs=2e-3)  # TFMA: 10,000 thresholds
    # The terminal (four decimals) and the report's data block.
    printed = dict(re.findall(r"(\w+) ([\d.]+)", next(l for l in lines if l.startswith("eval metrics (overall):"))))
    assert float(printed["accuracy"]) == pytest.approx(accuracy, abs=5e-5 + 1e-6)
    assert float(printed["auc"]) == pytest.approx(auc, abs=5e-5 + 2e-3)
    assert float(printed["example_count"]) == len(labels)
    page = open(_report_of_first_run(first_run_terminal), encoding="utf-8").read()
    facts = json.loads(re.search(r"id='report-data'>(.*?)</script>", page, re.S).group(1))
    assert facts["metrics"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert facts["metrics"]["auc"] == pytest.approx(auc, abs=2e-3)
    assert facts["pushed_version"] == pushed.group(1)


def test_second_run_is_served_from_the_cache_and_pushes_no_second_copy(first_run):
    config, first = first_run
    version = os.path.basename(first.pushed_path.rstrip("/"))
    before = tree_digest(config.serving_dir)
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--data-root", config.data_root,
         "--output-dir", config.output_dir, "--train-steps", str(config.train_steps),
         "--seed", str(config.seed)], capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    summary = metadata.summarize(config)
    assert {node: summary.states[node] for node in UPSTREAM} == {node: "cached" for node in UPSTREAM}
    # The baseline is now the first run's push, so the Evaluator ran again and blessed the same
    # model; the Pusher ran and pushed nothing: the serving dir is byte for byte as it was.
    assert summary.states[pipeline_lib.EVALUATOR] == "ran" and summary.blessed is True
    assert summary.states[pipeline_lib.SERVING_CHECK] == "cached"  # the same model: checked once
    assert summary.states[pipeline_lib.PUSHER] == "ran" and not summary.pushed
    assert tree_digest(config.serving_dir) == before
    assert summary.serving_version == version
    assert f"already served as version {version}" in summary.not_pushed_reason
    assert (f"pushed: nothing new; the same model is already served as version {version} at "
            f"{first.pushed_path}") in completed.stdout.splitlines()


def test_a_changed_model_is_pushed_as_a_new_version(first_run, tmp_path):
    config = own_copy(first_run[0], tmp_path)
    versions = sorted(v for v in os.listdir(config.serving_dir) if v.isdigit())
    completed = invoke_cli("run", "--data-root", config.data_root, "--output-dir", config.output_dir,
                           "--train-steps", "80", "--max-accuracy-drop", "1.0", "--min-accuracy", "0", "--min-auc", "0",
                           "--seed", str(config.seed))
    assert completed.exit_code == 0, completed.output[-3000:]
    summary = metadata.summarize(config)
    assert summary.states[pipeline_lib.TRAINER] == "ran" and summary.pushed
    new = os.path.basename(summary.pushed_path.rstrip("/"))
    assert f"pushed: version {new} to {summary.pushed_path}" in completed.stdout.splitlines()
    assert sorted(v for v in os.listdir(config.serving_dir) if v.isdigit()) == versions + [new]
    assert int(new) > int(versions[-1]) and summary.serving_version is None


def test_impossible_threshold_pushes_nothing_and_keeps_earlier_versions(first_run, tmp_path):
    config = own_copy(first_run[0], tmp_path)
    before = tree_digest(config.serving_dir)
    evaluations = artifact_dirs(config, pipeline_lib.EVALUATOR, "evaluation")
    # A different model (other step count) that can never reach accuracy 1.0, through the CLI.
    completed = invoke_cli("run", "--data-root", config.data_root, "--output-dir", config.output_dir,
                           "--train-steps", "60", "--min-accuracy", "1.0", "--seed", str(config.seed))
    assert completed.exit_code == 0, completed.output[-3000:]
    assert tree_digest(config.serving_dir) == before
    # Why, on the terminal: the accuracy TFMA wrote for this run's model, against 1.0.
    (evaluation,) = [d for d in artifact_dirs(config, pipeline_lib.EVALUATOR, "evaluation") if d not in evaluations]
    accuracy = tfma_overall(evaluation)["accuracy"]
    assert 0.5 < accuracy < 1.0
    (blessing,) = [line for line in completed.stdout.splitlines() if line.startswith("blessed: ")]
    assert blessing.startswith(f"blessed: no: accuracy {accuracy:.4f}, needed >= 1 (--min-accuracy); "), blessing
    assert "pushed: " not in completed.stdout or "pushed: nothing" in completed.stdout
    summary = metadata.summarize(config)
    assert summary.states[pipeline_lib.TRAINER] == "ran"
    assert summary.blessed is False and not summary.pushed
    overall = summary.checks[0]
    assert (overall.metric, overall.kind, overall.slice, overall.bound, overall.passed) == (
        "accuracy", "value", "overall", ">= 1", False)
    # `report` writes this run's report: the failed thresholds, nothing pushed.
    written = CliRunner().invoke(cli, ["report", "--output-dir", config.output_dir, "--run", "1"])
    assert written.exit_code == 0, written.output
    page = open(written.stdout.strip(), encoding="utf-8").read()
    facts = json.loads(re.search(r"id='report-data'>(.*?)</script>", page, re.S).group(1))
    assert facts["blessed"] is False and facts["pushed_version"] is None and "nothing pushed" in page
    assert [(c["slice"], c["passed"]) for c in facts["checks"]][0] == ("overall", False)
    assert {(c["kind"], c["slice"]) for c in facts["checks"]} == {("value", "overall"), ("change", "overall")}
    assert len(facts["checks"]) == len(summary.checks)  # slices are reported, not gated
    assert page.count('<span class="fail">fail</span>') == sum(c.passed is False for c in summary.checks)


def test_anomalous_data_stops_before_training_with_a_readable_report(first_run, tmp_path):
    config = own_copy(first_run[0], tmp_path)
    columns, rows = read_taxi_rows(every=6)
    rows[0]["payment_type"] = "Bitcoin"
    rows[1]["trip_start_month"] = "13"
    data_root = tmp_path / "bad"
    write_csv(str(data_root / "data.csv"), columns, rows)
    before = Snapshot(config)

    completed = run_cli("run", "--data-root", str(data_root), "--output-dir", config.output_dir,
                        "--train-steps", "50", timeout=600)
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
    before.assert_nothing_trained_or_pushed()
    # The failed run's report shows the anomalies and that nothing was decided.
    report_line = [line for line in completed.stdout.splitlines() if line.startswith("report: ")]
    assert len(report_line) == 1, completed.stdout
    page = open(report_line[0][len("report: "):], encoding="utf-8").read()
    facts = json.loads(re.search(r"id='report-data'>(.*?)</script>", page, re.S).group(1))
    assert facts["states"][pipeline_lib.EXAMPLE_VALIDATOR] == "failed" and facts["blessed"] is None
    assert any("payment_type" in a and "Bitcoin" in a for a in facts["anomalies"]), facts["anomalies"]
    assert any("trip_start_month" in a for a in facts["anomalies"]), facts["anomalies"]
    assert "no decision: ExampleValidator failed" in page


def test_a_fresh_run_with_the_same_seed_and_data_gives_the_same_metrics_and_predictions(
        first_run, tmp_path):
    config, summary = first_run
    again = local_runner.run(config_lib.replace(config, output_dir=str(tmp_path / "again")))
    summary_again = metadata.summarize(again)
    assert summary_again.metrics.keys() == summary.metrics.keys()
    for name, value in summary.metrics.items():
        assert summary_again.metrics[name] == pytest.approx(value, abs=1e-6), name

    features = features_from_schema(load_schema(config.schema_path), config.label)
    _, rows = read_taxi_rows(every=500)
    examples = [serving.to_example(r, features) for r in rows]
    first = predict.score(predict.load_signature(summary.pushed_path), examples, features.label)
    second = predict.score(predict.load_signature(summary_again.pushed_path), examples, features.label)
    np.testing.assert_allclose(second, first, rtol=0, atol=1e-6)
