"""The compiled kfp2 pipeline run step by step here by open-source KFP 2.x's rules (`run-compiled`),
against a local run. (tests/e2e/test_image.py runs a Vertex spec, its ExampleGen driver included,
inside the built image; the unit tests in tests/pipeline/kubeflow/ check both backends' rules.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from components.exit_handler import EXIT_HANDLER
from pipeline import config as config_lib
from pipeline.kubeflow import compiled_exit, runner as kubeflow_runner
from pipeline.kubeflow.launcher import records as run_records
from pipeline.local import runner as local_runner
from pipeline.report import metadata, thresholds
from tests.pipeline.test_notify import _Hook

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(300)]

IMAGE = "registry.example/keras-tfx:test"
COMPILED_ROOT = "gs://no-such-bucket/keras-tfx"  # what a user compiles for; run-compiled maps it
TRAIN_STEPS = 150
SEED = 3


def run_compiled_cli(spec: str, root: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "run-compiled", spec, "--pipeline-root", root,
                           *extra], capture_output=True, text=True, cwd=config_lib.PROJECT_ROOT, check=False)


def records(root: str):
    return run_records.load_records(root)


def output(record, task: str, key: str):
    artifacts = record["tasks"][task]["outputs"][key]
    return artifacts[0] if artifacts else None


@pytest.fixture(scope="module")
def config(small_taxi_dir, tmp_path_factory):
    return config_lib.PipelineConfig(data_root=small_taxi_dir, train_steps=TRAIN_STEPS, seed=SEED,
                                     output_dir=str(tmp_path_factory.mktemp("local") / "out"))


@pytest.fixture(scope="module")
def target():
    return "kfp2"


@pytest.fixture(scope="module")
def spec(config, small_taxi_dir, tmp_path_factory, target):
    """Compiled as for a cluster, except that the data and schema are local paths."""
    path = str(tmp_path_factory.mktemp("compiled") / f"keras-tfx-{target}.json")
    return kubeflow_runner.compile_pipeline(config, target=target, output=path, image=IMAGE,
                                            pipeline_root=COMPILED_ROOT, data_root=small_taxi_dir,
                                            schema_uri=config.schema_path)


def spec_tasks(spec):
    """The pipeline's tasks (those of the sub-DAG that the exit handler guards)."""
    with open(spec) as f:
        document = json.load(f)
    return compiled_exit.pipeline_tasks(document.get("pipelineSpec", document))


@pytest.fixture(scope="module")
def hook():
    """A webhook on 127.0.0.1: the run parameter notify_urls of the runs below."""
    server = _Hook()
    yield server
    server.close()


@pytest.fixture(scope="module")
def kfp_root(tmp_path_factory, target):
    return str(tmp_path_factory.mktemp(f"kfp-{target}") / "root")


@pytest.fixture(scope="module")
def first_run(spec, kfp_root, hook):
    result = run_compiled_cli(spec, kfp_root, "--param", f"notify_urls={hook.url}")
    assert result.returncode == 0, result.stderr[-3000:]
    return result, records(kfp_root)[-1]


