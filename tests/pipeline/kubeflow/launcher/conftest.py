"""The specs the launcher's tests walk: the project's pipeline as TFX's own compiler writes it for
Vertex (schema 2.0.0, offline), flattened as run-compiled runs it; and a small hand-written job
with a resolver task, since the project's graph has none."""
from __future__ import annotations

import copy
import json

import pytest

from tests.pipeline.kubeflow.launcher.specs import small_job


@pytest.fixture(scope="session")
def compiled_job(compiled_path):
    """The compiled job's tasks as run-compiled runs them (the exit handler's sub-DAG flattened,
    the exit task left out)."""
    from pipeline.kubeflow import compiled_exit
    with open(compiled_path) as f:
        job, _ = compiled_exit.split_exit_task(json.load(f))
    job.pop("exit_task")
    return job


@pytest.fixture
def job(compiled_job):
    """A copy of the compiled job, for a test to change."""
    return copy.deepcopy(compiled_job)


@pytest.fixture
def spec_file(job, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(job))
    return str(path)


@pytest.fixture
def resolver_spec_file(tmp_path):
    path = tmp_path / "resolver.json"
    path.write_text(json.dumps(small_job()))
    return str(path)
