"""The exit handler in the compiled pipeline: what `compile` adds, and how `run-compiled` runs it.

kfp2 and vertex: TFX's KubeflowV2DagRunner (with `set_exit_handler`) puts the pipeline's tasks in a
sub-DAG component `tfx-dag` and adds the exit task beside it at the root, with trigger policy
ALL_UPSTREAM_TASKS_COMPLETED and a `taskFinalStatus` input. TFX declares no inputs on that sub-DAG,
yet its tasks read the run parameters as `componentInputParameter`: KFP's driver resolves those
against the *enclosing* DAG's inputs ("parent DAG does not have input parameter %s",
kubeflow/pipelines@7b70c7b backend/src/v2/driver/resolve.go:396), so the compiler here declares them
on the sub-DAG and passes them from the root, as KFP's own SDK does for `dsl.ExitHandler`.

kubeflow-v1: TFX's KubeflowDagRunner has no exit handler; the Argo workflow gets an `onExit`
template running `python -m pipeline.kubeflow.exit_handler` in the same image.

run-compiled: the sub-DAG's tasks run as the pipeline (the root's parameters pass through unchanged),
then the exit task, with the final status KFP would give it.
"""
from __future__ import annotations

import copy
import json
import os
import tarfile
import time
import zipfile
from typing import Dict, Optional, Tuple

from components.exit_handler import EXIT_HANDLER, FINAL_STATUS, TFX_DAG
from pipeline.kubeflow.exit_handler import CREATED_PLACEHOLDER, NOTIFY_URLS_PARAM
from pipeline.kubeflow.launcher import executor_io, values
from pipeline.kubeflow.launcher.process import run_process
from pipeline.kubeflow.launcher.records import StepResult

ARGO_EXIT_TEMPLATE = "notify-on-exit"
# The exit task's inputs that are run parameters (the rest are constants and the final status).
EXIT_RUN_PARAMETERS = (NOTIFY_URLS_PARAM, "data_root")
TRIGGER_ALL_DONE = "ALL_UPSTREAM_TASKS_COMPLETED"


# ---------------------------------------------------------------- compile (kfp2, vertex)


def exit_handler_component(pipeline_name: str, *, pipeline_root: str, serving_dir: str):
    """The NotifyOnExit step. Its run parameters (EXIT_RUN_PARAMETERS) are wired after compiling
    (wire_exit_handler): TFX builds the exit task outside the context that collects a
    RuntimeParameter ("attach_parameter() must run under ParameterContext")."""
    from tfx.orchestration.kubeflow.decorators import FinalStatusStr
    from components.exit_handler.component import NotifyOnExit
    return NotifyOnExit(final_status=FinalStatusStr(), notify_urls="", data_root="", pipeline=pipeline_name,
                        pipeline_root=pipeline_root, serving_dir=serving_dir,
                        run_created=CREATED_PLACEHOLDER).with_id(EXIT_HANDLER)


def pipeline_tasks(spec: Dict[str, object]) -> Dict[str, Dict[str, object]]:
    """The pipeline's own tasks: those of the `tfx-dag` sub-DAG when there is an exit handler."""
    if TFX_DAG in spec["root"]["dag"]["tasks"]:
        return spec["components"][TFX_DAG]["dag"]["tasks"]
    return spec["root"]["dag"]["tasks"]


