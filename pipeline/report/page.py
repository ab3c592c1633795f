"""The run report: one self-contained HTML file per run (inline SVG plots, no scripts, no network).

Read from the run's artifacts, found through ML Metadata: StatisticsGen's statistics and
ExampleValidator's anomalies (the data), the Trainer's TensorBoard summaries (training),
TFMA's metrics, plots and validation result (evaluation and the decision), the Pusher's
pushed model. This module collects the values; templates/report.html.j2 lays them out.
"""
from __future__ import annotations

import dataclasses
import functools
import glob
import os
import shutil
import time
from typing import Dict, List, Optional, Tuple

import jinja2
import markupsafe
import tensorflow_model_analysis as tfma

from pipeline.report import drift as drift_report, plots, results
from pipeline import pipeline as pipeline_lib
from pipeline.config import PipelineConfig

REPORTS_DIR = "reports"
LATEST = "report.html"
SHOWN_METRICS = ("example_count", "accuracy", "auc", "loss", "precision", "recall", "mae", "rmse", "mse")


@dataclasses.dataclass
class FeatureStats:
    name: str
    kind: str                                   # "numeric" or "categorical"
    missing: float                              # share of examples without a value
    bars: List[Tuple[str, float]]               # histogram (numeric) or top values (categorical)


@dataclasses.dataclass
class SplitStats:
    rows: int
    features: Dict[str, FeatureStats]


@dataclasses.dataclass
class Curves:
    roc: List[Tuple[float, float]]              # (false positive rate, true positive rate)
    pr: List[Tuple[float, float]]               # (recall, precision)
    calibration: List[Tuple[float, float, float]]  # (mean prediction, observed positive rate, examples)
    confusion: Dict[Tuple[int, int], float] = dataclasses.field(default_factory=dict)  # multi-class:
    # (actual class id, predicted class id) -> examples, at TFMA's default (argmax) threshold


@dataclasses.dataclass
class ReportData:
    run_name: str
    when: str
    summary: results.RunSummary
    splits: Dict[str, SplitStats]
    anomalies: Optional[List[str]]                 # None: ExampleValidator left no output
    training: Dict[str, List[Tuple[int, float]]]   # series name -> [(step, value)]
    sliced: Dict[str, Dict[str, Dict[str, float]]]
    curves: Dict[str, Curves]                      # "model" / "baseline" -> overall curves
    classes: List[str] = dataclasses.field(default_factory=list)  # the label's classes, by class id


# ---------------------------------------------------------------- reading the artifacts

def _uri(store, executions, node: str, type_name: str) -> Optional[str]:
    if node not in executions:
        return None
    artifact = results._artifact_of_type(store, results.output_artifacts(store, executions[node].id),
                                         type_name)
    return artifact.uri if artifact is not None and os.path.isdir(artifact.uri) else None


def split_statistics(statistics_uri: str) -> Dict[str, SplitStats]:
    """Rows, per-feature missing share and distribution of each split (StatisticsGen output)."""
    import tensorflow_data_validation as tfdv
    splits = {}
    for path in sorted(glob.glob(os.path.join(statistics_uri, "Split-*", "FeatureStats.pb"))):
        split = os.path.basename(os.path.dirname(path))[len("Split-"):]
        dataset = tfdv.load_stats_binary(path).datasets[0]
        rows = int(dataset.num_examples)
        features = {}
        for feature in dataset.features:
            name = ".".join(feature.path.step) or feature.name
            if feature.HasField("num_stats"):
                stats = feature.num_stats
                standard = [h for h in stats.histograms if h.type == h.STANDARD]
                bars = ([(f"{b.low_value:.4g} to {b.high_value:.4g}", b.sample_count)
                         for b in standard[0].buckets] if standard else [])
                kind = "numeric"
            elif feature.HasField("string_stats"):
                stats = feature.string_stats
                buckets = stats.rank_histogram.buckets or stats.top_values
                bars = [(getattr(b, "label", getattr(b, "value", "")), getattr(b, "sample_count", 0)
                         or getattr(b, "frequency", 0)) for b in list(buckets)[:20]]
                kind = "categorical"
            else:
                continue
            common = stats.common_stats
            # CsvExampleGen writes an empty cell as a feature with no value, which TFDV counts
            # as present: for single-valued features, the examples without a value are missing.
            missing = (rows - common.tot_num_values if common.max_num_values <= 1 else common.num_missing)
            features[name] = FeatureStats(name, kind, missing / rows if rows else 0.0, bars)
        splits[split] = SplitStats(rows, features)
    return splits


