"""One run-compiled run: its options checked (prepare_run), its tasks run in dependency order by
their kind's handler (execute), and its record, run.json, rewritten after every step."""
from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from typing import Callable, Dict, List, Optional, Sequence

from pipeline.kubeflow import compiled_exit
from pipeline.kubeflow.launcher import image_exec
from pipeline.kubeflow.launcher.container_handler import run_container_step
from pipeline.kubeflow.launcher.graph import task_order
from pipeline.kubeflow.launcher.importer_handler import run_importer_step
from pipeline.kubeflow.launcher.process import LOCAL, StepProcess
from pipeline.kubeflow.launcher.records import (RECORD_FILE, RUNS_DIR, Artifact, StepResult, load_records,
                                                recorded_artifacts)
from pipeline.kubeflow.launcher.resolver_handler import run_resolver_step
from pipeline.kubeflow.launcher.spec import (KFP_RULES, KFP_SOURCE, SpecError, check_kfp2_rules,
                                             check_supported, default_backend, load_spec)
from pipeline.kubeflow.launcher.task_handler import StepFailed, TaskHandler
from pipeline.kubeflow.launcher.values import (LEGACY_FORM, PARAMETER_FORMS, VALUES_FORM,
                                               PathMap, run_parameters)
from pipeline.kubeflow.targets import IMAGE_PROJECT_ROOT, KFP2, PIPELINE_JSON, VERTEX

# One handler per executor kind; spec.check_supported lets no other kind through.
HANDLERS: Dict[str, TaskHandler] = {
    "resolver": run_resolver_step, "importer": run_importer_step, "container": run_container_step}


@dataclasses.dataclass
class Run:
    """One run-compiled run: where it writes, what it has done so far (kept in run.json)."""
    job: Dict[str, object]
    spec_path: str
    pipeline_root: str
    params: Dict[str, object]
    form: str
    path_map: PathMap
    backend: str = VERTEX
    image: Optional[image_exec.ImageExec] = None  # the steps run in this image (else here: process.LOCAL)
    run_id: str = dataclasses.field(
        default_factory=lambda: time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6])
    started: float = dataclasses.field(default_factory=time.time)
    results: Dict[str, StepResult] = dataclasses.field(default_factory=dict)
    use_cache: bool = True
    earlier: List[Dict[str, object]] = dataclasses.field(default_factory=list)  # earlier runs' records
    state: str = "running"
    failure: Optional[Dict[str, object]] = None

    @property
    def run_dir(self) -> str:
        return os.path.join(self.pipeline_root, RUNS_DIR, self.run_id)

    @property
    def spec(self) -> Dict[str, object]:
        return self.job["pipelineSpec"]

    @property
    def tasks(self) -> Dict[str, Dict[str, object]]:
        return self.spec["root"]["dag"]["tasks"]

    @property
    def process(self) -> StepProcess:
        """Where the steps' commands run: in the image, or as subprocesses of this environment."""
        return self.image if self.image is not None else LOCAL

    def component(self, task_name: str) -> Dict[str, object]:
        return self.spec["components"][self.tasks[task_name]["componentRef"]["name"]]

    def executor(self, task_name: str) -> Dict[str, object]:
        return self.spec["deploymentSpec"]["executors"][self.component(task_name)["executorLabel"]]

    def log_path(self, task_name: str) -> str:
        return os.path.join(self.run_dir, "logs", f"{task_name}.log")

    def history(self) -> List[Artifact]:
        """Artifacts that steps created, oldest first: in earlier runs (their records), then in this one."""
        current = [a for r in self.results.values() if r.state == "ran"
                   for key in sorted(r.outputs) for a in r.outputs[key]]
        return recorded_artifacts(self.earlier) + current

    def save(self) -> None:
        """Writes run.json (atomically): parameters, and each finished step's state and outputs."""
        record = {
            "run_id": self.run_id, "spec": os.path.abspath(self.spec_path), "started": self.started,
            "state": self.state, "failure": self.failure, "parameter_form": self.form,
            "backend": self.backend, "image": self.image.describe() if self.image else None,
            "parameters": self.params,
            "order": list(self.results),
            "tasks": {name: {"state": r.state, "seconds": round(r.seconds, 3), "log": r.log_path,
                             "cache_key": r.cache_key,
                             "outputs": {k: [a.runtime_artifact() for a in v]
                                         for k, v in r.outputs.items()}}
                      for name, r in self.results.items()},
        }
        os.makedirs(self.run_dir, exist_ok=True)
        tmp = os.path.join(self.run_dir, RECORD_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(self.run_dir, RECORD_FILE))


