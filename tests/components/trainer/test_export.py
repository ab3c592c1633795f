"""The exported model's two signatures and TF Serving's warm-up file, checked from outside:
the SavedModel loaded with tf.saved_model.load, raw rows built here from CSV rows and the
schema's types, the warm-up file read with tensorflow_serving's protos."""
from __future__ import annotations

import json
import math
import os
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_serving.apis import prediction_log_pb2

from components.trainer import constants, export, task, user_model
from components.trainer.features import FeatureSet
from pipeline import config as config_lib
from pipeline.serving import model as serving
from tests.components.trainer.test_task import _fn_args
from tests.conftest import read_taxi_rows

# What the README tells a JSON client to send for a missing value.
MISSING = {tf.float32: math.nan, tf.int64: -(2**63), tf.string: ""}
SCHEMA_DTYPES = {schema_pb2.FLOAT: tf.float32, schema_pb2.INT: tf.int64, schema_pb2.BYTES: tf.string}


def schema_dtypes(schema_path):
    with open(schema_path) as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    return {f.name: SCHEMA_DTYPES[f.type] for f in schema.feature}


def rows_with_gaps():
    """Every 500th taxi row, plus rows with a float, an int, a categorical int and a string
    missing, and one with every feature missing."""
    _, rows = read_taxi_rows(every=500)
    gaps = [dict(rows[0], fare=""), dict(rows[1], trip_seconds=""),
            dict(rows[2], dropoff_census_tract="", pickup_community_area=""),
            dict(rows[3], company="", payment_type=""), {k: "" for k in rows[0]}]
    return rows + gaps


def request_body(rows, dtypes, names) -> str:
    """The rows as a JSON client sends them to TF Serving's REST API (row format)."""
    instances = []
    for row in rows:
        instance = {}
        for name in names:
            cell, dtype = row.get(name, ""), dtypes[name]
            instance[name] = (MISSING[dtype] if cell == "" else cell if dtype == tf.string
                              else int(cell) if dtype == tf.int64 else float(cell))
        instances.append(instance)
    return json.dumps({"signature_name": "serving_raw", "instances": instances})


def instances(rows, dtypes, names):
    """The columns TF Serving's REST API makes of a request body's instances."""
    parsed = json.loads(request_body(rows, dtypes, names))["instances"]  # NaN: a literal
    return {name: tf.constant([i[name].encode() if dtypes[name] == tf.string else i[name]
                               for i in parsed], dtypes[name]) for name in names}


def both_signatures(model_dir, rows, features, schema_path):
    loaded = tf.saved_model.load(model_dir)
    raw = loaded.signatures["serving_raw"]
    names = list(raw.structured_input_signature[1])
    from_examples = loaded.signatures["serving_default"](examples=tf.constant(
        [serving.to_example(r, features).SerializeToString() for r in rows]))
    from_raw = raw(**instances(rows, schema_dtypes(schema_path), names))
    return from_examples, from_raw


def check_raw_signature(model_dir, rows, features, schema_path, expected_inputs, classes):
    loaded = tf.saved_model.load(model_dir)
    assert set(loaded.signatures) == {"serving_default", "serving_raw"}
    raw = loaded.signatures["serving_raw"]
    dtypes = schema_dtypes(schema_path)
    specs = raw.structured_input_signature[1]
    assert sorted(specs) == sorted(expected_inputs)
    for name, spec in specs.items():
        assert spec.dtype == dtypes[name] and spec.shape.as_list() == [None], (name, spec)
    assert set(raw.structured_outputs) == {"probabilities", "class_name", "class_id"}

    from_examples, from_raw = both_signatures(model_dir, rows, features, schema_path)
    np.testing.assert_allclose(from_raw["probabilities"].numpy(),
                               from_examples["probabilities"].numpy(), rtol=1e-6, atol=1e-7)
    probabilities = from_raw["probabilities"].numpy()
    ids = from_raw["class_id"].numpy()
    expected_ids = (probabilities[:, 0] >= 0.5).astype(int) if len(classes) == 2 else probabilities.argmax(1)
    np.testing.assert_array_equal(ids, expected_ids)
    assert [c.decode() for c in from_raw["class_name"].numpy()] == [classes[i] for i in expected_ids]
    return probabilities