def anomalies(anomalies_uri: Optional[str]) -> Optional[List[str]]:
    """'[split] feature: description' for each anomaly ExampleValidator found; None without its output."""
    if not anomalies_uri:
        return None
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    found = []
    for path in sorted(glob.glob(os.path.join(anomalies_uri, "Split-*", "SchemaDiff.pb"))):
        split = os.path.basename(os.path.dirname(path))[len("Split-"):]
        parsed = anomalies_pb2.Anomalies()
        with open(path, "rb") as f:
            parsed.ParseFromString(f.read())
        for feature, info in sorted(parsed.anomaly_info.items()):
            found.append(f"[{split}] {feature}: {info.description or info.short_description}")
        if parsed.HasField("dataset_anomaly_info"):
            info = parsed.dataset_anomaly_info
            found.append(f"[{split}] dataset: {info.description or info.short_description}")
    return found


def training_curves(model_run_uri: Optional[str]) -> Dict[str, List[Tuple[int, float]]]:
    """Loss over steps (training), steps/s, and eval metrics at each checkpoint (Estimator summaries)."""
    if not model_run_uri:
        return {}
    import tensorflow as tf
    curves: Dict[str, Dict[int, float]] = {}
    for path in sorted(glob.glob(os.path.join(model_run_uri, "**", "events.out.tfevents.*"), recursive=True)):
        is_eval = os.path.dirname(path) != model_run_uri.rstrip("/")
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.WhichOneof("value") != "simple_value":
                    continue
                tag = value.tag
                if not is_eval and tag.split("_")[0] == "loss":
                    name = "training loss"
                elif not is_eval and tag == "global_step/sec":
                    name = "steps/s"
                elif is_eval and tag in SHOWN_METRICS:
                    name = f"eval {tag}"
                else:
                    continue
                curves.setdefault(name, {})[int(event.step)] = float(value.simple_value)
    return {name: sorted(points.items()) for name, points in curves.items()}


def overall_curves(evaluation_uri: Optional[str]) -> Dict[str, Curves]:
    """ROC, precision-recall and calibration of the overall slice, per model (TFMA's plots)."""
    if not evaluation_uri:
        return {}
    curves = {}
    for slice_plots in tfma.load_plots(evaluation_uri):
        if slice_plots.slice_key.single_slice_keys:
            continue
        for key_and_value in slice_plots.plot_keys_and_values:
            which = results.BASELINE if key_and_value.key.model_name == results.BASELINE else "model"
            entry = curves.setdefault(which, Curves([], [], []))
            value = key_and_value.value
            if value.HasField("confusion_matrix_at_thresholds"):
                matrices = value.confusion_matrix_at_thresholds.matrices
                entry.roc = sorted({(m.false_positive_rate, m.recall) for m in matrices})
                entry.pr = sorted({(m.recall, m.precision) for m in matrices
                                   if m.true_positives + m.false_positives > 0})
            if value.HasField("calibration_histogram_buckets"):
                entry.calibration = calibration_bins(value.calibration_histogram_buckets.buckets)
            if value.HasField("multi_class_confusion_matrix_at_thresholds"):
                matrices = value.multi_class_confusion_matrix_at_thresholds.matrices
                if matrices:
                    entry.confusion = {(e.actual_class_id, e.predicted_class_id): e.num_weighted_examples
                                       for e in matrices[0].entries}
    return curves


def calibration_bins(buckets, bins: int = 10) -> List[Tuple[float, float, float]]:
    """TFMA's fine calibration buckets merged into `bins` equal-width prediction bins: over [0, 1]
    for probabilities, over the predictions' range when they leave it (a regression)."""
    totals = [[0.0, 0.0, 0.0] for _ in range(bins)]  # examples, sum of labels, sum of predictions
    means = [b.total_weighted_refined_prediction.value / b.num_weighted_examples.value
             for b in buckets if b.num_weighted_examples.value > 0]
    low, high = (0.0, 1.0) if not means or (min(means) >= 0 and max(means) <= 1) else (min(means), max(means))
    width = (high - low) or 1.0
    for bucket in buckets:
        count = bucket.num_weighted_examples.value
        if count <= 0:
            continue
        mean_prediction = bucket.total_weighted_refined_prediction.value / count
        index = min(bins - 1, max(0, int((mean_prediction - low) / width * bins)))
        totals[index][0] += count
        totals[index][1] += bucket.total_weighted_label.value
        totals[index][2] += bucket.total_weighted_refined_prediction.value
    return [(predicted / count, labels / count, count) for count, labels, predicted in totals if count > 0]