def wire_exit_handler(job_path: str) -> None:
    """Declares the `notify_urls` run parameter (default empty) and feeds it and `data_root` to the
    exit task; declares on the `tfx-dag` sub-DAG the run parameters its tasks read, and passes them
    from the root."""
    with open(job_path) as f:
        job = json.load(f)
    spec = job["pipelineSpec"]
    root_tasks = spec["root"]["dag"]["tasks"]
    if TFX_DAG not in root_tasks:
        return
    declared = spec["root"].setdefault("inputDefinitions", {}).setdefault("parameters", {})
    typed = "parameterType" in next(iter(declared.values()))  # schema 2.1.0; else 2.0.0's `type`
    declared[NOTIFY_URLS_PARAM] = {"parameterType": "STRING"} if typed else {"type": "STRING"}
    runtime = job.setdefault("runtimeConfig", {})
    if typed:
        runtime.setdefault("parameterValues", {})[NOTIFY_URLS_PARAM] = ""
    else:
        runtime.setdefault("parameters", {})[NOTIFY_URLS_PARAM] = {"stringValue": ""}
    for name in EXIT_RUN_PARAMETERS:
        root_tasks[EXIT_HANDLER]["inputs"]["parameters"][name] = {"componentInputParameter": name}
    used = sorted({value["componentInputParameter"]
                   for task in spec["components"][TFX_DAG]["dag"]["tasks"].values()
                   for value in task.get("inputs", {}).get("parameters", {}).values()
                   if "componentInputParameter" in value})
    spec["components"][TFX_DAG]["inputDefinitions"] = {"parameters": {
        name: {key: declared[name][key] for key in ("parameterType", "type") if key in declared[name]}
        for name in used}}
    root_tasks[TFX_DAG]["inputs"] = {"parameters": {name: {"componentInputParameter": name} for name in used}}
    with open(job_path, "w") as f:
        json.dump(job, f, indent=2, sort_keys=True)


# ---------------------------------------------------------------- compile (kubeflow-v1)


def add_argo_on_exit(package_path: str, *, image: str, pipeline_name: str, serving_dir: str) -> None:
    """Adds the `notify_urls` parameter and an onExit step to the Argo workflow (YAML, .tar.gz or .zip)."""
    import yaml
    name, text = _read_package(package_path)
    workflow = yaml.safe_load(text)
    spec = workflow["spec"]
    spec.setdefault("arguments", {}).setdefault("parameters", []).append({"name": NOTIFY_URLS_PARAM, "value": ""})
    spec["onExit"] = ARGO_EXIT_TEMPLATE
    spec["templates"].append({
        "name": ARGO_EXIT_TEMPLATE,
        "container": {
            "image": image,
            "command": ["python", "-m", "pipeline.kubeflow.exit_handler"],
            "args": ["--status", "{{workflow.status}}", "--failures", "{{workflow.failures}}",
                     "--notify-urls", "{{workflow.parameters.%s}}" % NOTIFY_URLS_PARAM,
                     "--pipeline", pipeline_name, "--run-id", "{{workflow.name}}",
                     "--data-root", "{{workflow.parameters.data_root}}",
                     "--pipeline-root", "{{workflow.parameters.pipeline-root}}",
                     "--serving-dir", serving_dir, "--created", "{{workflow.creationTimestamp}}"],
        },
    })
    _write_package(package_path, name, yaml.safe_dump(workflow, default_flow_style=False, sort_keys=False))


def _read_package(path: str) -> Tuple[Optional[str], str]:
    if path.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path, "r:gz") as archive:
            member = archive.getmembers()[0]
            return member.name, archive.extractfile(member).read().decode()
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            name = archive.namelist()[0]
            return name, archive.read(name).decode()
    with open(path) as f:
        return None, f.read()


def _write_package(path: str, name: Optional[str], text: str) -> None:
    data = text.encode()
    if name is None:
        with open(path, "w") as f:
            f.write(text)
    elif path.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(name, data)
    else:
        import io
        with tarfile.open(path, "w:gz") as archive:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            archive.addfile(info, io.BytesIO(data))


# ---------------------------------------------------------------- run-compiled


