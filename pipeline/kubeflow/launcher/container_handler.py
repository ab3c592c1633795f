"""The container task handler: a step's ExecutorInput, its driver (lifecycle.preCacheCheck; vertex
only), the cache, then its container command, as a KFP launcher runs them."""
from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Dict

from pipeline.kubeflow.launcher import cache, executor_io
from pipeline.kubeflow.launcher.process import run_process
from pipeline.kubeflow.launcher.records import StepResult
from pipeline.kubeflow.launcher.task_handler import step_failed
from pipeline.kubeflow.launcher.values import task_parameters
from pipeline.kubeflow.targets import KFP2

if TYPE_CHECKING:
    from pipeline.kubeflow.launcher.run import Run


def run_container_step(run: Run, task_name: str) -> StepResult:
    """Builds the step's ExecutorInput and runs its driver (if any) and its container command.

    Returns:
      The step's result: `ran`, or `cached` when an earlier run's step answers (cache.py).

    Raises:
      StepFailed: the driver or the command exited non-zero.
    """
    started = time.time()
    task, component = run.tasks[task_name], run.component(task_name)
    container = run.executor(task_name)["container"]
    task_dir = os.path.join(run.run_dir, task_name)
    os.makedirs(task_dir, exist_ok=True)
    os.makedirs(os.path.dirname(run.log_path(task_name)), exist_ok=True)
    produced = {name: r.outputs for name, r in run.results.items()}
    planned = executor_io.output_artifacts(task_name, component, task_dir, run.run_id)
    output_file = os.path.join(task_dir, "executor_output.json")
    invocation = executor_io.executor_input(
        task_parameters(task, component, run.params, run.form, run.path_map),
        executor_io.input_artifacts(task, produced), planned, output_file, run.form)

    driver = container.get("lifecycle", {}).get("preCacheCheck")
    if driver and run.backend == KFP2:
        # KFP 2.x's backend never runs a lifecycle hook (no reference to preCacheCheck or lifecycle
        # in its backend/src); the executor runs without the driver's output, as it would there.
        with open(run.log_path(task_name), "a") as log:
            log.write("=== lifecycle.preCacheCheck not run: open-source KFP 2.x does not run it\n")
    elif driver:
        code = _run_command(run, task_name, driver, invocation, "driver (lifecycle.preCacheCheck)")
        if code != 0:
            raise step_failed(run, task_name, code)
        executor_io.apply_driver_output(invocation, executor_io.read_executor_output(output_file), run.form)
        os.replace(output_file, os.path.join(task_dir, "driver_output.json"))

    key = cache.cache_key(container, invocation)
    if run.use_cache and task.get("cachingOptions", {}).get("enableCache"):
        cached = cache.cached_outputs(run.earlier, key)
        if cached is not None:
            return StepResult(task_name, "cached", time.time() - started, cached, None, key)
    with open(os.path.join(task_dir, "executor_input.json"), "w") as f:
        json.dump(invocation, f, indent=1)
    code = _run_command(run, task_name, container, invocation, "executor")
    if code != 0:
        raise step_failed(run, task_name, code)
    outputs = executor_io.collect_outputs(planned, executor_io.read_executor_output(output_file))
    return StepResult(task_name, "ran", time.time() - started, outputs, run.log_path(task_name), key)


def _run_command(run: Run, task_name: str, spec: Dict[str, object], invocation: Dict[str, object],
                 title: str) -> int:
    """Runs a container (or driver) spec's command and args, the ExecutorInput filled in; its exit code."""
    argv = executor_io.step_command(spec.get("command", []), spec.get("args", []), json.dumps(invocation),
                                    in_image=run.process.in_image)
    return run_process(argv, run.log_path(task_name), title, run.process)
