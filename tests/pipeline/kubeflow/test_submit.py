"""`submit` against a local fake of the KFP API: what arrives is what KFP expects."""
import socket

import pytest

from pipeline.kubeflow import runner as kubeflow_runner, submit
from pipeline.config import ConfigError, PipelineConfig
from tests.pipeline.kubeflow.fake_kfp import FakeKfp


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("pkg")
    return kubeflow_runner.compile_pipeline(PipelineConfig(), target="kubeflow-v1", output=str(out / "p.yaml"),
                                            image="registry.example/k:1", pipeline_root="minio://b/r")


def test_submit_uploads_then_runs_with_parameters(package):
    with FakeKfp() as kfp_api:
        result = submit.submit(package, kfp_api.url, "nightly", params=["train_steps=500", "min_accuracy=0.7",
                                                                        "notify_urls=https://hooks.example/T0"])
    assert (result.experiment_id, result.pipeline_id, result.run_id) == ("exp-1", "pipeline-1", "run-1")
    assert kfp_api.posts("/apis/v1beta1/experiments")[0]["body"]["name"] == "nightly"
    upload = kfp_api.posts("/apis/v1beta1/pipelines/upload")[0]
    assert upload["content_type"].startswith("multipart/form-data")
    assert b"kind: Workflow" in upload["raw"] and b"registry.example/k:1" in upload["raw"]
    run = kfp_api.posts("/apis/v1beta1/runs")[0]["body"]
    params = {p["name"]: p["value"] for p in run["pipeline_spec"]["parameters"]}
    assert params == {"train_steps": "500", "min_accuracy": "0.7", "notify_urls": "https://hooks.example/T0"}
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
    with pytest.raises(ConfigError, match=r"^--param train_stpes=5: train_stpes is not a parameter of this "
                                          r"package; known: accept_drift, data_root, eval_steps, min_accuracy, notify_urls, pipeline-root, "
                                          r"train_steps$"):
        submit.submit(package, "http://127.0.0.1:9", "e", params=["train_stpes=5"])


def test_kubeflow_v1_parameters_are_typed_as_the_pipeline_declares_them_and_each_given_once(package):
    declared = submit.declared_parameters(package)
    # Argo declares every parameter as text; the pipeline's own run parameters keep their types.
    assert submit.parse_params(["train_steps=500", "data_root=2024", "min_accuracy=1"], declared) == {
        "train_steps": 500, "data_root": "2024", "min_accuracy": 1.0}
    with pytest.raises(ConfigError, match=r"^--param train_steps=5e2: train_steps is an integer parameter; "
                                          r"give a whole number, e\.g\. --param train_steps=\d+$"):
        submit.parse_params(["train_steps=5e2"], declared)
    assert submit.parse_params(["pipeline-root=gs://b/r"], declared) == {"pipeline-root": "gs://b/r"}
    with pytest.raises(ConfigError, match=r"--param train_steps=6: train_steps is given twice"):
        submit.parse_params(["train_steps=5", "train_steps=6"], declared)
    with pytest.raises(ConfigError, match=r"--param train_steps: expected NAME=VALUE \(no '=' in it\), e\.g\. "
                                          r"--param train_steps=\d+"):
        submit.parse_params(["train_steps"], declared)


def test_unreachable_endpoint_is_a_clear_error(package):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(ConfigError, match=f"cannot reach the Kubeflow Pipelines API at http://127.0.0.1:{port}"):
        submit.submit(package, f"http://127.0.0.1:{port}", "e")


# ---------------------------------------------------------------- KFP 2.x (v2beta1)


