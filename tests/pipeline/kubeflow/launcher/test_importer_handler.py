"""An importer task: one artifact at the URI it names, mapped from the image to this checkout."""
from __future__ import annotations

import json
import os

import pytest

from pipeline import config as config_lib
from pipeline.kubeflow.launcher.importer_handler import run_importer_step
from pipeline.kubeflow.launcher.run import prepare_run
from pipeline.kubeflow.launcher.spec import SpecError
from tests.pipeline.kubeflow.launcher.specs import kfp2_spec


def _run_with_importer(tmp_path, importer):
    spec = kfp2_spec(tmp_path)
    spec["deploymentSpec"]["executors"]["Import_executor"]["importer"].update(importer)
    path = tmp_path / "kfp2.json"
    path.write_text(json.dumps(spec))
    return prepare_run(str(path), str(tmp_path / "root"))


def test_a_constant_uri_is_imported_with_the_specs_type_and_metadata(tmp_path):
    run = _run_with_importer(tmp_path, {"artifactUri": {"constant": "/app/data/taxi"}, "metadata": {"k": 1}})
    result = run_importer_step(run, "Import")
    assert result.state == "imported"
    (artifact,) = result.outputs["artifact"]
    assert artifact.name == f"run-compiled/{run.run_id}/Import/artifact"
    assert artifact.uri == os.path.join(config_lib.PROJECT_ROOT, "data", "taxi")
    assert artifact.schema_title == "system.Dataset" and artifact.metadata == {"k": 1}


def test_an_importer_uri_of_another_kind_is_refused(tmp_path):
    run = _run_with_importer(tmp_path, {"artifactUri": {}})
    with pytest.raises(SpecError, match=r"task Import: importer artifactUri \[\] is not supported"):
        run_importer_step(run, "Import")
