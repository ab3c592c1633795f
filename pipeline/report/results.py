"""What a run did, read back from ML Metadata: per-component state, metrics, blessing, push."""
from __future__ import annotations

import collections
import dataclasses
import json
import os
import time
from typing import Dict, List, Optional, Tuple

import tensorflow_model_analysis as tfma
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components import drift_guard, serving_check
from components.atomic_pusher import already_served_line
from components.latest_pushed_model import records
from pipeline import pipeline as pipeline_lib
from pipeline.config import PipelineConfig

_STATE_NAMES = {
    metadata_store_pb2.Execution.COMPLETE: "ran",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.CANCELED: "canceled",
    metadata_store_pb2.Execution.NEW: "new",
}


@dataclasses.dataclass
class Check:
    """One threshold of the Evaluator, as held against one slice's value."""
    metric: str
    kind: str                   # "value": the model's own value; "change": model minus baseline
    bound: str                  # e.g. ">= 0.6"
    value: Optional[float]
    slice: str                  # "overall" or "feature=value"
    passed: Optional[bool]      # None: not checked (no baseline to compare with)
    note: str = ""
    baseline: str = ""          # what a value bound was computed from, e.g. "always answering ..."

    def describe(self) -> str:
        what = self.metric if self.kind == "value" else f"{self.metric} change vs the baseline"
        where = "" if self.slice == "overall" else f" on slice {self.slice}"
        value = "-" if self.value is None else f"{self.value:+.4f}" if self.kind == "change" else f"{self.value:.4f}"
        # The data's own baseline the bound came from (gates.json), e.g. the majority class's rate.
        why = f" ({self.baseline})" if self.baseline else ""
        return f"{what}{where} {value}, needed {self.bound}{why}"


@dataclasses.dataclass
class RunSummary:
    states: Dict[str, str]                 # component id -> ran / cached / failed
    metrics: Dict[str, float]              # overall eval metrics of the run's model
    blessed: Optional[bool]
    pushed: bool
    pushed_path: Optional[str]
    evaluation_uri: Optional[str]
    checks: List[Check] = dataclasses.field(default_factory=list)
    has_baseline: bool = False
    report_path: Optional[str] = None
    # Blessed but not pushed because the same model is already served (the Pusher says so).
    serving_version: Optional[str] = None
    serving_path: Optional[str] = None
    not_pushed_reason: Optional[str] = None
    # The ServingCheck's InfraBlessing properties (blessed, reason, load_seconds, latencies); None
    # when it did not run.
    serving_check: Optional[Dict[str, object]] = None
    # The drift guard's drift.json (status, served_version, accept_drift, features), {"status":
    # "drifted"} when it stopped the run; None when it did not run.
    drift: Optional[Dict[str, object]] = None

    @property
    def serving_check_failed(self) -> bool:
        return bool(self.serving_check) and not self.serving_check.get(serving_check.BLESSED)


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def run_executions(store: metadata_store.MetadataStore, pipeline_name: str):
    """[(run context, {component id: execution})], newest run first."""
    pipeline_context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline_context is None:
        return []
    in_pipeline = {e.id for e in store.get_executions_by_context(pipeline_context.id)}
    node_type = store.get_context_type("node").id
    runs = []
    for run in store.get_contexts_by_type("pipeline_run"):
        executions = [e for e in store.get_executions_by_context(run.id) if e.id in in_pipeline]
        if not executions:
            continue
        by_node = {}
        for execution in sorted(executions, key=lambda e: e.id):
            for context in store.get_contexts_by_execution(execution.id):
                if context.type_id == node_type:
                    by_node[context.name.split(".", 1)[-1]] = execution
        runs.append((run, by_node))
    return sorted(runs, key=lambda r: (r[0].create_time_since_epoch, r[0].id), reverse=True)


def latest_run_executions(store: metadata_store.MetadataStore,
                          pipeline_name: str) -> Dict[str, metadata_store_pb2.Execution]:
    """Component id -> execution, for the pipeline's newest run."""
    runs = run_executions(store, pipeline_name)
    return runs[0][1] if runs else {}


def output_artifacts(store, execution_id: int) -> List[metadata_store_pb2.Artifact]:
    events = store.get_events_by_execution_ids([execution_id])
    ids = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    return store.get_artifacts_by_id(ids) if ids else []


def _artifact_of_type(store, artifacts, type_name: str):
    wanted = store.get_artifact_type(type_name).id
    found = [a for a in artifacts if a.type_id == wanted]
    return found[0] if found else None


BASELINE = "baseline"  # TFX's name for the baseline model in TFMA's results


def slice_name(slice_key) -> str:
    """'overall' or 'feature=value' for a TFMA SliceKey proto."""
    parts = []
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        value = getattr(single, kind) if kind else ""
        parts.append(f"{single.column}={value.decode() if isinstance(value, bytes) else value}")
    return ", ".join(parts) or "overall"


