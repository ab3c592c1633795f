"""`run-compiled`: runs a compiled pipeline (kfp2 or vertex JSON) here, step by step, as a KFP launcher would.

For each task, in dependency order, it builds the step's ExecutorInput from the task spec (constant
and run-time parameters; upstream artifacts with the URIs and metadata their producers wrote in
their executor output), substitutes the `{{$}}` placeholder and runs the step's own container
command and args in a subprocess of this environment (this checkout plays the image's `/app`,
and the image's `python` becomes `sys.executable`), or inside the image itself with `--image`.

Two backends, each with its rules:
- `kfp2` (default for a bare PipelineSpec, what `compile --target kfp2` writes): open-source
  Kubeflow Pipelines 2.x. Before anything runs, the spec is held to what KFP's backend accepts
  (KFP_RULES, each with the backend source it comes from); parameters reach the steps only as
  `inputs.parameterValues`; container and importer tasks run; `lifecycle.preCacheCheck` is not
  run, because KFP's backend never runs it.
- `vertex` (default for a PipelineJob, what `compile --target vertex` writes): Vertex AI
  Pipelines. Parameters go in the form Vertex sends for a schema 2.0.0 spec (`inputs.parameters`);
  the ExampleGen driver (`lifecycle.preCacheCheck`) runs first; resolver tasks are answered from
  the artifacts that earlier runs under the same pipeline root recorded in
  `<pipeline-root>/run-compiled/<run id>/run.json`.

With `--image`, every step's command runs inside the built image instead (image_exec.py): the
spec, the image and the steps are then checked together.

A step whose task enables caching and whose command and inputs (after its driver) equal those of
a step in an earlier run under the root is taken from that run, as KFP's cache would (`--no-cache`
runs every step). What differs from a cluster on purpose: tasks run one at a time, and the
compiled pipeline root is replaced by `--pipeline-root` wherever the spec names it.

This process never imports TensorFlow or TFX: the steps do, each in its own process.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from components import atomic_pusher, latest_pushed_model, serving_check
from components.atomic_pusher import already_served_line
from components.names import is_plain_name
from pipeline import pairs
from pipeline.config import PROJECT_ROOT, ConfigError
from pipeline.kubeflow import compiled_exit

RUNS_DIR = "run-compiled"
RECORD_FILE = "run.json"
# Where the Dockerfile puts the project inside the image (kubeflow_runner.IMAGE_PROJECT_ROOT; not
# imported from there because that module imports TFX, and this process does not need it).
IMAGE_PROJECT_ROOT = "/app"
LOG_TAIL_LINES = 25

# How the launcher hands parameters to a step: the deprecated `parameters` map of typed values
# (what TFX 1.15's entrypoint reads for a schema 2.0.0 spec; Vertex AI Pipelines) or
# `parameterValues` of plain JSON values (what the KFP 2.x open-source driver sends).
LEGACY_FORM = "parameters"
VALUES_FORM = "parameterValues"
PARAMETER_FORMS = (LEGACY_FORM, VALUES_FORM)

KFP2, VERTEX = "kfp2", "vertex"
BACKENDS = (KFP2, VERTEX)

# What open-source KFP 2.x's backend accepts, each rule with where it comes from
# (github.com/kubeflow/pipelines at commit 7b70c7b95f6832772efd6fd0029a4024491a0f44).
KFP_SOURCE = "kubeflow/pipelines@7b70c7b"
KFP_RULES = {
    "pipeline-spec": (
        "the file is a bare PipelineSpec of schema 2.1.0 (KFP's upload keeps only a document that "
        "parses as a PipelineSpec, and only schema 2.1.0)",
        "backend/src/apiserver/template/v2_template.go:220-236, template.go:112-120"),
    "container-or-importer": (
        "every task is a container or an importer",
        "backend/src/v2/compiler/visitor.go:126-134 \"non-container and non-importer executor not "
        "implemented\"; backend/src/v2/compiler/argocompiler/dag.go:348-349 \"resolver executors not "
        "implemented\""),
    "parameter-type": (
        "every input parameter declares parameterType",
        "backend/src/v2/driver/resolve.go:202-250 (the type check reads parameterType; unset, a string "
        "or number value is a type mismatch); backend/src/apiserver/template/v2_template.go:485-486 "
        "\"input parameter %s has unspecified type\""),
    "constant": (
        "constant inputs are runtimeValue.constant (not the deprecated constantValue)",
        "backend/src/v2/driver/resolve.go:422-456 \"param runtime value spec of type %T not implemented\""),
    "parameter-values": (
        "steps get their parameters only as inputs.parameterValues",
        "backend/src/v2/driver/resolve.go:139-142 (the driver builds ParameterValues only), "
        "container.go:306-311"),
}

_PLACEHOLDER = "{{$}}"
_INPUT_METADATA = re.compile(r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.metadata\['([^']+)'\]\}\}")


class SpecError(ConfigError):
    """The spec or an option cannot be run here; raised before any step starts."""


class StepFailed(Exception):
    """A step exited non-zero: its name, exit code and the last lines of its log."""

    def __init__(self, task: str, exit_code: int, log_path: str, log_tail: str,
                 not_run: Sequence[str]):
        self.task, self.exit_code, self.log_path, self.log_tail = task, exit_code, log_path, log_tail
        self.not_run = list(not_run)
        downstream = (f"; not run: {', '.join(self.not_run)}" if self.not_run else "")
        tail = "\n".join("  " + line for line in log_tail.splitlines())
        super().__init__(f"step {task} failed with exit code {exit_code}{downstream}.\n"
                         f"Last lines of its log ({log_path}):\n{tail}")


@dataclasses.dataclass
class Artifact:
    """One artifact as a KFP launcher sees it: the RuntimeArtifact fields that matter here."""
    name: str
    type: Dict[str, str]          # ArtifactTypeSchema JSON: {"instanceSchema": ...} or {"schemaTitle": ...}
    uri: str
    metadata: Dict[str, object]

    def runtime_artifact(self) -> Dict[str, object]:
        return {"name": self.name, "type": self.type, "uri": self.uri, "metadata": self.metadata}

    @property
    def schema_title(self) -> str:
        if "schemaTitle" in self.type:
            return self.type["schemaTitle"]
        match = re.search(r"^title:\s*(\S+)", self.type.get("instanceSchema", ""), re.MULTILINE)
        return match.group(1) if match else ""

    @classmethod
    def from_dict(cls, data: Dict[str, object]) -> "Artifact":
        return cls(data["name"], data["type"], data["uri"], data.get("metadata") or {})


@dataclasses.dataclass
class StepResult:
    task: str
    state: str                    # "ran", "cached" or "resolved"
    seconds: float
    outputs: Dict[str, List[Artifact]]
    log_path: Optional[str] = None
    cache_key: Optional[str] = None


# ---------------------------------------------------------------- the spec


def load_spec(path: str) -> Dict[str, object]:
    """The compiled pipeline as a PipelineJob dict: a vertex PipelineJob as written, or a kfp2
    PipelineSpec wrapped as one (its defaultPipelineRoot as the output directory; `bare` set)."""
    try:
        with open(path) as f:
            document = json.load(f)
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path} is not JSON ({exc}); run-compiled takes a pipeline JSON written by "
                        "`python -m pipeline compile --target kfp2` (or --target vertex)") from exc
    if isinstance(document, dict) and "pipelineSpec" in document:
        job = document
    elif isinstance(document, dict) and "root" in document and "pipelineInfo" in document:
        job = {"pipelineSpec": document, "bare": True,
               "runtimeConfig": {"gcsOutputDirectory": document.get("defaultPipelineRoot")}}
    else:
        raise SpecError(f"{path} is neither a PipelineSpec (compile --target kfp2) nor a PipelineJob "
                        "(compile --target vertex)")
    spec = job["pipelineSpec"]
    if not spec.get("root", {}).get("dag", {}).get("tasks"):
        raise SpecError(f"{path}: pipelineSpec.root.dag has no tasks")
    return job


def default_backend(job: Dict[str, object]) -> str:
    """kfp2 for a bare PipelineSpec (compile --target kfp2), vertex for a PipelineJob."""
    return KFP2 if job.get("bare") else VERTEX


def kfp2_violations(job: Dict[str, object]) -> List[Tuple[str, str]]:
    """(rule, where) for everything in the spec that open-source KFP 2.x's backend refuses."""
    spec = job["pipelineSpec"]
    found = []
    if not job.get("bare") or spec.get("schemaVersion") != "2.1.0":
        found.append(("pipeline-spec", f"the file is a {'PipelineSpec' if job.get('bare') else 'PipelineJob'} "
                                       f"of schema {spec.get('schemaVersion')}"))
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    components = spec.get("components", {})
    dags = [spec["root"]] + [c for c in components.values() if "dag" in c]  # sub-DAGs: KFP runs them
    for name, task in sorted((n, t) for dag in dags for n, t in dag["dag"]["tasks"].items()):
        component = components.get(task.get("componentRef", {}).get("name"), {})
        if "dag" in component:
            continue
        executor = executors.get(component.get("executorLabel"), {})
        kinds = sorted(set(executor) - {"container", "importer"})
        if kinds or not executor:
            found.append(("container-or-importer", f"task {name} is a {', '.join(kinds) or 'missing'} executor"))
        for pname, value in sorted(task.get("inputs", {}).get("parameters", {}).items()):
            if "constantValue" in value.get("runtimeValue", {}):
                found.append(("constant", f"task {name}, parameter {pname}: runtimeValue.constantValue"))
    definitions = [("the pipeline", spec["root"])] + [(f"component {n}", c) for n, c in sorted(components.items())]
    for where, component in definitions:
        for pname, definition in sorted(component.get("inputDefinitions", {}).get("parameters", {}).items()):
            if not definition.get("parameterType"):
                found.append(("parameter-type", f"{where}, parameter {pname}: no parameterType "
                                                f"(type: {definition.get('type', 'none')})"))
    return found


