"""A run as the terminal shows it: the summary after `run`, and `runs`' one line per past run.

Made from metadata.py's RunSummary. The blessing line is also the report's verdict, and the
blessing and serving-check lines are the --notify message's reason.
"""
from __future__ import annotations

import collections
import os
import re
import time
from typing import Dict, List, Optional

from components import drift_guard, serving_check
from components.atomic_pusher import already_served_line
from components.latest_pushed_model import records
from pipeline import pipeline as pipeline_lib
from pipeline.config import PipelineConfig
from pipeline.report import metadata


def drift_line(summary: metadata.RunSummary) -> Optional[str]:
    """'drift: ...': checked (against which version), accepted (on which features), stopped, or
    nothing to compare with; None when the drift guard did not run."""
    drift = summary.drift
    if not drift:
        return None
    status = drift.get("status")
    if status == drift_guard.DRIFTED:
        return "drift: stopped the run (the new data drifted; see the error)"
    if status == drift_guard.ACCEPTED:
        shown = "; ".join(line.strip() for line in drift_guard.drifted_lines(drift.get("features") or []))
        return f"drift: accepted ({drift_guard.ACCEPT_DRIFT_OPTION}): {shown}"
    if status == drift_guard.PASSED:
        features = drift.get("features") or []
        closest = max(features, key=lambda f: f["distance"] / f["threshold"] if f["threshold"] else 0,
                      default=None)
        near = (f"; closest: {closest['name']} {closest['distance']:.4f} (threshold {closest['threshold']:g})"
                if closest else "")
        return (f"drift: none ({len(features)} features compared with the data of served version "
                f"{drift.get('served_version')}{near})")
    return f"drift: not checked: {drift.get('note')}"


def serving_check_line(summary: metadata.RunSummary) -> Optional[str]:
    """'serving check: passed: ...' or 'serving check: failed: <reason>'; None when it did not run."""
    if not summary.serving_check:
        return None
    if summary.serving_check_failed:
        return f"serving check: failed: {summary.serving_check.get(serving_check.REASON)}"
    return f"serving check: {serving_check.passed_line(summary.serving_check)}"


def history(config: PipelineConfig, limit: int = 20) -> List[str]:
    """One line per past run and per rollback, newest first: when, components, metrics, blessing,
    push."""
    lines = []  # (when, line)
    for record in records.read_records(config.serving_dir):
        if record.get("rollback"):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(record.get("pushed_at") or 0)))
            rolled = record["rollback"]
            lines.append((float(record.get("pushed_at") or 0),
                          f"{when}  {'rollback':<22} {'-':<32} {'-':<12} {'-':<13} pushed {record['version']}  "
                          f"(version {rolled.get('to_version')} again, was {rolled.get('from_version')})"))
    if not os.path.isfile(config.metadata_path):
        return [line for _, line in sorted(lines, reverse=True)][:limit]
    store = metadata.open_store(config.metadata_path)
    for run, executions in metadata.run_executions(store, config.pipeline_name)[:limit]:
        summary = metadata.summarize_run(store, executions)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.create_time_since_epoch / 1000))
        steps = state_counts(summary.states)
        failed = [node for node, state in summary.states.items() if state == "failed"]
        metrics = " ".join(f"{k}={summary.metrics[k]:.4f}" for k in ("accuracy", "auc", "mae", "rmse") if k in summary.metrics)
        blessed = {True: "blessed", False: "not blessed", None: "-"}[summary.blessed]
        pushed = (f"pushed {os.path.basename(summary.pushed_path.rstrip('/'))}" if summary.pushed
                  else f"already served as {summary.serving_version}" if summary.serving_version
                  else "not pushed")
        drift = {drift_guard.DRIFTED: "  drift: stopped", drift_guard.ACCEPTED: "  drift: accepted"}.get(
            (summary.drift or {}).get("status"), "")
        servable = ("-" if not summary.serving_check else "not servable" if summary.serving_check_failed
                    else "servable")
        lines.append((run.create_time_since_epoch / 1000,
                      f"{when}  {steps:<22} {metrics or '-':<32} {blessed:<12} {servable:<13} {pushed}"
                      + (f"  failed: {', '.join(failed)}" if failed else "") + drift))
    return [line for _, line in sorted(lines, key=lambda item: item[0], reverse=True)][:limit]


