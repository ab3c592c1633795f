"""The importer task handler: one artifact of the spec's type at the URI the importer names."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pipeline.kubeflow.launcher.records import RUNS_DIR, Artifact, StepResult
from pipeline.kubeflow.launcher.spec import SpecError
from pipeline.kubeflow.launcher.values import VALUES_FORM, plain_value, task_parameters

if TYPE_CHECKING:
    from pipeline.kubeflow.launcher.run import Run


def run_importer_step(run: Run, task_name: str) -> StepResult:
    """An importer task: one artifact of the spec's type at the URI it names (constant or parameter).

    Returns:
      The step's result (state `imported`), its one artifact under the first output key.
    """
    started = time.time()
    task, component = run.tasks[task_name], run.component(task_name)
    importer = run.executor(task_name)["importer"]
    uri_spec = importer.get("artifactUri", {})
    if "constant" in uri_spec:
        uri = plain_value(uri_spec["constant"])
    elif "runtimeParameter" in uri_spec:
        uri = plain_value(task_parameters(task, component, run.params, VALUES_FORM, run.path_map)
                          [uri_spec["runtimeParameter"]])
    else:
        raise SpecError(f"task {task_name}: importer artifactUri {sorted(uri_spec)} is not supported")
    keys = list(component.get("outputDefinitions", {}).get("artifacts", {})) or ["artifact"]
    artifact = Artifact(name=f"{RUNS_DIR}/{run.run_id}/{task_name}/{keys[0]}",
                        type=importer.get("typeSchema", {}), uri=str(run.path_map(uri)),
                        metadata=dict(importer.get("metadata") or {}))
    return StepResult(task_name, "imported", time.time() - started, {keys[0]: [artifact]})
