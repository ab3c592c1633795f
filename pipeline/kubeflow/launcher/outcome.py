"""What a finished run tells the terminal: the baseline used, the drift check, whether the model
was blessed and passed the serving check, and where it was pushed (read from the steps' outputs)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional

from components import atomic_pusher, latest_pushed_model, serving_check
from components.atomic_pusher import already_served_line
from pipeline.kubeflow.launcher.values import number

if TYPE_CHECKING:
    from pipeline.kubeflow.launcher.run import Run


def drift_outcome(meta: Dict[str, object]) -> str:
    """'drift: ...' from the DriftGuard output's metadata (the full table is in its drift.json)."""
    status, drifted = meta.get("drift_status"), meta.get("drifted_features")
    if status == "accepted":
        return f"drift: accepted (accept_drift=1) on {drifted}"
    if status == "passed":
        return f"drift: none (compared with the data of served version {meta.get('served_version')})"
    return f"drift: not checked ({status})"


def serving_check_outcome(meta: Dict[str, object]) -> str:
    """'passed: loaded in ...' or 'failed: <reason>' from the ServingCheck's InfraBlessing metadata."""
    if number(meta.get(serving_check.BLESSED)) == 1:
        numbers = {key: number(value) for key, value in meta.items() if number(value) is not None}
        return serving_check.passed_line(numbers)
    return f"failed: {meta.get(serving_check.REASON) or 'no reason recorded'}"


def serving_check_failed(run: Run) -> Optional[str]:
    """The ServingCheck's reason when it ran in this run and did not bless the model, else None."""
    for result in run.results.values():
        for artifacts in result.outputs.values():
            for artifact in artifacts:
                if artifact.schema_title == "tfx.InfraBlessing" and result.state != "resolved" \
                        and number(artifact.metadata.get(serving_check.BLESSED)) != 1:
                    return str(artifact.metadata.get(serving_check.REASON) or "no reason recorded")
    return None


def outcome(run: Run) -> List[str]:
    """Lines for the terminal: the baseline used, whether the model was blessed and where it went."""
    lines = []
    for result in run.results.values():
        for artifacts in result.outputs.values():
            for artifact in artifacts:
                title, meta = artifact.schema_title, artifact.metadata
                if title == "tfx.Model" and result.state == "resolved":
                    lines.append(f"baseline: {artifact.uri}")
                elif title == "tfx.Model" and latest_pushed_model.FOUND_PROPERTY in meta:  # LatestPushedModel
                    if number(meta.get(latest_pushed_model.FOUND_PROPERTY)) == 1:
                        lines.append(f"baseline: version {meta.get(latest_pushed_model.VERSION_PROPERTY)} (Trainer "
                                     f"model {meta.get(latest_pushed_model.SOURCE_URI_PROPERTY)}), copied to "
                                     f"{artifact.uri}")
                elif title == "tfx.ExampleAnomalies" and "drift_status" in meta:  # the DriftGuard step
                    lines.append(drift_outcome(meta))
                elif title == "tfx.ModelBlessing" and result.state != "resolved":
                    lines.append("blessed: " + ("yes" if number(meta.get("blessed")) == 1 else "no"))
                elif title == "tfx.InfraBlessing":  # the ServingCheck step
                    lines.append("serving check: " + serving_check_outcome(meta))
                elif title == "tfx.PushedModel":
                    pushed = number(meta.get(atomic_pusher.PUSHED)) == 1
                    lines.append(f"pushed: {meta.get(atomic_pusher.PUSHED_DESTINATION)}" if pushed
                                 else already_served_line(meta[atomic_pusher.SERVING_VERSION],
                                                          meta.get(atomic_pusher.SERVING_DESTINATION))
                                 if meta.get(atomic_pusher.SERVING_VERSION)
                                 else "pushed: nothing (the model failed the serving check)"
                                 if any(line.startswith("serving check: failed") for line in lines)
                                 else "pushed: nothing (the model was not blessed)")
    if not any(line.startswith("baseline:") for line in lines):
        lines.insert(0, "baseline: none (no blessed model from an earlier run under this root)")
    return lines