def test_every_task_of_the_spec_runs_and_the_model_is_pushed_under_the_local_root(spec, first_run, kfp_root,
                                                                                  target):
    result, record = first_run
    tasks = spec_tasks(spec)
    assert record["state"] == "succeeded" and record["backend"] == target
    assert f"by {target}'s rules" in result.stdout
    assert {name: step["state"] for name, step in record["tasks"].items()} == {
        **{name: "ran" for name in tasks}, EXIT_HANDLER: "ran"}
    assert record["order"][-1] == EXIT_HANDLER
    pushed = output(record, config_lib.PUSHER, "pushed_model")["metadata"]
    assert pushed["pushed"] == 1
    assert pushed["pushed_destination"].startswith(os.path.join(kfp_root, "serving_model") + "/")
    assert os.path.isfile(os.path.join(pushed["pushed_destination"], "saved_model.pb"))
    assert "baseline: none" in result.stdout and "blessed: yes" in result.stdout
    # The drift step ran, with nothing served to compare with; the push record names the statistics.
    assert output(record, config_lib.DRIFT_GUARD, "drift")["metadata"]["drift_status"] == "no_baseline"
    assert "drift: not checked (no_baseline)" in result.stdout
    statistics = output(record, config_lib.STATISTICS_GEN, "statistics")["uri"]
    version = os.path.basename(pushed["pushed_destination"])
    with open(os.path.join(kfp_root, "serving_model-records", f"{version}.json")) as f:
        assert json.load(f)["statistics_uri"] == statistics
    # The serving check ran as its own step, blessed the model, and the Pusher took its blessing.
    check = output(record, config_lib.SERVING_CHECK, "blessing")
    assert check["metadata"]["blessed"] == 1 and check["metadata"]["reason"] == ""
    assert check["metadata"]["load_seconds"] > 0 and check["metadata"]["serving_raw_p99_ms_batch_100"] > 0
    assert os.path.isfile(os.path.join(check["uri"], "INFRA_BLESSED"))
    assert any(line.startswith("serving check: passed: loaded in ") for line in result.stdout.splitlines()), \
        result.stdout
    with open(os.path.join(kfp_root, run_records.RUNS_DIR, record["run_id"], config_lib.PUSHER,
                           "executor_input.json")) as f:
        pusher_inputs = json.load(f)["inputs"]["artifacts"]
    assert [a["uri"] for a in pusher_inputs["infra_blessing"]["artifacts"]] == [check["uri"]]
    gen_dir = os.path.join(kfp_root, run_records.RUNS_DIR, record["run_id"], config_lib.EXAMPLE_GEN)
    with open(os.path.join(gen_dir, "executor_input.json")) as f:
        gen_inputs = json.load(f)["inputs"]
    # KFP 2.x runs no lifecycle hook and sends parameterValues only; the step runs without them.
    assert set(gen_inputs) == {"parameterValues", "artifacts"}
    assert "input_fingerprint" not in gen_inputs["parameterValues"]
    assert not os.path.exists(os.path.join(gen_dir, "driver_output.json"))
    with open(os.path.join(kfp_root, run_records.RUNS_DIR, record["run_id"], "logs",
                           f"{config_lib.TRAINER}.log")) as f:
        assert '"parameterValues"' in f.read()


@pytest.fixture(scope="module")
def local_metrics(config):
    return metadata.summarize(local_runner.run(config)).metrics


def test_pushed_model_has_the_eval_metrics_of_a_local_run_with_the_same_config_and_seed(local_metrics, first_run):
    _, record = first_run
    compiled = thresholds.sliced_metrics(output(record, config_lib.EVALUATOR, "evaluation")["uri"])["overall"]["model"]
    assert set(compiled) == set(local_metrics)
    for name, value in local_metrics.items():
        assert compiled[name] == pytest.approx(value, abs=1e-6), name


