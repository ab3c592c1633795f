"""`submit` against a local fake of the KFP API: what arrives is what KFP expects."""
import socket

import pytest

from pipeline import kubeflow_runner, submit
from pipeline.config import ConfigError, PipelineConfig
from tests.pipeline.fake_kfp import FakeKfp


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("pkg")
    return kubeflow_runner.compile_pipeline(PipelineConfig(), target="kubeflow-v1", output=str(out / "p.yaml"),
                                            image="registry.example/k:1", pipeline_root="minio://b/r")


def test_submit_uploads_then_runs_with_parameters(package):
    with FakeKfp() as kfp_api:
        result = submit.submit(package, kfp_api.url, "nightly", params=["train_steps=500", "min_accuracy=0.7"])
    assert (result.experiment_id, result.pipeline_id, result.run_id) == ("exp-1", "pipeline-1", "run-1")
    assert kfp_api.posts("/apis/v1beta1/experiments")[0]["body"]["name"] == "nightly"
    upload = kfp_api.posts("/apis/v1beta1/pipelines/upload")[0]
    assert upload["content_type"].startswith("multipart/form-data")
    assert b"kind: Workflow" in upload["raw"] and b"registry.example/k:1" in upload["raw"]
    run = kfp_api.posts("/apis/v1beta1/runs")[0]["body"]
    params = {p["name"]: p["value"] for p in run["pipeline_spec"]["parameters"]}
    assert params == {"train_steps": "500", "min_accuracy": "0.7"}
    references = {(r["key"]["type"], r["key"]["id"]) for r in run["resource_references"]}
    assert ("EXPERIMENT", "exp-1") in references and ("PIPELINE_VERSION", "version-1") in references


def test_submit_with_cron_creates_a_recurring_run(package):
    with FakeKfp() as kfp_api:
        result = submit.submit(package, kfp_api.url, "nightly", cron="30 2 * * *")
    assert result.recurring_run_id == "job-1" and result.run_id is None
    job = kfp_api.posts("/apis/v1beta1/jobs")[0]["body"]
    assert job["trigger"]["cron_schedule"]["cron"] == "0 30 2 * * *"
    assert job["enabled"] is True and int(job["max_concurrency"]) == 1
    assert not kfp_api.posts("/apis/v1beta1/runs")


@pytest.mark.parametrize("cron, words", [
    ("61 * * * *", "minute field '61'"), ("* * *", "expected 5 fields"), ("0 2 * * FUNDAY", "day of week"),
])
def test_bad_cron_is_refused_before_anything_is_sent(package, cron, words):
    with FakeKfp() as kfp_api:
        with pytest.raises(ConfigError, match=words):
            submit.submit(package, kfp_api.url, "e", cron=cron)
    assert kfp_api.requests == []


def test_unknown_parameter_is_refused_with_the_declared_ones(package):
    with pytest.raises(ConfigError, match=r"'train_stpes' is not a run parameter.*'train_steps'"):
        submit.submit(package, "http://127.0.0.1:9", "e", params=["train_stpes=5"])


def test_unreachable_endpoint_is_a_clear_error(package):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(ConfigError, match=f"cannot reach the Kubeflow Pipelines API at http://127.0.0.1:{port}"):
        submit.submit(package, f"http://127.0.0.1:{port}", "e")
