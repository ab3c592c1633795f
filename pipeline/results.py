"""What a run did, read back from ML Metadata: per-component state, metrics, blessing, push."""
from __future__ import annotations

import collections
import dataclasses
import os
import time
from typing import Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

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
class RunSummary:
    states: Dict[str, str]                 # component id -> ran / cached / failed
    metrics: Dict[str, float]              # overall eval metrics of the run's model
    blessed: Optional[bool]
    pushed: bool
    pushed_path: Optional[str]
    evaluation_uri: Optional[str]


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


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
    import tensorflow_model_analysis as tfma  # slow import
    metrics = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        if slice_metrics.slice_key.single_slice_keys:
            continue
        for key_and_value in slice_metrics.metric_keys_and_values:
            key, value = key_and_value.key, key_and_value.value
            if key.model_name and key.is_diff:
                continue
            if value.HasField("double_value") and not key.is_diff:
                metrics[key.name] = value.double_value.value
    return metrics


def summarize(config: PipelineConfig) -> RunSummary:
    store = open_store(config.metadata_path)
    return summarize_run(store, latest_run_executions(store, config.pipeline_name))


def summarize_run(store, executions: Dict[str, metadata_store_pb2.Execution]) -> RunSummary:
    states = {node: _STATE_NAMES.get(e.last_known_state, "?") for node, e in executions.items()}
    metrics, blessed, evaluation_uri = {}, None, None
    if pipeline_lib.EVALUATOR in executions:
        outputs = output_artifacts(store, executions[pipeline_lib.EVALUATOR].id)
        evaluation = _artifact_of_type(store, outputs, "ModelEvaluation")
        blessing = _artifact_of_type(store, outputs, "ModelBlessing")
        if evaluation is not None and os.path.isdir(evaluation.uri):
            evaluation_uri = evaluation.uri
            metrics = overall_metrics(evaluation.uri)
        if blessing is not None and "blessed" in blessing.custom_properties:
            blessed = bool(blessing.custom_properties["blessed"].int_value)
    pushed, pushed_path = False, None
    if pipeline_lib.PUSHER in executions:
        pushed_model = _artifact_of_type(
            store, output_artifacts(store, executions[pipeline_lib.PUSHER].id), "PushedModel")
        if pushed_model is not None and "pushed" in pushed_model.custom_properties:
            pushed = bool(pushed_model.custom_properties["pushed"].int_value)
            if pushed:
                pushed_path = pushed_model.custom_properties["pushed_destination"].string_value
    return RunSummary(states, metrics, blessed, pushed, pushed_path, evaluation_uri)


def history(config: PipelineConfig, limit: int = 20) -> List[str]:
    """One line per past run, newest first: when, components, metrics, blessing, push."""
    if not os.path.isfile(config.metadata_path):
        return []
    store = open_store(config.metadata_path)
    lines = []
    for run, executions in run_executions(store, config.pipeline_name)[:limit]:
        summary = summarize_run(store, executions)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.create_time_since_epoch / 1000))
        steps = state_counts(summary.states)
        failed = [node for node, state in summary.states.items() if state == "failed"]
        metrics = " ".join(f"{k}={summary.metrics[k]:.4f}" for k in ("accuracy", "auc") if k in summary.metrics)
        blessed = {True: "blessed", False: "not blessed", None: "-"}[summary.blessed]
        pushed = (f"pushed {os.path.basename(summary.pushed_path.rstrip('/'))}" if summary.pushed
                  else "not pushed")
        lines.append(f"{when}  {steps:<22} {metrics or '-':<32} {blessed:<12} {pushed}"
                     + (f"  failed: {', '.join(failed)}" if failed else ""))
    return lines


def state_counts(states: Dict[str, str]) -> str:
    """'5 cached, 3 ran': how many components ended in each state."""
    counts = collections.Counter(states.values())
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def format_summary(summary: RunSummary, seconds: float) -> str:
    lines = [f"pipeline finished in {seconds:.1f} s ({state_counts(summary.states)})"]
    if summary.metrics:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(summary.metrics.items())
                          if k in ("auc", "accuracy", "loss", "example_count"))
        lines.append(f"eval metrics (overall): {shown}")
    if summary.blessed is not None:
        lines.append("blessed: yes" if summary.blessed else
                     "blessed: no (below a threshold; see the Evaluator's validation output)")
    if summary.pushed and summary.states.get(pipeline_lib.PUSHER) == "cached":
        lines.append(f"pushed: nothing new; the same model is already at {summary.pushed_path} (cached)")
    elif summary.pushed:
        lines.append(f"pushed: {summary.pushed_path}")
    else:
        lines.append("pushed: nothing (the model was not blessed)")
    return "\n".join(lines)