def test_a_second_run_uses_the_first_runs_blessed_model_as_its_baseline(spec, first_run, kfp_root):
    _, first = first_run
    result = run_compiled_cli(spec, kfp_root)
    assert result.returncode == 0, result.stderr[-3000:]
    second = records(kfp_root)[-1]
    first_model = output(first, config_lib.TRAINER, "model")
    first_push = output(first, config_lib.PUSHER, "pushed_model")["metadata"]
    # The baseline step found the first run's push record, naming the first run's Trainer model,
    # and copied that pushed version.
    baseline = output(second, config_lib.LATEST_PUSHED_MODEL, "model")
    assert baseline["metadata"]["baseline_found"] == 1
    assert baseline["metadata"]["source_model_uri"] == first_model["uri"]
    assert baseline["metadata"]["pushed_version"] == os.path.basename(first_push["pushed_destination"])
    with open(os.path.join(baseline["uri"], "Format-Serving", "saved_model.pb"), "rb") as copy, \
            open(os.path.join(first_push["pushed_destination"], "saved_model.pb"), "rb") as pushed:
        assert copy.read() == pushed.read()
    # Same inputs as before: served from the cache, as KFP would; the baseline step never is, and
    # the Evaluator runs with a baseline.
    assert second["tasks"][config_lib.TRAINER]["state"] == "cached"
    assert second["tasks"][config_lib.LATEST_PUSHED_MODEL]["state"] == "ran"
    assert second["tasks"][config_lib.EVALUATOR]["state"] == "ran"
    with open(os.path.join(kfp_root, run_records.RUNS_DIR, second["run_id"], config_lib.EVALUATOR,
                           "executor_input.json")) as f:
        evaluator_input = json.load(f)["inputs"]["artifacts"]
    assert [a["uri"] for a in evaluator_input["baseline_model"]["artifacts"]] == [baseline["uri"]]
    assert [a["uri"] for a in evaluator_input["model"]["artifacts"]] == [first_model["uri"]]
    blessing = output(second, config_lib.EVALUATOR, "blessing")["metadata"]
    assert blessing["baseline_model"] == baseline["uri"] and blessing["blessed"] == 1
    # TFMA compared the two: the metrics have a baseline and a diff (zero: the same model).
    metrics = thresholds.sliced_metrics(output(second, config_lib.EVALUATOR, "evaluation")["uri"])
    assert metrics["overall"]["diff"]["accuracy"] == pytest.approx(0, abs=1e-9)
    assert f"baseline: version {baseline['metadata']['pushed_version']}" in result.stdout
    # The drift step reran (its baseline input is new each run) and compared the same data: no drift.
    assert second["tasks"][config_lib.DRIFT_GUARD]["state"] == "ran"
    drift = output(second, config_lib.DRIFT_GUARD, "drift")
    assert drift["metadata"]["drift_status"] == "passed"
    assert drift["metadata"]["served_version"] == baseline["metadata"]["pushed_version"]
    with open(os.path.join(drift["uri"], "drift.json")) as f:
        assert all(feature["distance"] == pytest.approx(0, abs=1e-9) for feature in json.load(f)["features"])
    assert (f"drift: none (compared with the data of served version {baseline['metadata']['pushed_version']})"
            in result.stdout)
    # Blessed again, but it is the model already served: no second version, and the Pusher's
    # artifact says which version serves it (as a cluster run, where the baseline step reruns).
    first_version = os.path.basename(first_push["pushed_destination"])
    push = output(second, config_lib.PUSHER, "pushed_model")["metadata"]
    assert push["pushed"] == 0 and push["serving_version"] == first_version
    assert f"already served as version {first_version}" in push["not_pushed_reason"]
    assert sorted(v for v in os.listdir(os.path.join(kfp_root, "serving_model")) if v.isdigit()) == [first_version]
    assert f"the same model is already served as version {first_version}" in result.stdout


def test_a_step_that_cannot_start_stops_the_run_with_its_name_and_log_tail(spec, tmp_path, hook):
    with open(spec) as f:
        job = json.load(f)
    executor = job.get("pipelineSpec", job)["deploymentSpec"]["executors"][f"{config_lib.EXAMPLE_GEN}_executor"]
    args = executor["container"]["args"]
    args[args.index("--executor_class_path") + 1] = "components.no_such_module.Executor"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(job))
    root = str(tmp_path / "root")

    result = run_compiled_cli(str(broken), root, "--param", f"notify_urls={hook.url}")
    assert result.returncode == 1
    assert f"step {config_lib.EXAMPLE_GEN} failed with exit code 1" in result.stderr
    assert "No module named 'components.no_such_module'" in result.stderr
    assert config_lib.TRAINER in result.stderr.split("not run:")[1].splitlines()[0]
    record = records(root)[-1]
    assert record["state"] == "failed" and record["failure"]["task"] == config_lib.EXAMPLE_GEN
    assert list(record["tasks"]) == [EXIT_HANDLER]  # it was the first step: nothing else ran but the exit handler
    assert not os.path.exists(os.path.join(root, "serving_model"))
    # The exit handler still ran, and posted the failure with the step and its error.
    (body,) = [body for _, body in hook.bodies if body["output_dir"] == root]
    assert body["status"] == "failed" and body["failed_component"] == config_lib.EXAMPLE_GEN
    assert "No module named 'components.no_such_module'" in body["reason"]
    assert body["data_root"] == record["parameters"]["data_root"] and body["run_id"] == record["run_id"]
    assert f"FAILED in {config_lib.EXAMPLE_GEN}; nothing pushed: step {config_lib.EXAMPLE_GEN} failed" in body["text"]


