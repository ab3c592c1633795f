"""A number to predict, end to end: `infer-schema` on an integer-valued target, the built-in model
and a prototype shaped like TensorFlow's "Basic regression" tutorial, each trained as an Estimator,
evaluated by TFMA (held to the mean predictor), pushed, served and `predict`ed; a classifier's head
on a numeric label refused before training; and the default gates refusing a classifier that only
learned the base rate of imbalanced data."""
from __future__ import annotations

import csv
import glob
import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pipeline import config as config_lib
from pipeline.report import metadata, thresholds

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(270)]

PROJECT = config_lib.PROJECT_ROOT
DATA = os.path.join(PROJECT, "data", "progression")
CSV = os.path.join(DATA, "progression.csv")
SCHEMA = os.path.join(PROJECT, "schemas", "progression", "schema.pbtxt")  # as infer-schema writes it
LABEL = "progression"
STEPS = "400"

PROTOTYPES = '''\
import tensorflow as tf


def softmax_head(train_dataset):
    model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"),
                                 tf.keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def base_rate_only():
    """Sees its input through a frozen zero kernel: it can learn the positives' rate and nothing else."""
    x = tf.keras.Input(shape=(1,), name="noise")
    blind = tf.keras.layers.Dense(1, kernel_initializer="zeros", use_bias=False, trainable=False)(x)
    model = tf.keras.Model(x, tf.keras.layers.Dense(1, activation="sigmoid")(blind))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    return model
'''


def cli(*args, timeout=1500):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          cwd=PROJECT, timeout=timeout)


def labels_of(path):
    with open(path, newline="") as f:
        return np.array([float(row[LABEL]) for row in csv.DictReader(f)])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("regression")


