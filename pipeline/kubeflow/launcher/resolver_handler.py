"""The resolver task handler (vertex only): each artifact query answered from the artifacts that
earlier runs under the pipeline root, and this run so far, created (Run.history)."""
from __future__ import annotations

import dataclasses
import re
import time
from typing import TYPE_CHECKING, Dict, List, Sequence, Tuple

from pipeline.kubeflow.launcher.executor_io import input_artifacts
from pipeline.kubeflow.launcher.records import Artifact, StepResult
from pipeline.kubeflow.launcher.spec import SpecError
from pipeline.kubeflow.launcher.values import number

if TYPE_CHECKING:
    from pipeline.kubeflow.launcher.run import Run

_INPUT_METADATA = re.compile(r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.metadata\['([^']+)'\]\}\}")


def run_resolver_step(run: Run, task_name: str) -> StepResult:
    """Answers a resolver task's artifact queries from the artifacts recorded so far.

    Returns:
      The step's result (state `resolved`): per query, the newest matching artifact or none.
    """
    started = time.time()
    task, component = run.tasks[task_name], run.component(task_name)
    queries = run.executor(task_name)["resolver"].get("outputArtifactQueries", {})
    inputs = input_artifacts(task, {name: r.outputs for name, r in run.results.items()})
    candidates = run.history()
    types = component.get("outputDefinitions", {}).get("artifacts", {})
    outputs = {}
    for key, query in queries.items():
        found = resolve_query(query.get("filter", ""), inputs, candidates)
        # Resolved artifacts keep their identity (name, URI, metadata); the type is the output's.
        outputs[key] = [dataclasses.replace(a, type=types.get(key, {}).get("artifactType", a.type))
                        for a in found]
    return StepResult(task_name, "resolved", time.time() - started, outputs)


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

    Args:
      query: the filter; inputs: the task's input artifacts, which the filter may refer to.
      candidates: the artifacts to choose from, oldest first.

    Returns:
      The newest match, alone in a list, or [] if none matches.
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
            tests.append(lambda a, f=field, v=float(value): number(a.metadata.get(f)) == v)
        elif re.fullmatch(r"metadata\.[\w-]+\.string_value", key):
            field = key.split(".")[1]
            tests.append(lambda a, f=field, v=value: a.metadata.get(f) == v)
        else:
            raise SpecError(f"resolver filter clause {key}=... is not supported by run-compiled")
    matches = [a for a in candidates if all(test(a) for test in tests)]
    return matches[-1:]