def check_kfp2_rules(job: Dict[str, object], path: str) -> None:
    """Refuses, before anything runs, a spec that open-source KFP 2.x's backend would refuse."""
    found = kfp2_violations(job)
    if not found:
        return
    lines = []
    for rule in KFP_RULES:
        places = [where for r, where in found if r == rule]
        if places:
            text, source = KFP_RULES[rule]
            shown = "; ".join(places[:3]) + (f"; and {len(places) - 3} more" if len(places) > 3 else "")
            lines.append(f"  rule {rule}: {text} ({KFP_SOURCE} {source}): {shown}")
    raise SpecError(f"{path} breaks open-source KFP 2.x's rules, so its backend would refuse it:\n"
                    + "\n".join(lines) + "\nCompile it with `python -m pipeline compile --target kfp2`; "
                    "a Vertex AI spec runs here with --backend vertex.")


def upstream_tasks(task: Dict[str, object]) -> List[str]:
    """Tasks this one waits for: its dependentTasks and the producers of its inputs."""
    names = set(task.get("dependentTasks", []))
    inputs = task.get("inputs", {})
    for spec in inputs.get("artifacts", {}).values():
        if "taskOutputArtifact" in spec:
            names.add(spec["taskOutputArtifact"]["producerTask"])
    for spec in inputs.get("parameters", {}).values():
        if "taskOutputParameter" in spec:
            names.add(spec["taskOutputParameter"]["producerTask"])
    return sorted(names)