@pytest.fixture(scope="module")
def schema(work):
    """The schema `infer-schema` writes for the bundled regression CSV, and what it printed."""
    path = work / "schema.pbtxt"
    done = cli("infer-schema", "--data-root", DATA, "--output", str(path), "--label", LABEL,
               "--output-dir", str(work / "infer"), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return str(path), done.stdout


def _run(work, name, *extra):
    out = work / name
    done = cli("run", "--data-root", DATA, "--schema", SCHEMA, "--label", LABEL, "--output-dir", str(out),
               "--train-steps", STEPS, *extra)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (work / f"{name}.terminal.txt").write_text(done.stdout)
    config = config_lib.PipelineConfig(data_root=DATA, schema_path=SCHEMA, label=LABEL, output_dir=str(out))
    return config, metadata.summarize(config), done.stdout


@pytest.fixture(scope="module")
def builtin(work):
    return _run(work, "builtin")


@pytest.fixture(scope="module")
def prototype(work):
    return _run(work, "prototype", "--model", "examples/basic_regression.py:build_model",
                "--hparam", "learning_rate=0.01")


def test_infer_schema_takes_an_integer_valued_target_for_a_number_to_predict(schema):
    from components.trainer.features import features_from_schema, load_schema
    path, printed = schema
    assert ("label 'progression': regression (whole numbers from 1 to 60: more than 20 distinct values; "
            "the schema gives it no categorical domain). To change it, rerun with --task classification") in printed
    label = features_from_schema(load_schema(path), LABEL).label
    assert label.is_regression and label.stored_as_int
    # The checked-in schema the runs below use is this one.
    body = lambda text: text.split("\n", 1)[1]  # noqa: E731  (the first line names the data folder)
    assert body(open(path).read()) == body(open(SCHEMA).read())


def eval_split(config):
    """(serialized tf.Examples, labels) of the run's eval split as CsvExampleGen wrote it."""
    import tensorflow as tf
    files = sorted(glob.glob(os.path.join(config.pipeline_root, "CsvExampleGen", "examples", "*", "Split-eval", "*.gz")))
    serialized = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    labels = np.array([tf.train.Example.FromString(s).features.feature[LABEL].int64_list.value[0]
                       for s in serialized], dtype=float)
    return serialized, labels


def train_mean(config):
    import tensorflow as tf
    files = sorted(glob.glob(os.path.join(config.pipeline_root, "CsvExampleGen", "examples", "*", "Split-train", "*.gz")))
    return float(np.mean([tf.train.Example.FromString(r.numpy()).features.feature[LABEL].int64_list.value[0]
                          for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]))


@pytest.mark.parametrize("run", ["builtin", "prototype"])
def test_a_regression_model_beats_the_mean_predictor_and_is_pushed(run, request):
    import tensorflow as tf
    config, summary, printed = request.getfixturevalue(run)
    assert summary.blessed and summary.pushed, printed
    serialized, labels = eval_split(config)
    model = tf.saved_model.load(summary.pushed_path)
    predictions = model.signatures["serving_default"](examples=tf.constant(serialized))["predictions"].numpy()[:, 0]
    mae = float(np.abs(predictions - labels).mean())
    mean_mae = float(np.abs(labels - train_mean(config)).mean())
    # TFMA's MAE and RMSE are those of the pushed model's own predictions, recomputed here.
    assert summary.metrics["mae"] == pytest.approx(mae, rel=1e-4)
    assert summary.metrics["rmse"] == pytest.approx(float(np.sqrt(np.square(predictions - labels).mean())), rel=1e-4)
    assert mae < 0.99 * mean_mae
    gate = next(c for c in summary.checks if c.metric == "mae" and c.kind == "value")
    assert gate.passed and float(gate.bound.split()[-1]) == pytest.approx(0.99 * mean_mae, rel=1e-4)
    assert f"always predicting the training split's mean {train_mean(config):.4g}: {mean_mae:.4f}" in printed
    print(f"{run}: eval MAE {mae:.3f}, mean predictor's MAE {mean_mae:.3f}")


def test_predict_writes_the_predicted_number(prototype, tmp_path):
    config, summary, _ = prototype
    out = tmp_path / "scored.csv"
    done = cli("predict", "--input", CSV, "--output", str(out), "--output-dir", config.output_dir, timeout=600)
    assert done.returncode == 0, done.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 500 and "predicted_progression" in rows[0]
    predicted = np.array([float(r["predicted_progression"]) for r in rows])
    actual = labels_of(CSV)
    assert np.abs(predicted - actual).mean() < np.abs(actual - actual.mean()).mean()


def test_serve_answers_the_predicted_number_through_both_signatures(prototype, tmp_path):
    import base64
    import tensorflow as tf
    from pipeline.serving import serve_env
    from tests.pipeline.serving.conftest import Server
    config, summary, _ = prototype
    serve_env.ensure()
    serialized, _ = eval_split(config)
    expected = tf.saved_model.load(summary.pushed_path).signatures["serving_default"](
        examples=tf.constant(serialized[:3]))["predictions"].numpy()[:, 0]
    rows = []
    for s in serialized[:3]:
        feature = tf.train.Example.FromString(s).features.feature
        rows.append({"age": feature["age"].int64_list.value[0],
                     **{k: feature[k].float_list.value[0] for k in ("bmi", "bp", "glucose", "cholesterol")}})
    server = Server(config.output_dir, str(tmp_path / "serve.log"))
    try:
        server.wait_ready()
        status, raw = server.predict({"signature_name": "serving_raw", "instances": rows})
        assert status == 200, raw
        status, default = server.predict({"instances": [{"b64": base64.b64encode(s).decode()} for s in serialized[:3]]})
        assert status == 200, default
    finally:
        server.stop()
    # One output: TF Serving's row format gives the bare value per row.
    assert np.allclose(np.array(raw["predictions"]).reshape(-1), expected, rtol=1e-4)
    assert np.allclose(np.array(default["predictions"]).reshape(-1), expected, rtol=1e-4)


def test_a_softmax_head_on_a_numeric_label_is_refused_before_training(builtin, tmp_path):
    config, summary, _ = builtin
    out = tmp_path / "out"
    shutil.copytree(config.output_dir, out)  # components before the Trainer come from the cache
    pushed_before = sorted(os.listdir(out / "serving_model"))
    (tmp_path / "protos.py").write_text(PROTOTYPES)
    done = cli("run", "--data-root", DATA, "--schema", config.schema_path, "--label", LABEL,
               "--output-dir", str(out), "--train-steps", STEPS, "--model", f"{tmp_path / 'protos.py'}:softmax_head")
    assert done.returncode == 1, done.stdout[-2000:]
    assert "the model's output has shape (None, 3), but the label is a number to predict" in done.stderr
    assert "Dense(1) (no activation)" in done.stderr and "Traceback" not in done.stderr
    assert sorted(os.listdir(out / "serving_model")) == pushed_before


def test_a_base_rate_only_classifier_on_imbalanced_data_is_not_blessed(tmp_path):
    rng = random.Random(5)
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "rare.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["noise", "rare"])
        for i in range(1200):
            writer.writerow([round(rng.gauss(0, 1), 4), 1 if i % 20 == 0 else 0])  # 5% positives
    schema = tmp_path / "schema.pbtxt"
    done = cli("infer-schema", "--data-root", str(data), "--output", str(schema), "--label", "rare",
               "--output-dir", str(tmp_path / "infer"), timeout=600)
    assert done.returncode == 0 and "label 'rare': classification" in done.stdout, done.stdout + done.stderr
    (tmp_path / "protos.py").write_text(PROTOTYPES)
    out = tmp_path / "out"
    done = cli("run", "--data-root", str(data), "--schema", str(schema), "--label", "rare",
               "--output-dir", str(out), "--train-steps", "300", "--model", f"{tmp_path / 'protos.py'}:base_rate_only")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    config = config_lib.PipelineConfig(data_root=str(data), schema_path=str(schema), label="rare", output_dir=str(out))
    summary = metadata.summarize(config)
    assert summary.blessed is False and not summary.pushed
    failed = {c.metric: c for c in summary.checks if c.passed is False}
    assert set(failed) == {"accuracy", "auc"}, summary.checks
    assert summary.metrics["accuracy"] > 0.9 and summary.metrics["auc"] == pytest.approx(0.5, abs=1e-6)
    # The decision line names the baselines it failed to beat.
    assert "always answering the majority class '0': 0.9" in printed_line(done.stdout, "blessed: no")
    assert "a model with no skill: 0.5, + 0.01" in printed_line(done.stdout, "blessed: no")
    assert "pushed: nothing (the model was not blessed)" in done.stdout
    assert not glob.glob(str(out / "serving_model" / "[0-9]*"))


def printed_line(text, start):
    return next(line for line in text.splitlines() if line.startswith(start))


def test_the_same_graph_compiled_for_kfp2_runs_under_run_compiled_held_to_the_mean_predictor(tmp_path):
    """Kubeflow: the regression graph compiled for KFP 2.x, each step run by `run-compiled` as a
    cluster would; the pushed model's predictions, recomputed here, beat the training mean."""
    import tensorflow as tf
    from pipeline.kubeflow import runner as kubeflow_runner
    from pipeline.kubeflow.launcher import records as run_records
    config = config_lib.PipelineConfig(data_root=DATA, schema_path=SCHEMA, label=LABEL, train_steps=int(STEPS))
    spec = kubeflow_runner.compile_pipeline(config, target="kfp2", output=str(tmp_path / "regression.json"),
                                            image="registry.example/keras-tfx:test",
                                            pipeline_root="gs://no-such-bucket/regression", data_root=DATA,
                                            schema_uri=SCHEMA)
    root = tmp_path / "root"
    done = cli("run-compiled", spec, "--pipeline-root", str(root))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (record,) = run_records.load_records(str(root))
    assert record["state"] == "succeeded"

    def artifact(task, key):
        return record["tasks"][task]["outputs"][key][0]
    assert artifact(config_lib.EVALUATOR, "blessing")["metadata"]["blessed"] == 1
    pushed = artifact(config_lib.PUSHER, "pushed_model")["metadata"]
    assert pushed["pushed"] == 1
    examples = artifact(config_lib.EXAMPLE_GEN, "examples")["uri"]

    def split(name):
        files = sorted(glob.glob(os.path.join(examples, f"Split-{name}", "*.gz")))
        serialized = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
        labels = np.array([tf.train.Example.FromString(s).features.feature[LABEL].int64_list.value[0]
                           for s in serialized], dtype=float)
        return serialized, labels
    serialized, labels = split("eval")
    _, train_labels = split("train")
    model = tf.saved_model.load(pushed["pushed_destination"])
    predictions = model.signatures["serving_default"](examples=tf.constant(serialized))["predictions"].numpy()[:, 0]
    mae = float(np.abs(predictions - labels).mean())
    mean_mae = float(np.abs(labels - train_labels.mean()).mean())
    assert mae < 0.99 * mean_mae
    # TFMA's MAE in the compiled run is the pushed model's, and its gate is the mean predictor's.
    evaluation = artifact(config_lib.EVALUATOR, "evaluation")["uri"]
    assert thresholds.sliced_metrics(evaluation)["overall"]["model"]["mae"] == pytest.approx(mae, rel=1e-4)
    with open(os.path.join(evaluation, "gates.json")) as f:
        assert json.load(f)["mae"]["bound"] == pytest.approx(0.99 * mean_mae, rel=1e-4)
