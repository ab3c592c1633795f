"""The serving check's executor through Executor.Do, with real TFX artifacts and real SavedModels
(tests/components/serving_check/saved_models.py: the serving contract, and one defect each).

Each model that gets past the static checks costs one fresh TensorFlow process (~10 s here)."""
import json
import os

import pytest
import tensorflow as tf
from tfx.components.pusher import executor as stock_pusher
from tfx.types import standard_artifacts, standard_component_specs

from components import serving_check as names
from components.serving_check import executor
from tests.components.serving_check import saved_models

TIME_BOUND = 240  # seconds for one fresh process: TensorFlow's import on a loaded 2-core machine


def _artifacts(tmp_path, **save_args):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "Trainer" / "model" / "7")
    saved_models.save(os.path.join(model.uri, "Format-Serving"), **save_args)
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = str(tmp_path / "ServingCheck" / "blessing" / "8")
    return model, blessing


def _check(tmp_path, **save_args):
    model, blessing = _artifacts(tmp_path, **save_args)
    before = _files(model.uri)
    executor.Executor().Do({"model": [model]}, {"blessing": [blessing]}, {"timeout_seconds": TIME_BOUND})
    assert _files(model.uri) == before  # the candidate is checked from a scratch copy, untouched
    with open(os.path.join(blessing.uri, names.RESULT_FILE)) as f:
        result = json.load(f)
    return blessing, result


def _files(root):
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                found[os.path.relpath(os.path.join(folder, name), root)] = f.read()
    return found


def _pusher_accepts(blessing) -> bool:
    """TFX's own Pusher's CheckBlessing, which the AtomicPusher inherits."""
    return stock_pusher.Executor().CheckBlessing({standard_component_specs.INFRA_BLESSING_KEY: [blessing]})


def test_a_contract_model_is_blessed_with_load_time_and_latencies(tmp_path):
    blessing, result = _check(tmp_path)
    assert blessing.get_int_custom_property("blessed") == 1, result
    assert os.path.isfile(os.path.join(blessing.uri, "INFRA_BLESSED"))
    assert _pusher_accepts(blessing)
    assert result["requests"] == 4 and result["pairs_compared"] == 2
    assert 0 < blessing.get_float_custom_property("load_seconds") < 60
    for signature in ("serving_default", "serving_raw"):
        for batch in (1, 100):
            p50 = blessing.get_float_custom_property(f"{signature}_p50_ms_batch_{batch}")
            p99 = blessing.get_float_custom_property(f"{signature}_p99_ms_batch_{batch}")
            assert 0 < p50 <= p99 < 5000
    # The fresh process imported TensorFlow only: nothing of the project, from a clean sys.path.
    assert result["modules_of_the_project"] == []
    project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert not any(p in ("", ".", project) or p.startswith(str(tmp_path)) for p in result["sys_path"])
    assert result["tensorflow_version"] == tf.__version__


def test_a_multi_class_contract_model_is_blessed(tmp_path):
    blessing, result = _check(tmp_path, classes=3)
    assert blessing.get_int_custom_property("blessed") == 1, result
    assert blessing.get_string_custom_property("reason") == ""


def test_a_py_function_is_refused_naming_the_layer_and_the_fix(tmp_path):
    blessing, result = _check(tmp_path, defect="py_function")
    assert blessing.get_int_custom_property("blessed") == 0
    assert os.path.isfile(os.path.join(blessing.uri, "INFRA_NOT_BLESSED"))
    assert not _pusher_accepts(blessing)
    reason = blessing.get_string_custom_property("reason")
    assert "tf.py_function (layer 'lambda')" in reason and "TextVectorization(standardize=...)" in reason
    assert result["reason"] == reason


def test_a_fresh_process_really_fails_on_a_py_function(tmp_path):
    """What the static refusal stands for: the fresh process alone also fails on such a model."""
    model_dir = saved_models.save(str(tmp_path / "m"), defect="py_function")
    job = {"model_dir": model_dir, "site_dirs": executor._site_dirs(),
           "requests": executor.warmup_requests(model_dir), "repeats": executor.REPEATS}
    result = executor.run_fresh_process(job, str(tmp_path), timeout=TIME_BOUND)
    assert result["blessed"] is False
    assert "warm-up request 1 (serving_default, 1 rows) failed in a fresh TensorFlow process" in result["reason"]
    assert "callback" in result["reason"] or "pyfunc" in result["reason"].lower()


@pytest.mark.parametrize("save_args, expected", [
    ({"defect": "no_raw"}, "the model has no 'serving_raw' signature"),
    ({"warmup": False}, "the model has no warm-up file (assets.extra/tf_serving_warmup_requests)"),
])
def test_an_older_export_is_refused_with_a_reason(tmp_path, save_args, expected):
    blessing, _ = _check(tmp_path, **save_args)
    assert blessing.get_int_custom_property("blessed") == 0
    assert expected in blessing.get_string_custom_property("reason")
    assert "train it again" in blessing.get_string_custom_property("reason")
    assert not _pusher_accepts(blessing)


def test_raw_and_example_answers_that_differ_are_refused(tmp_path):
    blessing, _ = _check(tmp_path, defect="raw_differs")
    assert blessing.get_int_custom_property("blessed") == 0
    reason = blessing.get_string_custom_property("reason")
    assert "warm-up requests 1 and 2: the same 1 rows get different outputs" in reason


def test_nan_probabilities_are_refused(tmp_path):
    blessing, _ = _check(tmp_path, defect="nan")
    assert blessing.get_int_custom_property("blessed") == 0
    assert "'probabilities' holds NaN or Inf" in blessing.get_string_custom_property("reason")


def test_a_missing_model_folder_is_refused(tmp_path):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "nothing")
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = str(tmp_path / "blessing")
    executor.Executor().Do({"model": [model]}, {"blessing": [blessing]}, {})
    assert blessing.get_int_custom_property("blessed") == 0
    assert "does not exist" in blessing.get_string_custom_property("reason")


def test_layer_of_takes_the_innermost_scope():
    assert executor.layer_of("model/lambda/EagerPyFunc") == "lambda"
    assert executor.layer_of("EagerPyFunc") == ""
