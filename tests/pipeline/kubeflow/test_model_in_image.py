"""A user's prototype (a notebook, a dotted module) as the compiled steps find it inside the image."""
from __future__ import annotations

import os
import shutil

import pytest

from components.trainer import user_model
from pipeline import config as config_lib
from pipeline.config import ConfigError
from pipeline.kubeflow import runner as kubeflow_runner

NOTEBOOK = os.path.join(config_lib.PROJECT_ROOT, "examples", "taxi_structured.ipynb")


def test_a_notebook_under_the_project_is_found_in_the_image_with_the_same_cache_key():
    spec = user_model.parse_spec(f"{NOTEBOOK}:build_model")
    in_image = kubeflow_runner.model_in_image(spec)
    assert in_image.module == kubeflow_runner.IMAGE_PROJECT_ROOT + "/examples/taxi_structured.ipynb"
    assert in_image.is_notebook and in_image.source_sha256 == spec.source_sha256


def test_a_notebook_outside_the_project_is_refused_with_the_fix(tmp_path):
    copy = shutil.copy(NOTEBOOK, tmp_path / "proto.ipynb")
    with pytest.raises(ConfigError, match=r"outside the project.*examples/my_model.ipynb:build_model"):
        kubeflow_runner.model_in_image(user_model.parse_spec(f"{copy}:build_model"))


def test_a_dotted_module_is_placed_where_parse_spec_found_it(monkeypatch):
    spec = user_model.parse_spec("examples.text_classifier:build_model", search_path=config_lib.PROJECT_ROOT)
    monkeypatch.setattr(user_model, "module_file", lambda *args: pytest.fail("the module was located again"))
    in_image = kubeflow_runner.model_in_image(spec)
    assert (in_image.module, in_image.search_path) == ("examples.text_classifier", kubeflow_runner.IMAGE_PROJECT_ROOT)
    assert in_image.source_sha256 == spec.source_sha256