def task_order(tasks: Dict[str, Dict[str, object]]) -> List[str]:
    """Tasks in dependency order; among tasks that are ready together, by name."""
    waiting = {name: set(upstream_tasks(task)) for name, task in tasks.items()}
    for name, upstream in waiting.items():
        unknown = upstream - set(tasks)
        if unknown:
            raise SpecError(f"task {name} depends on {sorted(unknown)}, which the spec does not define")
    order: List[str] = []
    while waiting:
        ready = sorted(name for name, upstream in waiting.items() if not upstream)
        if not ready:
            raise SpecError(f"the tasks {sorted(waiting)} depend on each other in a cycle")
        for name in ready:
            order.append(name)
            del waiting[name]
        for upstream in waiting.values():
            upstream.difference_update(ready)
    return order


def downstream_of(failed: str, tasks: Dict[str, Dict[str, object]]) -> List[str]:
    """Every task that depends, directly or not, on `failed`."""
    found, frontier = set(), {failed}
    while frontier:
        frontier = {name for name, task in tasks.items()
                    if name not in found and frontier & set(upstream_tasks(task))}
        found |= frontier
    return sorted(found)


def check_supported(job: Dict[str, object]) -> None:
    """Refuses, before anything runs, what this launcher does not emulate."""
    spec = job["pipelineSpec"]
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    for name, task in spec["root"]["dag"]["tasks"].items():
        _check_path_segment(name, "task name")
        for feature in ("triggerPolicy", "iteratorPolicy", "parameterIterator", "artifactIterator"):
            if task.get(feature):
                raise SpecError(f"task {name} uses {feature}, which run-compiled does not support")
        component = spec.get("components", {}).get(task.get("componentRef", {}).get("name"))
        if component is None:
            raise SpecError(f"task {name}: component {task.get('componentRef')} is not in the spec")
        if "dag" in component:
            raise SpecError(f"task {name} is a sub-DAG, which run-compiled does not support")
        for key in component.get("outputDefinitions", {}).get("artifacts", {}):
            _check_path_segment(key, f"task {name}: output name")
        executor = executors.get(component.get("executorLabel"))
        if not executor or not ({"container", "resolver", "importer"} & set(executor)):
            raise SpecError(f"task {name}: run-compiled runs container, importer and resolver steps "
                            f"only, not {sorted(executor or {})}")


