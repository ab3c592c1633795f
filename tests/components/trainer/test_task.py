import os

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.trainer.fn_args_utils import FnArgs

from components.trainer import constants, task
from components.trainer.features import features_from_schema
from pipeline import config as config_lib
from pipeline.serving import model as serving, predict
from tests.conftest import read_taxi_rows, write_tfrecords


def _fn_args(tmp_path, records, schema_path, label, steps=30, hparams=None):
    return FnArgs(
        train_files=[os.path.join(records, "Split-train", "*")],
        eval_files=[os.path.join(records, "Split-eval", "*")],
        schema_path=schema_path, model_run_dir=str(tmp_path / "model_run"),
        serving_model_dir=str(tmp_path / "model" / "Format-Serving"),
        train_steps=steps, eval_steps=None,
        custom_config={constants.LABEL_KEY: label, constants.HPARAMS_KEY: hparams or {}, constants.SEED_KEY: 7})


def test_run_fn_trains_an_estimator_and_exports_a_serving_model(tmp_path, taxi_records, taxi_features,
                                                               caplog):
    fn_args = _fn_args(tmp_path, taxi_records, config_lib.DEFAULT_SCHEMA, "big_tipper")
    with caplog.at_level("INFO", logger=constants.PROGRESS_LOGGER):
        task.run_fn(fn_args)

    # Progress every tenth of the 30 steps: step, loss and speed.
    progress = [r.getMessage() for r in caplog.records if r.name == constants.PROGRESS_LOGGER]
    assert [line.split()[1] for line in progress] == [f"{s}/30" for s in range(3, 31, 3)]
    assert all(float(line.split()[3]) > 0 and float(line.split()[4]) > 0 for line in progress), progress

    model_run = fn_args.model_run_dir
    assert tf.io.gfile.exists(os.path.join(model_run, "keras"))  # model_to_estimator's checkpoint
    assert tf.train.latest_checkpoint(model_run).endswith("model.ckpt-30")
    assert tf.io.gfile.glob(os.path.join(model_run, "events.out.tfevents.*"))  # TensorBoard
    assert os.path.isfile(os.path.join(fn_args.serving_model_dir, "saved_model.pb"))

    # Round trip: raw CSV rows -> tf.Example -> serving_default -> probabilities.
    _, rows = read_taxi_rows(every=500)
    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    signature = loaded.signatures["serving_default"]
    assert list(signature.structured_input_signature[1]) == ["examples"]
    assert set(signature.structured_outputs) == {"probabilities", "all_classes"}
    probabilities = predict.score(predict.load_signature(fn_args.serving_model_dir),
                                  [serving.to_example(r, taxi_features) for r in rows], taxi_features.label)
    assert probabilities.shape == (len(rows), 1)
    assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_run_fn_handles_a_multiclass_string_label(tmp_path):
    schema_path = tmp_path / "schema.pbtxt"
    schema_path.write_text("""
      feature { name: "size" type: FLOAT }
      feature { name: "colour" type: BYTES }
      feature { name: "kind" type: BYTES domain: "kind" }
      string_domain { name: "kind" value: "small" value: "medium" value: "large" }""")
    features = features_from_schema(text_format.Parse(schema_path.read_text(), schema_pb2.Schema()), "kind")
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(300):
        size = float(rng.uniform(0, 3))
        rows.append({"size": f"{size:.3f}", "colour": rng.choice(["red", "blue", ""]),
                     "kind": ["small", "medium", "large"][int(size)]})
    records = tmp_path / "records"
    write_tfrecords(str(records / "Split-train" / "d.gz"), rows[:200], features)
    write_tfrecords(str(records / "Split-eval" / "d.gz"), rows[200:], features)
    fn_args = _fn_args(tmp_path, str(records), str(schema_path), "kind", steps=200,
                       hparams={"hidden_units": [16]})
    task.run_fn(fn_args)
    probabilities = predict.score(predict.load_signature(fn_args.serving_model_dir),
                                  [serving.to_example(r, features) for r in rows[200:]], features.label)
    assert probabilities.shape == (100, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    truth = [["small", "medium", "large"].index(r["kind"]) for r in rows[200:]]
    assert (probabilities.argmax(axis=1) == truth).mean() > 0.6
    outputs = tf.saved_model.load(fn_args.serving_model_dir).signatures["serving_default"](
        examples=tf.constant([serving.to_example(rows[0], features).SerializeToString()]))
    assert outputs["all_classes"].numpy().tolist() == [[b"small", b"medium", b"large"]]
    # The raw-features signature: same probabilities, and the predicted class by name.
    raw = tf.saved_model.load(fn_args.serving_model_dir).signatures["serving_raw"](
        size=tf.constant([float(r["size"]) for r in rows[200:]]),
        colour=tf.constant([r["colour"].encode() for r in rows[200:]]))
    np.testing.assert_allclose(raw["probabilities"].numpy(), probabilities, rtol=1e-6, atol=1e-7)
    assert raw["class_id"].numpy().tolist() == probabilities.argmax(axis=1).tolist()
    assert [c.decode() for c in raw["class_name"].numpy()] == [
        ["small", "medium", "large"][i] for i in probabilities.argmax(axis=1)]


def test_missing_label_setting_is_reported():
    with pytest.raises(ValueError, match="custom_config needs 'label'"):
        task.trainer_settings({})
