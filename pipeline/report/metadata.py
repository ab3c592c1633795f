"""What a run did, read back from ML Metadata: per-component state, metrics, blessing, push.

The store is opened read-only; each run is the executions of one pipeline_run context, keyed
by component id. `summarize` gives the newest run's RunSummary, which the terminal summary
(terminal.py), the report (collect.py) and the --notify message are made from.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components import atomic_pusher, drift_guard, serving_check
from pipeline import pipeline as pipeline_lib
from pipeline.config import PipelineConfig
from pipeline.report import thresholds

_STATE_NAMES = {
    metadata_store_pb2.Execution.COMPLETE: "ran",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.CANCELED: "canceled",
    metadata_store_pb2.Execution.NEW: "new",
}


@dataclasses.dataclass
class RunSummary:
    states: Dict[str, str]                 # component id -> ran / cached / failed
    metrics: Dict[str, float]              # overall eval metrics of the run's model
    blessed: Optional[bool]
    pushed: bool
    pushed_path: Optional[str]
    evaluation_uri: Optional[str]
    checks: List[thresholds.Check] = dataclasses.field(default_factory=list)
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


def artifact_of_type(store, artifacts, type_name: str):
    """The first of `artifacts` of the artifact type `type_name` (e.g. "ModelBlessing"), or None;
    None too while no artifact of that type was ever recorded (a first run that failed before its
    Trainer wrote a ModelRun), when ML Metadata does not know the type yet."""
    from ml_metadata import errors
    try:
        wanted = store.get_artifact_type(type_name).id
    except errors.NotFoundError:
        return None
    found = [a for a in artifacts if a.type_id == wanted]
    return found[0] if found else None


def summarize(config: PipelineConfig) -> RunSummary:
    store = open_store(config.metadata_path)
    return summarize_run(store, latest_run_executions(store, config.pipeline_name))


def summarize_run(store, executions: Dict[str, metadata_store_pb2.Execution]) -> RunSummary:
    states = {node: _STATE_NAMES.get(e.last_known_state, "?") for node, e in executions.items()}
    metrics, blessed, evaluation_uri, checks, has_baseline = {}, None, None, [], False
    if pipeline_lib.EVALUATOR in executions:
        outputs = output_artifacts(store, executions[pipeline_lib.EVALUATOR].id)
        evaluation = artifact_of_type(store, outputs, "ModelEvaluation")
        blessing = artifact_of_type(store, outputs, "ModelBlessing")
        if evaluation is not None and os.path.isdir(evaluation.uri):
            evaluation_uri = evaluation.uri
            sliced = thresholds.sliced_metrics(evaluation.uri)
            metrics = sliced.get("overall", {}).get("model", {})
            if os.path.isfile(os.path.join(evaluation.uri, "eval_config.json")):
                checks, has_baseline = thresholds.threshold_checks(evaluation.uri, sliced)
        if blessing is not None and "blessed" in blessing.custom_properties:
            blessed = bool(blessing.custom_properties["blessed"].int_value)
    pushed, pushed_path, not_pushed = False, None, {}
    if pipeline_lib.PUSHER in executions:
        pushed_model = artifact_of_type(
            store, output_artifacts(store, executions[pipeline_lib.PUSHER].id), "PushedModel")
        properties = pushed_model.custom_properties if pushed_model is not None else {}
        if atomic_pusher.PUSHED in properties:
            pushed = bool(properties[atomic_pusher.PUSHED].int_value)
            if pushed:
                pushed_path = properties[atomic_pusher.PUSHED_DESTINATION].string_value
        not_pushed = {field: properties[key].string_value for field, key in _NOT_PUSHED.items()
                      if not pushed and key in properties}
    return RunSummary(states, metrics, blessed, pushed, pushed_path, evaluation_uri, checks, has_baseline,
                      **not_pushed, serving_check=_serving_check(store, executions),
                      drift=_drift(store, executions))


# RunSummary's fields from what the Pusher records on a PushedModel it did not push.
_NOT_PUSHED = {"serving_version": atomic_pusher.SERVING_VERSION, "serving_path": atomic_pusher.SERVING_DESTINATION,
               "not_pushed_reason": atomic_pusher.NOT_PUSHED_REASON}


def _drift(store, executions) -> Optional[Dict[str, object]]:
    """What the drift guard found (its drift.json); {"status": "drifted"} when it stopped the run."""
    execution = executions.get(pipeline_lib.DRIFT_GUARD)
    if execution is None:
        return None
    if execution.last_known_state == metadata_store_pb2.Execution.FAILED:
        return {"status": drift_guard.DRIFTED}
    output = artifact_of_type(store, output_artifacts(store, execution.id), "ExampleAnomalies")
    path = os.path.join(output.uri, "drift.json") if output is not None else ""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _serving_check(store, executions) -> Optional[Dict[str, object]]:
    """The ServingCheck's InfraBlessing custom properties as plain values, or None."""
    if pipeline_lib.SERVING_CHECK not in executions:
        return None
    blessing = artifact_of_type(store, output_artifacts(store, executions[pipeline_lib.SERVING_CHECK].id),
                                "InfraBlessing")
    if blessing is None or serving_check.BLESSED not in blessing.custom_properties:
        return None
    values = {}
    for key, value in blessing.custom_properties.items():
        kind = value.WhichOneof("value")
        values[key] = getattr(value, kind) if kind in ("int_value", "double_value", "string_value") else None
    return values