def prepare_run(spec_path: str, pipeline_root: str, params: Sequence[str] = (),
                form: Optional[str] = None, image_root: Optional[str] = IMAGE_PROJECT_ROOT,
                use_cache: bool = True, backend: Optional[str] = None, image: Optional[str] = None) -> Run:
    """Checks the spec and the options; nothing is written yet.

    Args:
      spec_path: the compiled pipeline JSON; pipeline_root: a local folder (replaces the compiled root).
      params: `--param NAME=VALUE` overrides of the run parameters.
      form: how parameters reach the steps; kfp2 allows parameterValues only, vertex defaults to
        parameters.
      image_root: the image's project folder, mapped to this checkout (None: not mapped).
      use_cache: take a step from an earlier run's when its command and inputs match (cache.py).
      backend: kfp2 or vertex (default: by the spec's form, see spec.default_backend).
      image: run every step's command inside this image (image_exec.py) instead of this checkout.

    Raises:
      SpecError: the spec or an option cannot be run here.
    """
    if backend is not None and backend not in PIPELINE_JSON:
        raise SpecError(f"--backend {backend!r}: choose one of {list(PIPELINE_JSON)}")
    if form is not None and form not in PARAMETER_FORMS:
        raise SpecError(f"--parameter-form {form!r}: choose one of {list(PARAMETER_FORMS)}")
    if "://" in pipeline_root:
        raise SpecError(f"--pipeline-root {pipeline_root!r}: give a local folder; run-compiled writes "
                        "every step's outputs on this machine")
    job = load_spec(spec_path)
    backend = backend or default_backend(job)
    if backend == KFP2:
        if form not in (None, VALUES_FORM):
            raise SpecError(f"--parameter-form {form}: open-source KFP 2.x sends parameters only as "
                            f"{VALUES_FORM} (rule parameter-values: {KFP_SOURCE} "
                            f"{KFP_RULES['parameter-values'][1]})")
        check_kfp2_rules(job, spec_path)
        form = VALUES_FORM
    form = form or LEGACY_FORM
    try:  # the exit handler's tfx-dag sub-DAG: its tasks run as the pipeline, the exit task after them
        job, _ = compiled_exit.split_exit_task(job)
    except ValueError as exc:
        raise SpecError(f"{spec_path}: {exc}") from None
    check_supported(job)
    task_order(job["pipelineSpec"]["root"]["dag"]["tasks"])
    pipeline_root = os.path.abspath(pipeline_root)
    executor = None
    if image:
        try:
            executor = image_exec.ImageExec.detect(image, pipeline_root)
        except image_exec.ImageError as exc:
            raise SpecError(str(exc)) from None
        image_root = None  # the image has its own /app
    path_map = PathMap(image_root=image_root,
                       compiled_pipeline_root=job.get("runtimeConfig", {}).get("gcsOutputDirectory"),
                       pipeline_root=pipeline_root)
    values = {k: path_map(v) for k, v in run_parameters(job, params).items()}
    return Run(job=job, spec_path=spec_path, pipeline_root=pipeline_root, params=values, form=form,
               path_map=path_map, use_cache=use_cache, backend=backend, image=executor)


def handler_for(executor: Dict[str, object]) -> TaskHandler:
    """The handler of an executor's kind: resolver, importer, else container."""
    return HANDLERS[next((kind for kind in ("resolver", "importer") if kind in executor), "container")]


def execute(run: Run, on_step: Optional[Callable[[int, int, StepResult], None]] = None,
            on_start: Optional[Callable[[int, int, str], None]] = None) -> Dict[str, StepResult]:
    """Runs every task in dependency order; stops at the first failing step.

    Args:
      run: from prepare_run.
      on_step: called with (index, count, result) after each step; on_start: with (index, count,
        task name) before it.

    Returns:
      Each task's result, in the order they ran.

    Raises:
      StepFailed: a step exited non-zero (recorded in run.json first).
    """
    order = task_order(run.tasks)
    run.earlier = load_records(run.pipeline_root, exclude_run=run.run_id)
    run.save()
    for index, name in enumerate(order, start=1):
        if on_start:
            on_start(index, len(order), name)
        step = handler_for(run.executor(name))
        try:
            result = step(run, name)
        except StepFailed as exc:
            run.state = "failed"
            run.failure = {"task": exc.task, "exit_code": exc.exit_code, "log": exc.log_path,
                           "not_run": exc.not_run}
            run.save()
            raise
        run.results[name] = result
        run.save()
        if on_step:
            on_step(index, len(order), result)
    run.state = "succeeded"
    run.save()
    return run.results