def read_warmup(model_dir):
    path = os.path.join(model_dir, "assets.extra", "tf_serving_warmup_requests")
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(path)]  # uncompressed, as TF Serving reads it


def eval_records(records_dir):
    files = sorted(tf.io.gfile.glob(os.path.join(records_dir, "Split-eval", "*")))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def check_warmup(model_dir, eval_rows, raw_inputs):
    """Replays every warm-up request through the loaded model, as TF Serving does at load."""
    logs = read_warmup(model_dir)
    loaded = tf.saved_model.load(model_dir)
    n = min(100, len(eval_rows))
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == [
        "serving_default", "serving_raw"] * 2
    answers, sizes = [], []
    for log in logs:
        request = log.predict_log.request
        tensors = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        signature = loaded.signatures[request.model_spec.signature_name]
        outputs = signature(**tensors)
        probabilities = outputs["probabilities"].numpy()
        assert np.all(np.isfinite(probabilities)) and np.all((probabilities >= 0) & (probabilities <= 1))
        answers.append(probabilities)
        sizes.append(len(next(iter(tensors.values()))))
        if request.model_spec.signature_name == "serving_raw":
            assert sorted(tensors) == sorted(raw_inputs)
        else:
            assert list(tensors) == ["examples"]
            assert list(tensors["examples"].numpy()) == eval_rows[:len(tensors["examples"])]
    assert sizes == [1, 1, n, n]
    for examples_answer, raw_answer in zip(answers[::2], answers[1::2]):
        np.testing.assert_allclose(raw_answer, examples_answer, rtol=1e-6, atol=1e-7)


@pytest.fixture(scope="module")
def builtin_model(tmp_path_factory, taxi_records):
    tmp_path = tmp_path_factory.mktemp("builtin_export")
    fn_args = _fn_args(tmp_path, taxi_records, config_lib.DEFAULT_SCHEMA, "big_tipper")
    task.run_fn(fn_args)
    return fn_args.serving_model_dir


def test_the_built_in_model_serves_raw_features_as_it_serves_tf_examples(builtin_model, taxi_features):
    probabilities = check_raw_signature(
        builtin_model, rows_with_gaps(), taxi_features, config_lib.DEFAULT_SCHEMA,
        expected_inputs=taxi_features.names, classes=["0", "1"])
    # A missing value is a value of its own, not an error: the all-missing row is scored too.
    assert probabilities.shape == (len(rows_with_gaps()), 1) and np.all(np.isfinite(probabilities))


def test_the_built_in_models_warmup_requests_answer_alike_through_both_signatures(
        builtin_model, taxi_records, taxi_features):
    check_warmup(builtin_model, eval_records(taxi_records), taxi_features.names)


PROTOTYPE = '''\
import tensorflow as tf


def build(train_dataset):
    """Three inputs named unlike the columns: a float, an int column (fed as float32) and a string."""
    distance = tf.keras.Input(shape=(1,), name="distance")
    seconds = tf.keras.Input(shape=(1,), name="seconds")
    firm = tf.keras.Input(shape=(1,), dtype=tf.string, name="firm")
    firms = tf.keras.layers.StringLookup()
    firms.adapt(train_dataset.map(lambda f: f["company"]))
    no_nan = lambda x: tf.where(tf.math.is_nan(x), tf.fill(tf.shape(x), -1.0), x)
    numbers = tf.keras.layers.Concatenate()([
        tf.keras.layers.Lambda(no_nan)(distance),
        tf.keras.layers.Lambda(lambda x: tf.where(tf.math.is_nan(x), -1.0, x / 1000.0))(seconds)])
    embedded = tf.keras.layers.Flatten()(tf.keras.layers.Embedding(firms.vocabulary_size(), 4)(firms(firm)))
    x = tf.keras.layers.Dense(8, activation="relu")(tf.keras.layers.Concatenate()([numbers, embedded]))
    model = tf.keras.Model([distance, seconds, firm], tf.keras.layers.Dense(1)(x))
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    return model
'''