def slice_order(name: str):
    """Sort key for slice names: by feature, then numerically when the value is a number."""
    feature, _, value = name.partition("=")
    try:
        return feature, float(value), ""
    except ValueError:
        return feature, float("inf"), value


def sliced_metrics(evaluation_uri: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{slice name: {"model" | "baseline" | "diff": {metric: value}}} from TFMA's metrics."""
    sliced = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        by_model = sliced.setdefault(slice_name(slice_metrics.slice_key), {})
        for key_and_value in slice_metrics.metric_keys_and_values:
            key, value = key_and_value.key, key_and_value.value
            if not value.HasField("double_value"):
                continue
            which = "diff" if key.is_diff else BASELINE if key.model_name == BASELINE else "model"
            by_model.setdefault(which, {})[key.name] = value.double_value.value
    return sliced


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
    """The run's model's metrics on the whole eval split (not the baseline's, not diffs)."""
    return sliced_metrics(evaluation_uri).get("overall", {}).get("model", {})


def _metric_name(metric_config) -> str:
    import json
    import re
    if metric_config.config:
        name = json.loads(metric_config.config).get("name")
        if name:
            return name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", metric_config.class_name).lower()


def _bounds(threshold) -> str:
    """'>= 0.6', '<= 0.3' or both, for a TFMA value or change threshold proto."""
    def number(wrapper):
        return f"{wrapper.value:g}"
    if threshold.DESCRIPTOR.name == "GenericChangeThreshold":
        higher = threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
        if threshold.HasField("absolute"):
            bound = threshold.absolute.value
            return f"{'>=' if higher else '<='} {0.0 if abs(bound) < 1e-9 else bound:g}"
        if threshold.HasField("relative"):
            return f"{'>=' if higher else '<='} {threshold.relative.value:g} (relative)"
        return "?"
    parts = []
    if threshold.HasField("lower_bound"):
        parts.append(f">= {number(threshold.lower_bound)}")
    if threshold.HasField("upper_bound"):
        parts.append(f"<= {number(threshold.upper_bound)}")
    return " and ".join(parts)


def load_eval_config(evaluation_uri: str):
    """The EvalConfig TFMA used for this evaluation (the run's thresholds)."""
    import json
    from google.protobuf import json_format
    with open(os.path.join(evaluation_uri, "eval_config.json")) as f:
        data = json.load(f)
    return json_format.ParseDict(data.get("evalConfig", {}), tfma.EvalConfig(), ignore_unknown_fields=True)


def threshold_checks(evaluation_uri: str, metrics=None) -> Tuple[List[Check], bool]:
    """Every threshold of the evaluation on the overall slice, plus every slice that failed one.

    Returns (checks, whether a baseline model was compared). Our thresholds hold on the
    overall slice (per_slice_thresholds); a config whose plain `threshold` holds on every slice
    also works: TFMA's validation result lists the failing slices.
    """
    metrics = metrics if metrics is not None else sliced_metrics(evaluation_uri)
    overall = metrics.get("overall", {})
    has_baseline = bool(overall.get("diff"))
    validation = tfma.load_validation_result(evaluation_uri)
    failed = {}  # (slice, metric, kind) -> failure
    for per_slice in validation.metric_validations_per_slice:
        where = slice_name(per_slice.slice_key)
        for failure in per_slice.failures:
            kind = "change" if failure.metric_key.is_diff else "value"
            failed[(where, failure.metric_key.name, kind)] = failure
    from components.run_parameters import gates as gates_lib
    notes = gates_lib.read_notes(evaluation_uri)
    checks = []
    for spec in load_eval_config(evaluation_uri).metrics_specs:
        for metric_config in spec.metrics:
            name = _metric_name(metric_config)
            thresholds = [metric_config.threshold] if metric_config.HasField("threshold") else []
            thresholds += [t.threshold for t in metric_config.per_slice_thresholds]
            for kind, field in (("value", "value_threshold"), ("change", "change_threshold")):
                threshold = next((t for t in thresholds if t.HasField(field)), None)
                if threshold is None:
                    continue
                bound = _bounds(getattr(threshold, field))
                if kind == "change" and not has_baseline:
                    checks.append(Check(name, kind, bound, None, "overall", None,
                                        "no blessed model yet to compare with"))
                    continue
                value = overall.get("diff" if kind == "change" else "model", {}).get(name)
                why = notes.get(name, {}).get("note", "") if kind == "value" else ""
                checks.append(Check(name, kind, bound, value, "overall",
                                    ("overall", name, kind) not in failed, baseline=why))
    for (where, name, kind), failure in sorted(failed.items(), key=lambda item: (slice_order(item[0][0]),
                                                                                item[0][1:])):
        if where == "overall":
            continue
        value = failure.metric_value.double_value.value if failure.HasField("metric_value") else None
        bound = _bounds(getattr(failure.metric_threshold,
                                "change_threshold" if kind == "change" else "value_threshold"))
        checks.append(Check(name, kind, bound, value, where, False, failure.message))
    return checks, has_baseline


def summarize(config: PipelineConfig) -> RunSummary:
    store = open_store(config.metadata_path)
    return summarize_run(store, latest_run_executions(store, config.pipeline_name))


def summarize_run(store, executions: Dict[str, metadata_store_pb2.Execution]) -> RunSummary:
    states = {node: _STATE_NAMES.get(e.last_known_state, "?") for node, e in executions.items()}
    metrics, blessed, evaluation_uri, checks, has_baseline = {}, None, None, [], False
    if pipeline_lib.EVALUATOR in executions:
        outputs = output_artifacts(store, executions[pipeline_lib.EVALUATOR].id)
        evaluation = _artifact_of_type(store, outputs, "ModelEvaluation")
        blessing = _artifact_of_type(store, outputs, "ModelBlessing")
        if evaluation is not None and os.path.isdir(evaluation.uri):
            evaluation_uri = evaluation.uri
            sliced = sliced_metrics(evaluation.uri)
            metrics = sliced.get("overall", {}).get("model", {})
            if os.path.isfile(os.path.join(evaluation.uri, "eval_config.json")):
                checks, has_baseline = threshold_checks(evaluation.uri, sliced)
        if blessing is not None and "blessed" in blessing.custom_properties:
            blessed = bool(blessing.custom_properties["blessed"].int_value)
    pushed, pushed_path, not_pushed = False, None, {}
    if pipeline_lib.PUSHER in executions:
        pushed_model = _artifact_of_type(
            store, output_artifacts(store, executions[pipeline_lib.PUSHER].id), "PushedModel")
        properties = pushed_model.custom_properties if pushed_model is not None else {}
        if "pushed" in properties:
            pushed = bool(properties["pushed"].int_value)
            if pushed:
                pushed_path = properties["pushed_destination"].string_value
        not_pushed = {field: properties[key].string_value for field, key in _NOT_PUSHED.items()
                      if not pushed and key in properties}
    return RunSummary(states, metrics, blessed, pushed, pushed_path, evaluation_uri, checks, has_baseline,
                      **not_pushed, serving_check=_serving_check(store, executions),
                      drift=_drift(store, executions))


def _drift(store, executions) -> Optional[Dict[str, object]]:
    """What the drift guard found (its drift.json); {"status": "drifted"} when it stopped the run."""
    execution = executions.get(pipeline_lib.DRIFT_GUARD)
    if execution is None:
        return None
    if execution.last_known_state == metadata_store_pb2.Execution.FAILED:
        return {"status": drift_guard.DRIFTED}
    output = _artifact_of_type(store, output_artifacts(store, execution.id), "ExampleAnomalies")
    path = os.path.join(output.uri, "drift.json") if output is not None else ""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def drift_line(summary: RunSummary) -> Optional[str]:
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


def _serving_check(store, executions) -> Optional[Dict[str, object]]:
    """The ServingCheck's InfraBlessing custom properties as plain values, or None."""
    if pipeline_lib.SERVING_CHECK not in executions:
        return None
    blessing = _artifact_of_type(store, output_artifacts(store, executions[pipeline_lib.SERVING_CHECK].id),
                                 "InfraBlessing")
    if blessing is None or serving_check.BLESSED not in blessing.custom_properties:
        return None
    values = {}
    for key, value in blessing.custom_properties.items():
        kind = value.WhichOneof("value")
        values[key] = getattr(value, kind) if kind in ("int_value", "double_value", "string_value") else None
    return values


def serving_check_line(summary: RunSummary) -> Optional[str]:
    """'serving check: passed: ...' or 'serving check: failed: <reason>'; None when it did not run."""
    if not summary.serving_check:
        return None
    if summary.serving_check_failed:
        return f"serving check: failed: {summary.serving_check.get(serving_check.REASON)}"
    return f"serving check: {serving_check.passed_line(summary.serving_check)}"


# What the Pusher records on a PushedModel it did not push (components/atomic_pusher/executor.py).
_NOT_PUSHED = {"serving_version": "serving_version", "serving_path": "serving_destination",
               "not_pushed_reason": "not_pushed_reason"}


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
    store = open_store(config.metadata_path)
    for run, executions in run_executions(store, config.pipeline_name)[:limit]:
        summary = summarize_run(store, executions)
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


def format_summary(summary: RunSummary, seconds: float) -> str:
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


def blessing_line(summary: RunSummary, most: int = 3, more: str = "see the report") -> str:
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
    return f"blessed: no: {shown}{rest}"
