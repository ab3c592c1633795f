"""Parameter values: the run's (compiled defaults, then `--param` overrides), each task's, the form
they reach a step in, and the paths in them mapped from the image and the compiled root to here."""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Callable, Dict, Optional, Sequence

from pipeline import pairs
from pipeline.config import PROJECT_ROOT
from pipeline.kubeflow.launcher.spec import SpecError


# How the launcher hands parameters to a step: the deprecated `parameters` map of typed values
# (what TFX 1.15's entrypoint reads for a schema 2.0.0 spec; Vertex AI Pipelines) or
# `parameterValues` of plain JSON values (what the KFP 2.x open-source driver sends).
LEGACY_FORM = "parameters"
VALUES_FORM = "parameterValues"
PARAMETER_FORMS = (LEGACY_FORM, VALUES_FORM)


def parameter_type(definition: Dict[str, str]) -> str:
    """A parameter definition's type: schema 2.1.0's parameterType, 2.0.0's type, else STRING."""
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


def number(value: object) -> Optional[float]:
    """An artifact metadata value as a number, or None if it is not one."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def run_parameters(job: Dict[str, object], overrides: Sequence[str]) -> Dict[str, object]:
    """The pipeline's run parameters.

    Args:
      job: the compiled PipelineJob (spec.load_spec).
      overrides: `--param NAME=VALUE` items, typed by the spec's parameterType (pipeline/pairs.py).

    Returns:
      Every declared run parameter: its compiled default, or the override.
    """
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
    """A parameter as the launcher sends it, in the chosen form (LEGACY_FORM or VALUES_FORM)."""
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


def task_parameters(task: Dict[str, object], component: Dict[str, object], params: Dict[str, object],
                    form: str, path_map: Callable[[object], object]) -> Dict[str, object]:
    """The task's input parameters: constants from the spec and the pipeline's run parameters.

    Args:
      task: the task as the DAG declares it; component: its component (for the types).
      params: the run parameters (run_parameters); form: LEGACY_FORM or VALUES_FORM.
      path_map: applied to every value (PathMap).

    Returns:
      Each input parameter's value, in `form`.
    """
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
