"""The run report: one self-contained HTML file per run (inline SVG plots, no scripts, no network).

collect.py reads the values from the run's artifacts; this module turns them into the
template's plain values and writes the page; templates/report.html.j2 lays them out.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import shutil
from typing import Dict, List, Optional, Tuple

import jinja2
import markupsafe

from pipeline import pipeline as pipeline_lib
from pipeline.config import PipelineConfig
from pipeline.report import collect, drift as drift_report, metadata, plots, terminal, thresholds
from pipeline.report.collect import SHOWN_METRICS, ReportData

REPORTS_DIR = "reports"
LATEST = "report.html"

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


def _pushed_version(summary: metadata.RunSummary) -> Optional[str]:
    return os.path.basename(summary.pushed_path.rstrip("/")) if summary.pushed and summary.pushed_path else None


def _decision(data: ReportData) -> dict:
    summary = data.summary
    failed = [node for node, state in summary.states.items() if state == "failed"]
    if summary.blessed is not None:
        verdict = terminal.blessing_line(summary, more="listed below")
    elif failed:
        verdict = f"no decision: {', '.join(failed)} failed, so the run stopped before the Evaluator decided"
    else:
        verdict = "no decision: the Evaluator did not run"
    return {"verdict": verdict, "pushed_version": _pushed_version(summary), "pushed_path": summary.pushed_path,
            "push_cached": summary.states.get(pipeline_lib.PUSHER) == "cached", "checks": summary.checks,
            "serving_version": summary.serving_version, "serving_path": summary.serving_path,
            "serving_check": _serving_check(summary)}


def _serving_check(summary: metadata.RunSummary) -> Optional[dict]:
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
    model, diff = overall.get("model", {}), overall.get("diff", {})
    baseline = overall.get(thresholds.BASELINE_MODEL, {})
    names = [m for m in SHOWN_METRICS if m in model] + sorted(set(model) - set(SHOWN_METRICS))
    model_curves, base_curves = data.curves.get("model"), data.curves.get(thresholds.BASELINE_MODEL)

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
    slices = sorted((s for s in data.sliced if s != "overall"), key=thresholds.slice_order)
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


def template() -> jinja2.Template:
    """The report's template, from the package data an install carries (the image's build loads it)."""
    return _environment().get_template(TEMPLATE)


def render(data: ReportData) -> str:
    """The whole report as one HTML document (no external resources)."""
    return template().render(page_data(data))


def write(config: PipelineConfig, run_index: int = 0, since: Optional[float] = None,
          anomalies_found: Optional[List[str]] = None) -> str:
    """Writes `<output-dir>/reports/<run>.html` (and a copy at `<output-dir>/report.html` for
    the newest run); returns the run's report path.

    `anomalies_found`: the anomalies of a run that ExampleValidator stopped (TFX keeps no
    output of a failed component, so they come from its error).
    """
    data = collect.report_data(config, run_index, since)
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