def split_exit_task(job: Dict[str, object]) -> Tuple[Dict[str, object], Optional[str]]:
    """(the job with the sub-DAG's tasks as its root tasks, the exit task's name or None).

    Refuses (ValueError) a sub-DAG that does not take the root's run parameters under their own
    names, which is all the flattening here does."""
    spec = job["pipelineSpec"]
    root_tasks = spec["root"]["dag"]["tasks"]
    if TFX_DAG not in root_tasks:
        return job, None
    exits = [name for name, task in root_tasks.items()
             if task.get("triggerPolicy", {}).get("strategy") == TRIGGER_ALL_DONE]
    others = sorted(set(root_tasks) - set(exits) - {TFX_DAG})
    if len(exits) != 1 or others:
        raise ValueError(f"the root DAG holds {sorted(root_tasks)}; run-compiled runs a {TFX_DAG} sub-DAG "
                         "and one exit task beside it")
    for name, value in root_tasks[TFX_DAG].get("inputs", {}).get("parameters", {}).items():
        if value != {"componentInputParameter": name}:
            raise ValueError(f"task {TFX_DAG}: parameter {name} is {value}, not the run parameter {name}")
    flat = copy.deepcopy(job)
    flat_spec = flat["pipelineSpec"]
    exit_task = flat_spec["root"]["dag"]["tasks"][exits[0]]
    flat_spec["root"]["dag"]["tasks"] = copy.deepcopy(spec["components"][TFX_DAG]["dag"]["tasks"])
    flat["exit_task"] = (exits[0], exit_task)
    return flat, exits[0]


def final_status(state: str, run_id: str, message: Optional[str] = None) -> str:
    """PipelineTaskFinalStatus of the sub-DAG as JSON text, as TFX's exit step receives it."""
    status = {"state": state, "pipelineTaskName": TFX_DAG, "pipelineJobResourceName": run_id,
              "error": {"code": 2, "message": message} if message else {}}
    return json.dumps(status)


def _component(run, name: str) -> Dict[str, object]:
    """The exit task's component (it is not among run.tasks, the pipeline's steps)."""
    return run.spec["components"][run.job["exit_task"][1]["componentRef"]["name"]]


def exit_task_parameters(run, status: str) -> Dict[str, object]:
    """The exit task's parameters: its run parameters and constants, the final status, and the
    creation-time placeholder filled in as KFP's driver does."""
    name, task = run.job["exit_task"]
    component = _component(run, name)
    plain = copy.deepcopy(task)
    plain.get("inputs", {}).get("parameters", {}).pop(FINAL_STATUS, None)
    parameters = values.task_parameters(plain, component, run.params, run.form, run.path_map)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.started))
    for key, value in parameters.items():
        text = value.get("stringValue") if isinstance(value, dict) else value
        if text == CREATED_PLACEHOLDER:
            parameters[key] = values.form_value(created, "STRING", run.form)
    parameters[FINAL_STATUS] = values.form_value(status, "STRING", run.form)
    return parameters


def run_exit_task(run, failure: Optional[Exception] = None):
    """Runs the exit task (after the pipeline's tasks, whichever way they ended): its container
    command with the ExecutorInput built here. Returns the StepResult (state `ran` or `failed`; `skipped`
    when `notify_urls` is empty, since the step would post nothing)."""
    name, _ = run.job["exit_task"]
    started = time.time()
    if not str(run.params.get(NOTIFY_URLS_PARAM) or "").strip():
        # It would post nothing; not paying its process's TensorFlow import (10-25 s) for that.
        result = StepResult(name, "skipped", 0.0, {})
        run.results[name] = result
        run.save()
        return result
    status = final_status("FAILED" if failure else "SUCCEEDED", run.run_id, str(failure) if failure else None)
    task_dir = os.path.join(run.run_dir, name)
    os.makedirs(task_dir, exist_ok=True)
    os.makedirs(os.path.dirname(run.log_path(name)), exist_ok=True)
    invocation = executor_io.executor_input(exit_task_parameters(run, status), {}, {},
                                            os.path.join(task_dir, "executor_output.json"), run.form)
    with open(os.path.join(task_dir, "executor_input.json"), "w") as f:
        json.dump(invocation, f, indent=1)
    container = run.spec["deploymentSpec"]["executors"][_component(run, name)["executorLabel"]]["container"]
    code = run_process(
        executor_io.step_command(container.get("command", []), container.get("args", []),
                                 json.dumps(invocation), in_image=run.process.in_image),
        run.log_path(name), "exit handler", run.process)
    result = StepResult(name, "ran" if code == 0 else "failed", time.time() - started, {}, run.log_path(name))
    run.results[name] = result
    run.save()
    return result