def collect(config: PipelineConfig, run_index: int = 0, since: Optional[float] = None) -> ReportData:
    """Everything the report shows, for the run at `run_index` (0: the newest); with `since`
    (epoch seconds), only a run started since then."""
    store = results.open_store(config.metadata_path)
    runs = results.run_executions(store, config.pipeline_name)
    if run_index >= len(runs):
        raise LookupError(f"no run number {run_index + 1} in {config.metadata_path} "
                          f"({len(runs)} runs recorded)")
    run, executions = runs[run_index]
    if since is not None and run.create_time_since_epoch / 1000 < since - 1:
        raise LookupError(f"no run recorded in {config.metadata_path} since {time.ctime(since)}")
    summary = results.summarize_run(store, executions)
    created = run.create_time_since_epoch / 1000
    evaluation_uri = summary.evaluation_uri
    model_uri = _uri(store, executions, pipeline_lib.TRAINER, "Model")
    statistics_uri = _uri(store, executions, pipeline_lib.STATISTICS_GEN, "ExampleStatistics")
    return ReportData(
        run_name=time.strftime("run-%Y%m%d-%H%M%S", time.localtime(created)) + f"-{run.id}",
        when=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
        summary=summary,
        splits=split_statistics(statistics_uri) if statistics_uri else {},
        anomalies=anomalies(_uri(store, executions, pipeline_lib.EXAMPLE_VALIDATOR, "ExampleAnomalies")),
        training=training_curves(_uri(store, executions, pipeline_lib.TRAINER, "ModelRun")),
        sliced=results.sliced_metrics(evaluation_uri) if evaluation_uri else {},
        curves=overall_curves(evaluation_uri),
        classes=_classes(model_uri),
    )


def _classes(model_uri: Optional[str]) -> List[str]:
    """The label's classes, from the schema the model carries (assets.extra/)."""
    if not model_uri:
        return []
    from pipeline.serving import predict
    try:
        return [str(c) for c in predict.load_model_card(os.path.join(model_uri, "Format-Serving")).label.classes]
    except Exception:  # pylint: disable=broad-except  # an older model without its schema
        return []


# ---------------------------------------------------------------- the page's data

TEMPLATE = "report.html.j2"  # in pipeline/report/templates/, installed as package data


@functools.lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.report", "templates"),
        # On for every template, whatever its file name ends with: a value is shown as text
        # unless it is Markup (only the SVG charts, which plots.py builds from escaped values).
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["num"] = _num
    environment.filters["thousands"] = lambda value: f"{value:,.0f}"
    environment.policies["json.dumps_kwargs"] = {}  # the facts in the order they were collected
    return environment


def _num(value: Optional[float], digits: int = 4) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _chart(svg: str) -> markupsafe.Markup:
    """An SVG chart from plots.py, to be placed as markup: plots.py escapes every text it draws."""
    return markupsafe.Markup(svg)


def _pushed_version(summary: results.RunSummary) -> Optional[str]:
    return os.path.basename(summary.pushed_path.rstrip("/")) if summary.pushed and summary.pushed_path else None


def _decision(data: ReportData) -> dict:
    summary = data.summary
    failed = [node for node, state in summary.states.items() if state == "failed"]
    if summary.blessed is not None:
        verdict = results.blessing_line(summary, more="listed below")
    elif failed:
        verdict = f"no decision: {', '.join(failed)} failed, so the run stopped before the Evaluator decided"
    else:
        verdict = "no decision: the Evaluator did not run"
    return {"verdict": verdict, "pushed_version": _pushed_version(summary), "pushed_path": summary.pushed_path,
            "push_cached": summary.states.get(pipeline_lib.PUSHER) == "cached", "checks": summary.checks,
            "serving_version": summary.serving_version, "serving_path": summary.serving_path,
            "serving_check": _serving_check(summary)}


def _serving_check(summary: results.RunSummary) -> Optional[dict]:
    """The ServingCheck's outcome: passed or the reason, the load time and each latency; None if it did not run."""
    from components import serving_check as names
    check = summary.serving_check
    if not check:
        return None
    latencies = []
    for signature in (names.DEFAULT_SIGNATURE, names.RAW_SIGNATURE):
        for batch in names.BATCH_SIZES:
            p50, p99 = (check.get(names.latency_key(signature, p, batch)) for p in (50, 99))
            if p50 is not None and p99 is not None:
                latencies.append({"signature": signature, "batch": batch, "p50_ms": p50, "p99_ms": p99})
    return {"passed": not summary.serving_check_failed, "reason": check.get(names.REASON) or "",
            "load_seconds": check.get(names.LOAD_SECONDS), "requests": check.get(names.REQUESTS),
            "latencies": latencies}


