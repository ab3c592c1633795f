"""Task order and what a failed task leaves unrun, on the project's compiled pipeline."""
from __future__ import annotations

import pytest

from pipeline import config as config_lib
from pipeline.kubeflow.launcher import graph
from pipeline.kubeflow.launcher.spec import SpecError
from tests.pipeline.kubeflow.launcher.specs import downstream, tasks_of


def test_tasks_run_after_their_producers_and_ties_go_by_name(job):
    tasks = tasks_of(job)
    order = graph.task_order(tasks)
    assert sorted(order) == sorted(tasks)
    for name, task in tasks.items():
        for producer in task.get("dependentTasks", []):
            assert order.index(producer) < order.index(name), (producer, name)
    assert order[0] == min(n for n, t in tasks.items() if not t.get("dependentTasks"))
    assert set(graph.downstream_of(config_lib.EXAMPLE_GEN, tasks)) == downstream(config_lib.EXAMPLE_GEN, tasks)
    assert graph.downstream_of(config_lib.PUSHER, tasks) == []


def test_a_cycle_or_an_unknown_producer_is_refused():
    tasks = {"A": {"dependentTasks": ["B"]}, "B": {"dependentTasks": ["A"]}}
    with pytest.raises(SpecError, match="cycle"):
        graph.task_order(tasks)
    with pytest.raises(SpecError, match="does not define"):
        graph.task_order({"A": {"dependentTasks": ["Nope"]}})
