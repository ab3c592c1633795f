"""The run report: one self-contained HTML file per run (inline SVG plots, no scripts, no network).

Read from the run's artifacts, found through ML Metadata: StatisticsGen's statistics and
ExampleValidator's anomalies (the data), the Trainer's TensorBoard summaries (training),
TFMA's metrics, plots and validation result (evaluation and the decision), the Pusher's
pushed model.
"""
from __future__ import annotations

import dataclasses
import glob
import html
import json
import os
import shutil
import time
from typing import Dict, List, Optional, Tuple

from pipeline.report import plots, results
from pipeline import pipeline as pipeline_lib
from pipeline.config import PipelineConfig

REPORTS_DIR = "reports"
LATEST = "report.html"
SHOWN_METRICS = ("example_count", "accuracy", "auc", "loss", "precision", "recall")


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
    import tensorflow_model_analysis as tfma
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
    """TFMA's fine calibration buckets merged into `bins` equal-width prediction bins."""
    totals = [[0.0, 0.0, 0.0] for _ in range(bins)]  # examples, sum of labels, sum of predictions
    for bucket in buckets:
        count = bucket.num_weighted_examples.value
        if count <= 0:
            continue
        mean_prediction = bucket.total_weighted_refined_prediction.value / count
        index = min(bins - 1, max(0, int(mean_prediction * bins)))
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


# ---------------------------------------------------------------- HTML

_CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222;
       margin: 24px auto; max-width: 1180px; padding: 0 16px; background: #fff; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee;
  text-align: left; vertical-align: middle; } th { background: #f6f6f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #17803d; font-weight: 600; } .fail { color: #c62828; font-weight: 600; } .na { color: #777; }
.verdict { font-size: 16px; padding: 10px 14px; border-radius: 6px; background: #f3f6fa; margin: 12px 0; }
.plots { display: flex; flex-wrap: wrap; gap: 18px; } .muted { color: #666; } code { font-size: 13px; }
.scroll { max-height: 520px; overflow-y: auto; display: inline-block; }
"""


def _e(text) -> str:
    return html.escape(str(text))


def _num(value: Optional[float], digits: int = 4) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _state(passed: Optional[bool]) -> str:
    return {True: '<span class="pass">pass</span>', False: '<span class="fail">fail</span>',
            None: '<span class="na">not checked</span>'}[passed]


def _pushed_version(summary: results.RunSummary) -> Optional[str]:
    return os.path.basename(summary.pushed_path.rstrip("/")) if summary.pushed and summary.pushed_path else None


def _decision_section(data: ReportData) -> str:
    summary = data.summary
    failed = [node for node, state in summary.states.items() if state == "failed"]
    if summary.blessed is not None:
        verdict = results.blessing_line(summary, more="listed below")
    elif failed:
        verdict = f"no decision: {', '.join(failed)} failed, so the run stopped before the Evaluator decided"
    else:
        verdict = "no decision: the Evaluator did not run"
    pushed = _pushed_version(summary)
    push_line = (f"pushed version <b>{_e(pushed)}</b> to <code>{_e(summary.pushed_path)}</code>"
                 + (" (the same model was already pushed: cached)"
                    if summary.states.get(pipeline_lib.PUSHER) == "cached" else "")
                 if pushed else "nothing pushed")
    rows = "".join(
        f'<tr><td>{_e(c.metric)}</td><td>{"model value" if c.kind == "value" else "change vs baseline"}</td>'
        f'<td>{_e(c.slice)}</td><td class="num">{_e(c.bound)}</td>'
        f'<td class="num">{"-" if c.value is None else (f"{c.value:+.4f}" if c.kind == "change" else f"{c.value:.4f}")}'
        f'</td><td>{_state(c.passed)}</td><td class="muted">{_e(c.note)}</td></tr>' for c in summary.checks)
    table = ("<table><tr><th>metric</th><th>check</th><th>slice</th><th>held against</th><th>value</th>"
             f"<th>result</th><th>note</th></tr>{rows}</table>" if rows else
             "<p class='muted'>The Evaluator did not run in this run.</p>")
    return (f'<h2 id="decision">The decision</h2><div class="verdict">{_e(verdict)}<br>{push_line}</div>'
            f"{table}<p class='muted'>Thresholds hold on the whole eval split; a threshold set "
            "on every slice lists each failing slice by name.</p>")


def _data_section(data: ReportData) -> str:
    if not data.splits:
        return "<h2 id='data'>The data</h2><p class='muted'>No statistics recorded for this run.</p>"
    splits = sorted(data.splits, key=lambda s: (s != "train", s))
    rows = " ".join(f"{_e(split)}: <b>{data.splits[split].rows:,}</b> rows" for split in splits)
    header = "".join(f"<th>missing ({_e(s)})</th>" for s in splits) + "".join(
        f"<th>distribution ({_e(s)})</th>" for s in splits)
    names = sorted({name for s in splits for name in data.splits[s].features})
    body = []
    for name in names:
        cells = [data.splits[s].features.get(name) for s in splits]
        kind = next((c.kind for c in cells if c), "")
        missing = "".join(f'<td class="num">{"-" if c is None else f"{100 * c.missing:.1f}%"}</td>' for c in cells)
        charts = "".join(f"<td>{plots.bar_chart(c.bars, title=f'{name} ({s})') if c else ''}</td>"
                         for s, c in zip(splits, cells))
        body.append(f"<tr><td><b>{_e(name)}</b></td><td class='muted'>{_e(kind)}</td>{missing}{charts}</tr>")
    if data.anomalies is None:
        anomaly_list = ("<p class='muted'>Not available: ExampleValidator did not finish in this run "
                        "(its reason is in the run's log and on the terminal).</p>")
    elif data.anomalies:
        anomaly_list = "<ul>" + "".join(f"<li class='fail'>{_e(a)}</li>" for a in data.anomalies) + "</ul>"
    else:
        anomaly_list = "<p class='pass'>No anomalies: the data matches the schema.</p>"
    return (f"<h2 id='data'>The data</h2><p>{rows}</p><h3>Anomalies</h3>{anomaly_list}"
            f"<h3>Features</h3><p class='muted'>Histograms for numbers, most frequent values for "
            f"categories (hover a bar for its range or value and count).</p>"
            f"<table><tr><th>feature</th><th>type</th>{header}</tr>{''.join(body)}</table>")


def _training_section(data: ReportData) -> str:
    training = data.training
    if not training:
        return "<h2 id='training'>Training</h2><p class='muted'>No training summaries for this run.</p>"
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
    last = {name: points[-1] for name, points in training.items() if points}
    facts = ", ".join(f"{name} {_num(value)} at step {step:,}" for name, (step, value) in sorted(last.items()))
    return (f"<h2 id='training'>Training</h2><p class='muted'>From the Estimator's TensorBoard summaries "
            f"(last: {_e(facts)}).</p><div class='plots'>{''.join(charts)}</div>")


def _evaluation_section(data: ReportData) -> str:
    if not data.sliced:
        return "<h2 id='evaluation'>Evaluation</h2><p class='muted'>The Evaluator did not run.</p>"
    overall = data.sliced.get("overall", {})
    model, baseline, diff = overall.get("model", {}), overall.get(results.BASELINE, {}), overall.get("diff", {})
    names = [m for m in SHOWN_METRICS if m in model] + sorted(set(model) - set(SHOWN_METRICS))
    has_baseline = bool(diff)
    head = "<tr><th>metric</th><th>this model</th>" + (
        "<th>baseline (last blessed)</th><th>change</th>" if has_baseline else "") + "</tr>"
    rows = "".join(
        f"<tr><td>{_e(m)}</td><td class='num' data-metric='{_e(m)}'>{_num(model.get(m))}</td>"
        + (f"<td class='num'>{_num(baseline.get(m))}</td><td class='num'>"
           f"{'-' if diff.get(m) is None else f'{diff[m]:+.4f}'}</td>" if has_baseline else "")
        + "</tr>" for m in names)
    baseline_note = ("Compared with the last blessed model (the baseline)." if has_baseline else
                     "No blessed model yet: this run's model is held against the thresholds only.")
    charts = []
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
    elif model_curves and model_curves.confusion:
        charts.append(_confusion_table(model_curves.confusion, data.classes))
    else:
        charts.append("<p class='muted'>No plots were computed for this evaluation.</p>")
    slices = [s for s in data.sliced if s != "overall"]
    slice_cols = [m for m in SHOWN_METRICS if any(m in data.sliced[s].get("model", {}) for s in slices)]

    failed = {c.slice for c in data.summary.checks if c.passed is False}
    slice_rows = "".join(
        f"<tr><td>{_e(s)}{' <span class=fail>(failed a threshold)</span>' if s in failed else ''}</td>"
        + "".join(f"<td class='num'>{_num(data.sliced[s].get('model', {}).get(m))}</td>" for m in slice_cols)
        + "</tr>" for s in sorted(slices, key=results.slice_order))
    slice_table = (f"<h3>Per slice</h3><div class='scroll'><table><tr><th>slice</th>"
                   + "".join(f"<th>{_e(m)}</th>" for m in slice_cols) + f"</tr>{slice_rows}</table></div>"
                   if slices else "")
    return (f"<h2 id='evaluation'>Evaluation</h2><p>{_e(baseline_note)}</p><h3>Overall</h3>"
            f"<table>{head}{rows}</table><div class='plots'>{''.join(charts)}</div>{slice_table}")


def _confusion_table(confusion: Dict[Tuple[int, int], float], classes: List[str]) -> str:
    """Multi-class confusion matrix: rows the actual class, columns the predicted one."""
    ids = sorted({i for pair in confusion for i in pair if i >= 0})

    def name(i):
        return classes[i] if 0 <= i < len(classes) else str(i)
    head = "".join(f"<th>predicted {_e(name(i))}</th>" for i in ids)
    body = "".join(
        f"<tr><th>actual {_e(name(a))}</th>"
        + "".join(f"<td class='num'>{confusion.get((a, p), 0):,.0f}</td>" for p in ids) + "</tr>" for a in ids)
    return (f"<div><h3>Confusion matrix (overall)</h3><table class='confusion'><tr><th></th>{head}</tr>"
            f"{body}</table><p class='muted'>ROC, precision-recall and calibration curves are drawn "
            "for binary labels only.</p></div>")


def render(data: ReportData) -> str:
    """The whole report as one HTML document (no external resources)."""
    summary = data.summary
    steps = ", ".join(f"{_e(node)} <span class='muted'>{_e(state)}</span>" for node, state in summary.states.items())
    machine = {
        "run": data.run_name, "when": data.when, "states": summary.states,
        "rows": {split: stats.rows for split, stats in data.splits.items()},
        "missing": {split: {name: f.missing for name, f in stats.features.items()}
                    for split, stats in data.splits.items()},
        "metrics": summary.metrics, "blessed": summary.blessed,
        "checks": [dataclasses.asdict(c) for c in summary.checks],
        "pushed_version": _pushed_version(summary), "pushed_path": summary.pushed_path if summary.pushed else None,
        "anomalies": data.anomalies,
        "classes": data.classes,
        "confusion": [[a, p, n] for (a, p), n in sorted(data.curves["model"].confusion.items())]
        if "model" in data.curves else [],
    }
    facts = json.dumps(machine).replace("</", "<\\/")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>keras-tfx {_e(data.run_name)}</title><style>{_CSS}</style>"
        # Machine-readable facts of the report (data, not a script: nothing runs).
        f"<script type='application/json' id='report-data'>{facts}</script>"
        "</head><body>"
        f"<h1>Run {_e(data.when)}</h1><p class='muted'>{steps}</p>"
        "<p><a href='#decision'>decision</a> · <a href='#evaluation'>evaluation</a> · "
        "<a href='#training'>training</a> · <a href='#data'>data</a></p>"
        + _decision_section(data) + _evaluation_section(data) + _training_section(data) + _data_section(data)
        + "</body></html>")


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