def _data(data: ReportData) -> dict:
    splits = sorted(data.splits, key=lambda s: (s != "train", s))
    features = []
    for name in sorted({name for s in splits for name in data.splits[s].features}):
        stats = [data.splits[s].features.get(name) for s in splits]
        features.append({
            "name": name, "kind": next((f.kind for f in stats if f), ""),
            "cells": [None if f is None else
                      {"missing": f.missing, "chart": _chart(plots.bar_chart(f.bars, title=f"{name} ({s})"))}
                      for s, f in zip(splits, stats)]})
    return {"splits": [{"name": s, "rows": data.splits[s].rows} for s in splits],
            "features": features, "anomalies": data.anomalies}


def _training(data: ReportData) -> dict:
    training = data.training
    if not training:
        return {"ran": False, "charts": [], "last": []}
    charts = []
    steps = (0, max(step for points in training.values() for step, _ in points) or 1)
    if "training loss" in training:
        charts.append(plots.line_chart(
            [{"name": "training loss", "points": training["training loss"], "color": plots.COLORS["loss"]}],
            title="Training loss", x_label="step", y_label="loss", kind="loss", x_range=steps))
    evals = sorted((name for name in training if name.startswith("eval ")),
                   key=lambda n: (n != "eval accuracy", n))
    if evals:
        colors = (plots.COLORS["eval"],) + plots.EXTRA_COLORS
        series = [{"name": name, "points": training[name], "color": colors[i % len(colors)], "markers": True}
                  for i, name in enumerate(evals)]
        charts.append(plots.line_chart(series, title="Eval metrics at checkpoints", x_label="step",
                                       y_label="value", kind="eval", x_range=steps))
    if "steps/s" in training:
        charts.append(plots.line_chart(
            [{"name": "steps/s", "points": training["steps/s"], "color": plots.COLORS["speed"], "markers": True}],
            title="Training speed", x_label="step", y_label="steps per second", kind="speed", x_range=steps))
    last = [{"name": name, "step": points[-1][0], "value": points[-1][1]}
            for name, points in sorted(training.items()) if points]
    return {"ran": True, "charts": [_chart(c) for c in charts], "last": last}


def _evaluation(data: ReportData) -> dict:
    if not data.sliced:
        return {"ran": False}
    overall = data.sliced.get("overall", {})
    model, baseline, diff = overall.get("model", {}), overall.get(results.BASELINE, {}), overall.get("diff", {})
    names = [m for m in SHOWN_METRICS if m in model] + sorted(set(model) - set(SHOWN_METRICS))
    model_curves, base_curves = data.curves.get("model"), data.curves.get(results.BASELINE)

    def series(kind, attr, strip=lambda p: p):
        out = []
        if model_curves and getattr(model_curves, attr):
            out.append({"name": "this model", "points": strip(getattr(model_curves, attr)),
                        "color": plots.COLORS[kind]})
        if base_curves and getattr(base_curves, attr):
            out.append({"name": "baseline", "points": strip(getattr(base_curves, attr)),
                        "color": plots.COLORS["baseline"], "dashed": True})
        return out

    charts, confusion = [], None
    if model_curves and model_curves.roc:
        auc = model.get("auc")
        charts.append(plots.line_chart(series("roc", "roc"), title="ROC" + (f" (AUC {auc:.3f})" if auc else ""),
                                       x_label="false positive rate", y_label="true positive rate",
                                       kind="roc", x_range=(0, 1), y_range=(0, 1), diagonal=True))
        charts.append(plots.line_chart(series("pr", "pr"), title="Precision-recall", x_label="recall",
                                       y_label="precision", kind="pr", x_range=(0, 1), y_range=(0, 1)))
        charts.append(plots.line_chart(
            [dict(s, markers=True) for s in series("calibration", "calibration", lambda c: [(p, o) for p, o, _ in c])],
            title="Calibration", x_label="mean predicted probability", y_label="observed positive rate",
            kind="calibration", x_range=(0, 1), y_range=(0, 1), diagonal=True))
    elif model_curves and model_curves.calibration and not data.classes:  # a number to predict
        charts.extend(_regression_charts(series("calibration", "calibration")))
    elif model_curves and model_curves.confusion:
        confusion = _confusion(model_curves.confusion, data.classes)
    slices = sorted((s for s in data.sliced if s != "overall"), key=results.slice_order)
    slice_metrics = [m for m in SHOWN_METRICS if any(m in data.sliced[s].get("model", {}) for s in slices)]
    failed = {c.slice for c in data.summary.checks if c.passed is False}
    return {
        "ran": True, "has_baseline": bool(diff),
        "metrics": [{"name": m, "value": model.get(m), "baseline": baseline.get(m), "change": diff.get(m)}
                    for m in names],
        "charts": [_chart(c) for c in charts], "confusion": confusion,
        "slice_metrics": slice_metrics,
        "slices": [{"name": s, "failed": s in failed,
                    "cells": [data.sliced[s].get("model", {}).get(m) for m in slice_metrics]} for s in slices],
    }