def _check_path_segment(name: str, what: str) -> None:
    """Task and output names become folder and file names under the pipeline root."""
    if not is_plain_name(name):
        raise SpecError(f"{what} {name!r} cannot be a folder name (letters, digits, '_', '-', '.'); "
                        "was the spec edited by hand? Compile it again.")


# ---------------------------------------------------------------- parameters


def parameter_type(definition: Dict[str, str]) -> str:
    return definition.get("parameterType") or definition.get("type") or "STRING"


def plain_value(value: Dict[str, object]) -> object:
    """A python value from a legacy Value ({"intValue": "5"}) or a protobuf Value JSON."""
    if not isinstance(value, dict):
        return value
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "stringValue" in value:
        return value["stringValue"]
    raise SpecError(f"unsupported parameter value {value!r}")


def run_parameters(job: Dict[str, object], overrides: Sequence[str]) -> Dict[str, object]:
    """The pipeline's run parameters: compiled defaults, then `--param NAME=VALUE` overrides, typed
    by the spec's parameterType (pipeline/pairs.py)."""
    definitions = job["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {})
    runtime = job.get("runtimeConfig", {})
    values = {k: d["defaultValue"] for k, d in definitions.items() if "defaultValue" in d}
    values.update({k: plain_value(v) for k, v in runtime.get("parameters", {}).items()})
    values.update(runtime.get("parameterValues", {}))
    receiver = pairs.Receiver(
        option="--param", noun="parameter", owner="this pipeline",
        types={name: pairs.spec_type(parameter_type(d)) for name, d in definitions.items()},
        examples={name: v if isinstance(v, str) else json.dumps(v) for name, v in values.items()})
    try:
        overridden = pairs.parse(overrides, receiver)
    except pairs.PairError as exc:
        raise SpecError(str(exc)) from None
    for item in overrides:
        name = item.partition("=")[0]
        ptype = parameter_type(definitions[name])
        if pairs.spec_type(ptype) not in (pairs.STRING, pairs.INTEGER, pairs.FLOAT):
            raise SpecError(f"--param {item}: {name} is a {ptype} parameter, which run-compiled does not "
                            "support (strings, integers and doubles only)")
    values.update(overridden)
    missing = sorted(set(definitions) - set(values))
    if missing:
        raise SpecError(f"no value for the run parameters {missing}: pass --param NAME=VALUE")
    return {name: values[name] for name in definitions}


def form_value(value: object, ptype: str, form: str) -> object:
    """A parameter as the launcher sends it, in the chosen form."""
    if form == VALUES_FORM:
        return value
    type_ = pairs.spec_type(ptype)
    if type_ == pairs.INTEGER or (type_ != pairs.FLOAT and isinstance(value, int)
                                  and not isinstance(value, bool)):
        return {"intValue": str(int(value))}
    if type_ == pairs.FLOAT or isinstance(value, float):
        return {"doubleValue": float(value)}
    return {"stringValue": str(value)}


@dataclasses.dataclass(frozen=True)
class PathMap:
    """Rewrites the image's project root and the compiled pipeline root to local paths."""
    image_root: Optional[str]
    compiled_pipeline_root: Optional[str]
    pipeline_root: str

    def __call__(self, value: object) -> object:
        if not isinstance(value, str):
            return value
        if self.compiled_pipeline_root and self.compiled_pipeline_root != self.pipeline_root:
            value = _replace_path_prefix(value, self.compiled_pipeline_root, self.pipeline_root)
        if self.image_root:
            value = _replace_path_prefix(value, self.image_root, PROJECT_ROOT)
        return value


def _replace_path_prefix(text: str, old: str, new: str) -> str:
    """Replaces `old` where it starts a path (start of text, after a quote, = or space)."""
    old = old.rstrip("/")
    pattern = re.compile(r"(^|(?<=[\"'= ]))" + re.escape(old) + r"(?=/|$|[\"' ])")
    return pattern.sub(lambda _: new.rstrip("/"), text)


# ---------------------------------------------------------------- ExecutorInput


def task_parameters(task: Dict[str, object], component: Dict[str, object], params: Dict[str, object],
                    form: str, path_map: Callable[[object], object]) -> Dict[str, object]:
    """The task's input parameters: constants from the spec and the pipeline's run parameters."""
    definitions = component.get("inputDefinitions", {}).get("parameters", {})
    result = {}
    for name, spec in task.get("inputs", {}).get("parameters", {}).items():
        ptype = parameter_type(definitions.get(name, {}))
        if "componentInputParameter" in spec:
            value = params[spec["componentInputParameter"]]
        elif "runtimeValue" in spec and "constantValue" in spec["runtimeValue"]:
            value = plain_value(spec["runtimeValue"]["constantValue"])
        elif "runtimeValue" in spec and "constant" in spec["runtimeValue"]:
            value = spec["runtimeValue"]["constant"]
        else:
            raise SpecError(f"parameter {name}: {sorted(spec)} inputs are not supported by run-compiled")
        result[name] = form_value(path_map(value), ptype, form)
    return result


def input_artifacts(task: Dict[str, object],
                    produced: Dict[str, Dict[str, List[Artifact]]]) -> Dict[str, List[Artifact]]:
    """The task's input artifacts, as their producers in this run reported them."""
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
    """The ExecutorInput JSON a KFP launcher substitutes for `{{$}}`."""
    def artifact_lists(artifacts: Dict[str, List[Artifact]]):
        return {k: {"artifacts": [a.runtime_artifact() for a in v]} for k, v in artifacts.items()}

    return {
        "inputs": {form: parameters, "artifacts": artifact_lists(inputs)},
        "outputs": {"artifacts": artifact_lists(outputs), "outputFile": output_file},
    }


def step_command(command: Sequence[str], args: Sequence[str], invocation: str,
                 in_image: bool = False) -> List[str]:
    """The container's command and args with `{{$}}` filled in and, unless it runs in the image,
    `python` made this interpreter."""
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


# ---------------------------------------------------------------- resolvers


def _filter_clauses(query: str) -> List[Tuple[str, str]]:
    clauses = []
    for clause in re.split(r"\s+AND\s+", query.strip()):
        key, sep, value = clause.partition("=")
        if not sep:
            raise SpecError(f"resolver filter clause {clause!r} is not KEY=VALUE")
        clauses.append((key.strip(), value.strip().strip('"')))
    return clauses


def resolve_query(query: str, inputs: Dict[str, List[Artifact]],
                  candidates: Sequence[Artifact]) -> List[Artifact]:
    """The newest artifact among `candidates` (oldest first) that matches an artifact query filter.

    Supports the filters TFX's Kubeflow V2 compiler writes for its resolvers: schema_title,
    state=LIVE, metadata.KEY.number_value, name, and `{{$.inputs.artifacts[..].metadata[..]}}`.
    """
    def input_metadata(match):
        artifacts = inputs.get(match.group(1)) or []
        if not artifacts or match.group(2) not in artifacts[0].metadata:
            raise LookupError
        return str(artifacts[0].metadata[match.group(2)])

    try:
        query = _INPUT_METADATA.sub(input_metadata, query)
    except LookupError:
        return []  # the input it refers to resolved to nothing (e.g. no blessed model yet)
    tests = []
    for key, value in _filter_clauses(query):
        if key == "schema_title":
            tests.append(lambda a, v=value: a.schema_title == v)
        elif key == "state":
            if value != "LIVE":
                raise SpecError(f"resolver filter state={value}: only LIVE artifacts are recorded")
        elif key == "name":
            tests.append(lambda a, v=value: a.name == v)
        elif re.fullmatch(r"metadata\.[\w-]+\.number_value", key):
            field = key.split(".")[1]
            tests.append(lambda a, f=field, v=float(value): _number(a.metadata.get(f)) == v)
        elif re.fullmatch(r"metadata\.[\w-]+\.string_value", key):
            field = key.split(".")[1]
            tests.append(lambda a, f=field, v=value: a.metadata.get(f) == v)
        else:
            raise SpecError(f"resolver filter clause {key}=... is not supported by run-compiled")
    matches = [a for a in candidates if all(test(a) for test in tests)]
    return matches[-1:]


def serving_check_outcome(meta: Dict[str, object]) -> str:
    """'passed: loaded in ...' or 'failed: <reason>' from the ServingCheck's InfraBlessing metadata."""
    if _number(meta.get(serving_check.BLESSED)) == 1:
        numbers = {key: _number(value) for key, value in meta.items() if _number(value) is not None}
        return serving_check.passed_line(numbers)
    return f"failed: {meta.get(serving_check.REASON) or 'no reason recorded'}"


def serving_check_failed(run: "Run") -> Optional[str]:
    """The ServingCheck's reason when it ran in this run and did not bless the model, else None."""
    for result in run.results.values():
        for artifacts in result.outputs.values():
            for artifact in artifacts:
                if artifact.schema_title == "tfx.InfraBlessing" and result.state != "resolved" \
                        and _number(artifact.metadata.get(serving_check.BLESSED)) != 1:
                    return str(artifact.metadata.get(serving_check.REASON) or "no reason recorded")
    return None


def _number(value: object) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def load_records(pipeline_root: str, exclude_run: Optional[str] = None) -> List[Dict[str, object]]:
    """The run.json of every earlier run-compiled run under the root, oldest first."""
    runs_dir = os.path.join(pipeline_root, RUNS_DIR)
    records = []
    for run_id in sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []:
        path = os.path.join(runs_dir, run_id, RECORD_FILE)
        if run_id != exclude_run and os.path.isfile(path):
            with open(path) as f:
                records.append(json.load(f))
    return sorted(records, key=lambda r: r["started"])


def recorded_artifacts(records: Sequence[Dict[str, object]]) -> List[Artifact]:
    """Artifacts that steps created (not took from the cache) in these runs, oldest first."""
    artifacts = []
    for record in records:
        for task in record["order"]:
            step = record["tasks"].get(task)
            if step and step["state"] == "ran":
                for key in sorted(step["outputs"]):
                    artifacts.extend(Artifact.from_dict(a) for a in step["outputs"][key])
    return artifacts


# ---------------------------------------------------------------- cache


def cache_key(container: Dict[str, object], invocation: Dict[str, object]) -> str:
    """Like KFP's cache key: the step's command, its inputs (parameters, artifacts) and output types."""
    outputs = {k: [a["type"] for a in v["artifacts"]]
               for k, v in invocation["outputs"]["artifacts"].items()}
    material = {"image": container.get("image"), "command": container.get("command"),
                "args": container.get("args"), "inputs": invocation["inputs"], "outputs": outputs}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def cached_outputs(records: Sequence[Dict[str, object]], key: str) -> Optional[Dict[str, List[Artifact]]]:
    """Outputs of the newest earlier step with the same cache key whose files are still there."""
    for record in reversed(records):
        for step in record["tasks"].values():
            if step.get("cache_key") != key or step["state"] not in ("ran", "cached"):
                continue
            outputs = {k: [Artifact.from_dict(a) for a in v] for k, v in step["outputs"].items()}
            if all(os.path.exists(a.uri) for v in outputs.values() for a in v):
                return outputs
    return None


# ---------------------------------------------------------------- running


def _tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return "(no log)"


def _step_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PROJECT_ROOT, env.get("PYTHONPATH")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_process(argv: Sequence[str], log_path: str, title: str, image=None) -> int:
    """Runs one container command, appending to the step's log: inside the image (`image`, an
    image_exec.ImageExec) or as a subprocess of this environment."""
    with open(log_path, "a") as log:
        where = f" in {image.describe()}" if image else ""
        log.write(f"=== {title}{where}: {' '.join(a if len(a) < 200 else a[:200] + '...' for a in argv)}\n")
        log.flush()
        if image is not None:
            return image.run(argv, log)
        return subprocess.run(list(argv), stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                              env=_step_env(), check=False).returncode


def _read_executor_output(path: str) -> Dict[str, object]:
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def apply_driver_output(invocation: Dict[str, object], driver_output: Dict[str, object],
                        form: str) -> None:
    """What the service does with a preCacheCheck's output: its parameters and output artifact
    metadata replace the step's before the executor runs."""
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
    image: Optional[object] = None  # image_exec.ImageExec: steps run in the image
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

    def component(self, task_name: str) -> Dict[str, object]:
        return self.spec["components"][self.tasks[task_name]["componentRef"]["name"]]

    def executor(self, task_name: str) -> Dict[str, object]:
        return self.spec["deploymentSpec"]["executors"][self.component(task_name)["executorLabel"]]

    def log_path(self, task_name: str) -> str:
        return os.path.join(self.run_dir, "logs", f"{task_name}.log")

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


def run_container_step(run: Run, task_name: str, history: Callable[[], List[Artifact]]) -> StepResult:
    """Builds the step's ExecutorInput and runs its driver (if any) and its container command."""
    started = time.time()
    task, component = run.tasks[task_name], run.component(task_name)
    container = run.executor(task_name)["container"]
    task_dir = os.path.join(run.run_dir, task_name)
    os.makedirs(task_dir, exist_ok=True)
    os.makedirs(os.path.dirname(run.log_path(task_name)), exist_ok=True)
    produced = {name: r.outputs for name, r in run.results.items()}
    planned = output_artifacts(task_name, component, task_dir, run.run_id)
    output_file = os.path.join(task_dir, "executor_output.json")
    invocation = executor_input(
        task_parameters(task, component, run.params, run.form, run.path_map),
        input_artifacts(task, produced), planned, output_file, run.form)

    driver = container.get("lifecycle", {}).get("preCacheCheck")
    if driver and run.backend == KFP2:
        # KFP 2.x's backend never runs a lifecycle hook (no reference to preCacheCheck or lifecycle
        # in its backend/src); the executor runs without the driver's output, as it would there.
        with open(run.log_path(task_name), "a") as log:
            log.write("=== lifecycle.preCacheCheck not run: open-source KFP 2.x does not run it\n")
    elif driver:
        code = run_process(step_command(driver.get("command", []), driver.get("args", []),
                                        json.dumps(invocation), in_image=run.image is not None),
                           run.log_path(task_name), "driver (lifecycle.preCacheCheck)", run.image)
        if code != 0:
            raise _failure(run, task_name, code)
        apply_driver_output(invocation, _read_executor_output(output_file), run.form)
        os.replace(output_file, os.path.join(task_dir, "driver_output.json"))

    key = cache_key(container, invocation)
    if run.use_cache and task.get("cachingOptions", {}).get("enableCache"):
        cached = cached_outputs(run.earlier, key)
        if cached is not None:
            return StepResult(task_name, "cached", time.time() - started, cached, None, key)
    with open(os.path.join(task_dir, "executor_input.json"), "w") as f:
        json.dump(invocation, f, indent=1)
    code = run_process(step_command(container.get("command", []), container.get("args", []),
                                    json.dumps(invocation), in_image=run.image is not None),
                       run.log_path(task_name), "executor", run.image)
    if code != 0:
        raise _failure(run, task_name, code)
    outputs = collect_outputs(planned, _read_executor_output(output_file))
    return StepResult(task_name, "ran", time.time() - started, outputs, run.log_path(task_name), key)


def run_resolver_step(run: Run, task_name: str, history: Callable[[], List[Artifact]]) -> StepResult:
    """Answers a resolver task's artifact queries from the artifacts recorded so far."""
    started = time.time()
    task, component = run.tasks[task_name], run.component(task_name)
    queries = run.executor(task_name)["resolver"].get("outputArtifactQueries", {})
    inputs = input_artifacts(task, {name: r.outputs for name, r in run.results.items()})
    candidates = history()
    types = component.get("outputDefinitions", {}).get("artifacts", {})
    outputs = {}
    for key, query in queries.items():
        found = resolve_query(query.get("filter", ""), inputs, candidates)
        # Resolved artifacts keep their identity (name, URI, metadata); the type is the output's.
        outputs[key] = [dataclasses.replace(a, type=types.get(key, {}).get("artifactType", a.type))
                        for a in found]
    return StepResult(task_name, "resolved", time.time() - started, outputs)


def run_importer_step(run: Run, task_name: str, history: Callable[[], List[Artifact]]) -> StepResult:
    """An importer task: one artifact of the spec's type at the URI it names (constant or parameter)."""
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


def _failure(run: Run, task_name: str, code: int) -> StepFailed:
    return StepFailed(task_name, code, run.log_path(task_name), _tail(run.log_path(task_name)),
                      downstream_of(task_name, run.tasks))


def prepare_run(spec_path: str, pipeline_root: str, params: Sequence[str] = (),
                form: Optional[str] = None, image_root: Optional[str] = IMAGE_PROJECT_ROOT,
                use_cache: bool = True, backend: Optional[str] = None, image: Optional[str] = None) -> Run:
    """Checks the spec and the options; nothing is written yet.

    `backend`: kfp2 or vertex (default: by the spec's form, see default_backend). `form`: how
    parameters reach the steps; kfp2 allows parameterValues only, vertex defaults to parameters.
    `image`: run every step's command inside this image (image_exec.py) instead of this checkout.
    """
    if backend is not None and backend not in BACKENDS:
        raise SpecError(f"--backend {backend!r}: choose one of {list(BACKENDS)}")
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
        from pipeline.kubeflow import image_exec
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


def execute(run: Run, on_step: Optional[Callable[[int, int, StepResult], None]] = None,
            on_start: Optional[Callable[[int, int, str], None]] = None) -> Dict[str, StepResult]:
    """Runs every task in dependency order; stops at the first failing step (StepFailed)."""
    order = task_order(run.tasks)
    run.earlier = load_records(run.pipeline_root, exclude_run=run.run_id)
    earlier = recorded_artifacts(run.earlier)

    def history() -> List[Artifact]:
        current = [a for r in run.results.values() if r.state == "ran"
                   for key in sorted(r.outputs) for a in r.outputs[key]]
        return earlier + current

    run.save()
    for index, name in enumerate(order, start=1):
        if on_start:
            on_start(index, len(order), name)
        executor = run.executor(name)
        step = (run_resolver_step if "resolver" in executor else
                run_importer_step if "importer" in executor else run_container_step)
        try:
            result = step(run, name, history)
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


def drift_outcome(meta: Dict[str, object]) -> str:
    """'drift: ...' from the DriftGuard output's metadata (the full table is in its drift.json)."""
    status, drifted = meta.get("drift_status"), meta.get("drifted_features")
    if status == "accepted":
        return f"drift: accepted (accept_drift=1) on {drifted}"
    if status == "passed":
        return f"drift: none (compared with the data of served version {meta.get('served_version')})"
    return f"drift: not checked ({status})"


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
                    if _number(meta.get(latest_pushed_model.FOUND_PROPERTY)) == 1:
                        lines.append(f"baseline: version {meta.get(latest_pushed_model.VERSION_PROPERTY)} (Trainer "
                                     f"model {meta.get(latest_pushed_model.SOURCE_URI_PROPERTY)}), copied to "
                                     f"{artifact.uri}")
                elif title == "tfx.ExampleAnomalies" and "drift_status" in meta:  # the DriftGuard step
                    lines.append(drift_outcome(meta))
                elif title == "tfx.ModelBlessing" and result.state != "resolved":
                    lines.append("blessed: " + ("yes" if _number(meta.get("blessed")) == 1 else "no"))
                elif title == "tfx.InfraBlessing":  # the ServingCheck step
                    lines.append("serving check: " + serving_check_outcome(meta))
                elif title == "tfx.PushedModel":
                    pushed = _number(meta.get(atomic_pusher.PUSHED)) == 1
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