def test_a_bad_parameter_fails_in_its_step_or_before_anything_runs(spec, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    root = str(tmp_path / "root")
    result = run_compiled_cli(spec, root, "--param", f"data_root={empty}")
    assert result.returncode == 1
    assert f"step {config_lib.EXAMPLE_GEN} failed" in result.stderr
    assert "does not match any files" in result.stderr
    assert list(records(root)[-1]["tasks"]) == [EXIT_HANDLER]

    refused = run_compiled_cli(spec, str(tmp_path / "other"), "--param", "train_steps=many")
    assert refused.returncode == 2
    assert "--param train_steps=many: train_steps is an integer parameter; give a whole number" in refused.stderr
    assert not os.path.exists(tmp_path / "other")


def test_the_exit_handler_posts_the_pushed_version_to_the_notify_urls_parameter(first_run, hook, kfp_root):
    """The compiled exit handler ran after the last step, with KFP's final status, and posted once."""
    result, record = first_run
    pushed = output(record, config_lib.PUSHER, "pushed_model")["metadata"]
    bodies = [body for _, body in hook.bodies if body["output_dir"] == kfp_root]
    assert len(bodies) == 1, hook.bodies
    body = bodies[0]
    version = os.path.basename(pushed["pushed_destination"])
    assert body["status"] == "pushed" and body["versions"] == {"pushed": version, "serving": version}
    assert body["run_id"] == record["run_id"] and body["pipeline"] == "keras-tfx"
    assert body["text"].startswith("keras-tfx on ") and body["text"].endswith(f"pushed version {version}")
    assert f"exit handler {EXIT_HANDLER}" in result.stdout and "posted the outcome to" in result.stdout
    status = _final_status(os.path.join(kfp_root, run_records.RUNS_DIR, record["run_id"], EXIT_HANDLER,
                                        "executor_input.json"))
    assert status["state"] == "SUCCEEDED" and status["pipelineTaskName"] == "tfx-dag"


def _final_status(path):
    with open(path) as f:
        inputs = json.load(f)["inputs"]
    value = (inputs.get("parameterValues") or inputs.get("parameters"))["final_status"]
    return json.loads(value["stringValue"] if isinstance(value, dict) else value)


def test_a_drifted_span_stops_the_compiled_run_at_the_drift_step(spec, first_run, kfp_root, small_taxi_dir,
                                                                  tmp_path):
    import csv
    import statistics
    with open(os.path.join(small_taxi_dir, "data.csv"), newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    shift = 5 * statistics.pstdev(float(r["fare"]) for r in rows)
    (tmp_path / "drifted").mkdir()
    with open(tmp_path / "drifted" / "data.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(dict(r, fare=f"{float(r['fare']) + shift:.2f}") for r in rows)
    served = sorted(os.listdir(os.path.join(kfp_root, "serving_model")))
    result = run_compiled_cli(spec, kfp_root, "--param", f"data_root={tmp_path / 'drifted'}")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"step {config_lib.DRIFT_GUARD} failed with exit code 1" in result.stderr
    assert "feature 'fare': Jensen-Shannon divergence" in result.stderr
    assert config_lib.TRAINER in result.stderr.split("not run:")[1].splitlines()[0]
    record = records(kfp_root)[-1]
    assert record["state"] == "failed" and record["failure"]["task"] == config_lib.DRIFT_GUARD
    assert config_lib.TRAINER not in record["tasks"]
    assert sorted(os.listdir(os.path.join(kfp_root, "serving_model"))) == served
