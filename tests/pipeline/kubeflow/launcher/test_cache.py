"""The step cache: same command and inputs as an earlier step, its outputs still there."""
from __future__ import annotations

from pipeline.kubeflow.launcher import cache, executor_io
from pipeline.kubeflow.launcher.records import Artifact
from tests.pipeline.kubeflow.launcher.specs import MODEL_TYPE, container


def test_a_step_with_the_same_command_and_inputs_as_an_earlier_one_comes_from_the_cache(tmp_path):
    spec = container("a.b.Executor")["container"]
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    invocation = executor_io.executor_input(
        {"train_steps": {"intValue": "5"}}, {},
        {"model": [Artifact("m1", MODEL_TYPE, str(model_dir), {})]}, "/x/out.json", "parameters")
    key = cache.cache_key(spec, invocation)
    records = [{"tasks": {"Trainer": {"state": "ran", "cache_key": key, "outputs": {
        "model": [Artifact("m1", MODEL_TYPE, str(model_dir), {}).runtime_artifact()]}}}}]
    assert cache.cached_outputs(records, key)["model"][0].name == "m1"
    invocation["inputs"]["parameters"]["train_steps"] = {"intValue": "6"}
    assert cache.cached_outputs(records, cache.cache_key(spec, invocation)) is None
    model_dir.rmdir()  # outputs deleted since: not served from the cache
    assert cache.cached_outputs(records, key) is None
