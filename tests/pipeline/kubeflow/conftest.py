"""The project's pipeline compiled for Vertex, shared by the launcher's tests and the exit task's."""
from __future__ import annotations

import pytest

from pipeline import config as config_lib
from tests.pipeline.kubeflow.launcher.specs import ROOT


@pytest.fixture(scope="session")
def compiled_path(tmp_path_factory):
    """The project's pipeline compiled by TFX's KubeflowV2DagRunner for Vertex, offline."""
    from pipeline.kubeflow import runner as kubeflow_runner
    return kubeflow_runner.compile_pipeline(
        config_lib.PipelineConfig(train_steps=50), target="vertex",
        output=str(tmp_path_factory.mktemp("compiled") / "vertex.json"),
        image="registry.example/keras-tfx:test", pipeline_root=ROOT)