def state_counts(states: Dict[str, str]) -> str:
    """'5 cached, 3 ran': how many components ended in each state."""
    counts = collections.Counter(states.values())
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def format_summary(summary: metadata.RunSummary, seconds: float) -> str:
    lines = [f"pipeline finished in {seconds:.1f} s ({state_counts(summary.states)})"]
    if summary.metrics:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(summary.metrics.items())
                          if k in ("auc", "accuracy", "loss", "example_count", "mae", "mse", "rmse"))
        lines.append(f"eval metrics (overall): {shown}")
    if drift_line(summary):
        lines.append(drift_line(summary))
    if summary.blessed is not None:
        lines.append(blessing_line(summary))
    if serving_check_line(summary):
        lines.append(serving_check_line(summary))
    if summary.pushed and summary.states.get(pipeline_lib.PUSHER) == "cached":
        lines.append(f"pushed: nothing new; the same model is already at {summary.pushed_path} (cached)")
    elif summary.pushed:
        version = os.path.basename(summary.pushed_path.rstrip("/"))
        lines.append(f"pushed: version {version} to {summary.pushed_path}")
    elif summary.serving_version:
        lines.append(already_served_line(summary.serving_version, summary.serving_path))
    elif summary.serving_check_failed:
        lines.append("pushed: nothing (the model failed the serving check)")
    else:
        lines.append("pushed: nothing (the model was not blessed)")
    if summary.report_path:
        lines.append(f"report: {summary.report_path}")
    return "\n".join(lines)


def blessing_line(summary: metadata.RunSummary, most: int = 3, more: str = "see the report") -> str:
    """'blessed: yes (...)' or 'blessed: no: <each failed threshold, value vs bound>'."""
    failed = [c for c in summary.checks if c.passed is False]
    if summary.blessed and not failed:
        passed = [c.describe() for c in summary.checks if c.passed]
        reasons = passed + ([] if summary.has_baseline or not summary.checks else
                            ["no blessed model yet, so no comparison with a baseline"])
        return "blessed: yes" + (f" ({'; '.join(reasons)})" if reasons else "")
    if summary.blessed:
        return "blessed: yes"
    if not failed:
        return "blessed: no (see the Evaluator's validation result)"
    shown = "; ".join(c.describe() for c in failed[:most])
    rest = f"; and {len(failed) - most} more ({more})" if len(failed) > most else ""
    return f"blessed: no: {shown}{rest}{_imbalance_hint(summary.checks, failed)}"


# From this majority-class rate on, accuracy says little: a model that ranks well (AUC) may still
# never beat always answering the majority class by --min-lift.
IMBALANCED = 0.9


def _imbalance_hint(checks, failed) -> str:
    """What to do when only the majority-class accuracy bound failed, on an imbalanced binary
    label whose AUC bound passed."""
    if len(failed) != 1 or (failed[0].metric, failed[0].kind, failed[0].slice) != ("accuracy", "value", "overall"):
        return ""
    rate = re.search(r"majority class .*: ([0-9.]+)", failed[0].baseline)
    auc_passed = any(c.metric == "auc" and c.kind == "value" and c.slice == "overall" and c.passed
                     for c in checks)
    if rate is None or float(rate.group(1)) < IMBALANCED or not auc_passed:
        return ""
    return (f". The majority class is {float(rate.group(1)):.1%} of the eval split, so accuracy can "
            "hardly beat always answering it, while the AUC passed; to bless on AUC alone, rerun "
            "with --min-accuracy 0 (or lower --min-lift)")