def _regression_charts(series: List[dict]) -> list:
    """Predicted against actual (mean actual per prediction bin; the diagonal is perfect) and the
    residuals (mean actual minus mean predicted, per bin), from TFMA's CalibrationPlot."""
    fitted = [dict(s, markers=True, points=[(p, a) for p, a, _ in s["points"]]) for s in series]
    residual = [dict(s, markers=True, points=[(p, a - p) for p, a, _ in s["points"]]) for s in series]
    values = [v for s in fitted for point in s["points"] for v in point]
    span = (min(values), max(values)) if values else None
    return [plots.line_chart(fitted, title="Predicted against actual", x_label="mean predicted",
                             y_label="mean actual", kind="calibration", x_range=span, y_range=span,
                             diagonal=True),
            plots.line_chart(residual, title="Residuals", x_label="mean predicted",
                             y_label="actual minus predicted", kind="calibration")]


def _confusion(confusion: Dict[Tuple[int, int], float], classes: List[str]) -> dict:
    """Multi-class confusion matrix: rows the actual class, columns the predicted one."""
    ids = sorted({i for pair in confusion for i in pair if i >= 0})

    def name(i):
        return classes[i] if 0 <= i < len(classes) else str(i)
    return {"classes": [name(i) for i in ids],
            "rows": [{"actual": name(a), "counts": [confusion.get((a, p), 0) for p in ids]} for a in ids]}


def _facts(data: ReportData) -> dict:
    """The report's machine-readable facts (its JSON data element)."""
    summary = data.summary
    return {
        "run": data.run_name, "when": data.when, "states": summary.states,
        "rows": {split: stats.rows for split, stats in data.splits.items()},
        "missing": {split: {name: f.missing for name, f in stats.features.items()}
                    for split, stats in data.splits.items()},
        "metrics": summary.metrics, "blessed": summary.blessed,
        "checks": [dataclasses.asdict(c) for c in summary.checks],
        "pushed_version": _pushed_version(summary), "pushed_path": summary.pushed_path if summary.pushed else None,
        "serving_version": summary.serving_version,
        "serving_check": _serving_check(summary),
        "anomalies": data.anomalies,
        "drift": data.summary.drift,
        "classes": data.classes,
        "confusion": [[a, p, n] for (a, p), n in sorted(data.curves["model"].confusion.items())]
        if "model" in data.curves else [],
    }


def page_data(data: ReportData) -> dict:
    """What the template shows, as plain values (text is escaped there; charts are SVG markup)."""
    return {"run_name": data.run_name, "when": data.when, "states": data.summary.states,
            "facts": _facts(data), "decision": _decision(data), "evaluation": _evaluation(data),
            "training": _training(data), "data": _data(data),
            "drift": drift_report.section(data.summary.drift)}


def render(data: ReportData) -> str:
    """The whole report as one HTML document (no external resources)."""
    return _environment().get_template(TEMPLATE).render(page_data(data))


def write(config: PipelineConfig, run_index: int = 0, since: Optional[float] = None,
          anomalies_found: Optional[List[str]] = None) -> str:
    """Writes `<output-dir>/reports/<run>.html` (and a copy at `<output-dir>/report.html` for
    the newest run); returns the run's report path.

    `anomalies_found`: the anomalies of a run that ExampleValidator stopped (TFX keeps no
    output of a failed component, so they come from its error).
    """
    data = collect(config, run_index, since)
    if data.anomalies is None and anomalies_found is not None:
        data.anomalies = anomalies_found
    folder = os.path.join(config.output_dir, REPORTS_DIR)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{data.run_name}.html")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render(data))
    os.replace(tmp, path)
    if run_index == 0:
        latest = os.path.join(config.output_dir, LATEST)
        shutil.copyfile(path, latest + ".tmp")
        os.replace(latest + ".tmp", latest)
    return path
