"""The order the tasks run in, and what a failed task leaves unrun (kfp.local's graph_utils)."""
from __future__ import annotations

from typing import Dict, List

from pipeline.kubeflow.launcher.spec import SpecError


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
    """Tasks in dependency order; among tasks that are ready together, by name.

    Raises:
      SpecError: a task depends on one the spec does not define, or tasks form a cycle.
    """
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