@pytest.fixture(scope="module")
def users_model(tmp_path_factory, taxi_records):
    tmp_path = tmp_path_factory.mktemp("users_export")
    (tmp_path / "proto.py").write_text(textwrap.dedent(PROTOTYPE))
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    fn_args = _fn_args(tmp_path, taxi_records, config_lib.DEFAULT_SCHEMA, "big_tipper", steps=60)
    fn_args.custom_config[constants.MODEL_KEY] = spec.to_dict()
    fn_args.custom_config[constants.INPUT_MAP_KEY] = {
        "distance": "trip_miles", "seconds": "trip_seconds", "firm": "company"}
    task.run_fn(fn_args)
    return fn_args.serving_model_dir


def test_a_users_model_serves_raw_features_named_as_in_the_schema(users_model, taxi_features):
    # Only the features the binding feeds; keyed by column, not by the model's input names.
    probabilities = check_raw_signature(
        users_model, rows_with_gaps(), taxi_features, config_lib.DEFAULT_SCHEMA,
        expected_inputs=["trip_miles", "trip_seconds", "company"], classes=["0", "1"])
    assert len(set(probabilities.ravel().round(6))) > 3  # the inputs matter


def test_a_users_models_warmup_requests_answer_alike_through_both_signatures(
        users_model, taxi_records):
    check_warmup(users_model, eval_records(taxi_records), ["trip_miles", "trip_seconds", "company"])


def test_raw_values_are_a_rows_first_values_with_the_documented_markers_where_missing(taxi_features):
    present = serving.to_example({"fare": "2.5", "trip_seconds": "60", "company": "Acme"}, taxi_features)
    absent = tf.train.Example()  # not even empty feature entries
    values = export.raw_values([present.SerializeToString(), absent.SerializeToString()],
                               taxi_features, ["fare", "trip_seconds", "company", "dropoff_census_tract"])
    assert values["fare"].dtype == np.float32 and values["fare"][0] == 2.5 and math.isnan(values["fare"][1])
    assert values["trip_seconds"].tolist() == [60, -(2**63)]
    assert values["dropoff_census_tract"].tolist() == [-(2**63), -(2**63)]
    assert values["company"].tolist() == [b"Acme", b""]


def test_a_model_whose_signatures_disagree_is_not_exported(tmp_path, taxi_features):
    # Random at inference: the same row gives another probability on each run.
    x = tf.keras.Input(shape=(1,), name="fare")
    noisy = tf.keras.layers.Lambda(lambda t: t + tf.random.uniform(tf.shape(t), 0.0, 10.0))(x)
    keras_model = tf.keras.Model(x, tf.keras.layers.Dense(1, activation="sigmoid")(noisy))
    keras_model.compile(optimizer="sgd", loss="binary_crossentropy")
    features = FeatureSet((taxi_features.get("fare"),), taxi_features.label)
    estimator = task.estimator_from_keras(keras_model, task.run_config(str(tmp_path / "run"), 1, 1))
    estimator.train(lambda: tf.data.Dataset.from_tensors(({"fare": [[1.0]]}, [[1.0]])), max_steps=1)
    export_dir = estimator.export_saved_model(str(tmp_path / "export"),
                                              export.serving_input_receiver_fn(features))
    rows = [serving.to_example({"fare": f"{v}.0"}, features).SerializeToString() for v in range(5)]
    with pytest.raises(RuntimeError, match="serving_raw and serving_default signatures disagree on eval row"):
        export.publish(export_dir.decode(), str(tmp_path / "model"), features, examples=rows)
    assert not os.path.exists(tmp_path / "model")
