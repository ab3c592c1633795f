"""The compiled pipeline, loaded and checked before any step starts.

Two sets of checks: KFP_RULES, what open-source KFP 2.x's backend accepts (each rule with the
backend source it comes from; the kfp2 backend only), and check_supported, what this launcher
emulates (both backends). Either refuses with a SpecError that names the task and the fix.
"""
from __future__ import annotations

import json
from typing import Dict, List, Tuple

from components.names import is_plain_name
from pipeline.config import ConfigError
from pipeline.kubeflow.targets import KFP2, VERTEX

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


class SpecError(ConfigError):
    """The spec or an option cannot be run here; raised before any step starts."""


def load_spec(path: str) -> Dict[str, object]:
    """The compiled pipeline as a PipelineJob dict.

    Args:
      path: a pipeline JSON from `compile --target kfp2` (a bare PipelineSpec) or `--target vertex`
        (a PipelineJob).

    Returns:
      A vertex PipelineJob as written, or a kfp2 PipelineSpec wrapped as one (its
      defaultPipelineRoot as the output directory; `bare` set).
    """
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
