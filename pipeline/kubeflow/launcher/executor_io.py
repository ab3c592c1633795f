"""A step's ExecutorInput and ExecutorOutput, as a KFP launcher builds and reads them
(kfp.local's executor_input_utils): its input and output artifacts, the `{{$}}` placeholder in its
command, what its driver (lifecycle.preCacheCheck) changes, and the outputs it reports."""
from __future__ import annotations

import json
import os
import re
import sys
from typing import Dict, List, Sequence

from pipeline.kubeflow.launcher.records import RUNS_DIR, Artifact
from pipeline.kubeflow.launcher.spec import SpecError
from pipeline.kubeflow.launcher.values import LEGACY_FORM, form_value, plain_value

_PLACEHOLDER = "{{$}}"


def input_artifacts(task: Dict[str, object],
                    produced: Dict[str, Dict[str, List[Artifact]]]) -> Dict[str, List[Artifact]]:
    """The task's input artifacts, as their producers in this run reported them.

    Args:
      task: the task as the DAG declares it.
      produced: each finished task's outputs, by task name and output key.
    """
    result = {}
    for name, spec in task.get("inputs", {}).get("artifacts", {}).items():
        if "taskOutputArtifact" not in spec:
            raise SpecError(f"input artifact {name}: {sorted(spec)} is not supported by run-compiled")
        source = spec["taskOutputArtifact"]
        result[name] = produced[source["producerTask"]].get(source["outputArtifactKey"], [])
    return result


def output_artifacts(task_name: str, component: Dict[str, object], task_dir: str,
                     run_id: str) -> Dict[str, List[Artifact]]:
    """One new artifact per output: its URI under the task's folder and a run-unique name."""
    return {
        key: [Artifact(name=f"{RUNS_DIR}/{run_id}/{task_name}/{key}", type=definition["artifactType"],
                       uri=os.path.join(task_dir, key), metadata={})]
        for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items()
    }


def executor_input(parameters: Dict[str, object], inputs: Dict[str, List[Artifact]],
                   outputs: Dict[str, List[Artifact]], output_file: str, form: str) -> Dict[str, object]:
    """The ExecutorInput JSON a KFP launcher substitutes for `{{$}}`.

    Args:
      parameters: the task's parameters, already in `form` (values.task_parameters).
      inputs, outputs: the task's artifacts by key; output_file: where the step writes its
        ExecutorOutput.
      form: values.LEGACY_FORM or values.VALUES_FORM, the key the parameters go under.
    """
    def artifact_lists(artifacts: Dict[str, List[Artifact]]):
        return {k: {"artifacts": [a.runtime_artifact() for a in v]} for k, v in artifacts.items()}

    return {
        "inputs": {form: parameters, "artifacts": artifact_lists(inputs)},
        "outputs": {"artifacts": artifact_lists(outputs), "outputFile": output_file},
    }


def step_command(command: Sequence[str], args: Sequence[str], invocation: str,
                 in_image: bool = False) -> List[str]:
    """The container's command and args with `{{$}}` filled in.

    Args:
      command, args: the container's, from the spec; invocation: the ExecutorInput as JSON text.
      in_image: the command runs in the image (process.StepProcess.in_image); if not, its
        `python` is made this interpreter.
    """
    argv = [invocation if arg == _PLACEHOLDER else arg for arg in list(command) + list(args)]
    if not command:
        raise SpecError("the step has no command (it relies on the image's ENTRYPOINT), which "
                        "run-compiled cannot know")
    if not in_image and re.fullmatch(r"python(3(\.\d+)?)?", os.path.basename(argv[0])):
        argv[0] = sys.executable
    leftover = [arg for arg in argv if "{{$" in arg]
    if leftover:
        raise SpecError(f"placeholders other than {_PLACEHOLDER} are not supported: {leftover[0][:80]}")
    return argv


def read_executor_output(path: str) -> Dict[str, object]:
    """The ExecutorOutput a step wrote, or {} if it wrote none."""
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def apply_driver_output(invocation: Dict[str, object], driver_output: Dict[str, object],
                        form: str) -> None:
    """What the service does with a preCacheCheck's output: its parameters and output artifact
    metadata replace the step's (in `invocation`) before the executor runs."""
    parameters = invocation["inputs"].setdefault(form, {})
    for key, value in driver_output.get("parameterValues", {}).items():
        parameters[key] = form_value(int(value) if isinstance(value, float) and value.is_integer()
                                     else value, "", form)
    for key, value in driver_output.get("parameters", {}).items():
        parameters[key] = value if form == LEGACY_FORM else plain_value(value)
    for key, listed in driver_output.get("artifacts", {}).items():
        outputs = invocation["outputs"]["artifacts"].get(key, {}).get("artifacts", [])
        for target, source in zip(outputs, listed.get("artifacts", [])):
            target["metadata"] = {**target.get("metadata", {}), **source.get("metadata", {})}


def collect_outputs(planned: Dict[str, List[Artifact]], executor_output: Dict[str, object]
                    ) -> Dict[str, List[Artifact]]:
    """The step's outputs as it reported them (URI, metadata), falling back to what was planned."""
    result = {}
    for key, artifacts in planned.items():
        reported = executor_output.get("artifacts", {}).get(key, {}).get("artifacts", [])
        result[key] = [
            Artifact(name=a.name, type=a.type, uri=r.get("uri") or a.uri, metadata=r.get("metadata") or {})
            for a, r in zip(artifacts, reported + [{}] * (len(artifacts) - len(reported)))
        ]
    return result