@pytest.fixture(scope="module")
def kfp2_package(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp2")
    return kubeflow_runner.compile_pipeline(PipelineConfig(train_steps=300), target="kfp2",
                                            output=str(out / "p.json"), image="registry.example/k:1",
                                            pipeline_root="minio://mlpipeline/keras-tfx")


def test_submit_v2beta1_uploads_the_spec_then_runs_it_with_typed_parameters(kfp2_package):
    with FakeKfp() as kfp_api:
        result = submit.submit(kfp2_package, kfp_api.url, "nightly",
                               params=["train_steps=500", "min_accuracy=0.7", "data_root=/data"])
    assert (result.experiment_id, result.pipeline_id, result.version_id, result.run_id) == (
        "exp-1", "pipeline-1", "pipeline-1-v1", "run-1")
    assert [r["path"] for r in kfp_api.requests if r["path"].startswith("/apis/v1beta1")] == []
    assert kfp_api.posts("/apis/v2beta1/experiments")[0]["body"] == {"display_name": "nightly"}
    upload = kfp_api.posts("/apis/v2beta1/pipelines/upload")[0]
    assert upload["content_type"].startswith("multipart/form-data") and upload["query"]["name"] == ["keras-tfx"]
    with open(kfp2_package, "rb") as f:
        assert upload["uploaded"] == f.read()  # the bare PipelineSpec, as KFP's upload handler reads it
    run = kfp_api.posts("/apis/v2beta1/runs")[0]["body"]
    assert run["experiment_id"] == "exp-1"
    assert run["pipeline_version_reference"] == {"pipeline_id": "pipeline-1", "pipeline_version_id": "pipeline-1-v1"}
    # Typed as the spec declares them: KFP 2.x refuses a string for a NUMBER_INTEGER parameter.
    assert run["runtime_config"] == {"parameters": {"train_steps": 500, "min_accuracy": 0.7, "data_root": "/data"},
                                     "pipeline_root": "minio://mlpipeline/keras-tfx"}
    assert isinstance(run["runtime_config"]["parameters"]["train_steps"], int)


def test_submit_v2beta1_keeps_a_string_parameter_as_typed(kfp2_package):
    with FakeKfp() as kfp_api:
        submit.submit(kfp2_package, kfp_api.url, "e", params=["data_root=2024", "min_accuracy=1"])
    parameters = kfp_api.posts("/apis/v2beta1/runs")[0]["body"]["runtime_config"]["parameters"]
    assert parameters == {"data_root": "2024", "min_accuracy": 1.0}
    assert isinstance(parameters["min_accuracy"], float)


def test_submit_v2beta1_again_adds_a_version_to_the_same_pipeline_and_reuses_the_experiment(kfp2_package):
    with FakeKfp() as kfp_api:
        first = submit.submit(kfp2_package, kfp_api.url, "nightly")
        second = submit.submit(kfp2_package, kfp_api.url, "nightly")
    assert first.pipeline_id == second.pipeline_id and first.version_id != second.version_id
    assert len(kfp_api.posts("/apis/v2beta1/experiments")) == 1
    version = kfp_api.posts("/apis/v2beta1/pipelines/upload_version")[0]
    assert version["query"]["pipelineid"] == [first.pipeline_id]
    runs = kfp_api.posts("/apis/v2beta1/runs")
    assert runs[1]["body"]["pipeline_version_reference"]["pipeline_version_id"] == second.version_id
    assert runs[0]["body"]["runtime_config"]["parameters"] == {}  # the spec's defaults apply


def test_submit_v2beta1_with_cron_creates_a_recurring_run(kfp2_package):
    with FakeKfp() as kfp_api:
        result = submit.submit(kfp2_package, kfp_api.url, "nightly", cron="30 2 * * *", params=["eval_steps=3"])
    assert result.recurring_run_id == "recurring-1" and result.run_id is None
    job = kfp_api.posts("/apis/v2beta1/recurringruns")[0]["body"]
    assert job["trigger"] == {"cron_schedule": {"cron": "0 30 2 * * *"}}
    assert job["mode"] == "ENABLE" and int(job["max_concurrency"]) == 1
    assert job["runtime_config"]["parameters"] == {"eval_steps": 3}
    assert job["pipeline_version_reference"]["pipeline_id"] == result.pipeline_id
    assert not kfp_api.posts("/apis/v2beta1/runs")


def test_submit_v2beta1_refuses_bad_values_and_vertex_specs_before_anything_is_sent(kfp2_package, tmp_path):
    with FakeKfp() as kfp_api:
        with pytest.raises(ConfigError, match=r"^--param train_steps=1\.5: train_steps is an integer parameter; "
                                              r"give a whole number, e\.g\. --param train_steps=300$"):
            submit.submit(kfp2_package, kfp_api.url, "e", params=["train_steps=1.5"])
        with pytest.raises(ConfigError, match=r"--param min_accuracy=high: min_accuracy is a float parameter; "
                                              r"give a number, e\.g\. --param min_accuracy=-1\.0"):
            submit.submit(kfp2_package, kfp_api.url, "e", params=["min_accuracy=high"])
        vertex = kubeflow_runner.compile_pipeline(PipelineConfig(), target="vertex", output=str(tmp_path / "v.json"),
                                                  image="registry.example/k:1", pipeline_root="gs://b/r")
        with pytest.raises(ConfigError, match="for Vertex AI Pipelines.*--target kfp2"):
            submit.submit(vertex, kfp_api.url, "e")
    assert kfp_api.requests == []


def test_submit_v2beta1_unreachable_endpoint_is_a_clear_error(kfp2_package):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match=f"cannot reach the Kubeflow Pipelines API at http://127.0.0.1:{port}"):
        submit.submit(kfp2_package, f"http://127.0.0.1:{port}", "e")
