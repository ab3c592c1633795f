"""Small SavedModels that follow the serving contract (notes: two signatures and a warm-up file),
made with plain TensorFlow (no project code), and variants that break one rule each."""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

FEATURES = {"x": tf.float32, "n": tf.int64, "text": tf.string}
SPEC = {"x": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
        "n": tf.io.FixedLenFeature([1], tf.int64, default_value=[0]),
        "text": tf.io.FixedLenFeature([1], tf.string, default_value=[b""])}
ROWS = [{"x": 0.5, "n": 3, "text": "good day"}, {"x": -1.5, "n": 1, "text": "bad"},
        {"x": 2.0, "n": 7, "text": "so so"}]


class ContractModel(tf.Module):
    """Binary (classes 2: one column) or multi-class; `defect` breaks one rule of the contract."""

    def __init__(self, classes: int = 2, defect: str = ""):
        super().__init__()
        self.k = 1 if classes == 2 else classes
        # As the Trainer's export: all_classes names every class, also for a binary model's one column.
        self.class_names = tf.constant(["0", "1"] if self.k == 1 else [f"c{i}" for i in range(classes)])
        self.w = tf.Variable(tf.linspace(0.5, 1.5, self.k)[tf.newaxis, :])
        self.defect = defect

    def _probabilities(self, x, n, text, path):
        if self.defect == "py_function":
            with tf.name_scope("model"), tf.name_scope("lambda"):
                text = tf.py_function(lambda t: tf.strings.lower(t), [text], tf.string)
                text.set_shape([None])
        score = (x + tf.cast(n, tf.float32) * 0.1 + tf.cast(tf.strings.length(text), tf.float32) * 0.01)
        logits = score[:, tf.newaxis] * self.w
        if self.k == 1:
            p = tf.sigmoid(logits)
        else:
            p = tf.nn.softmax(logits)
        if self.defect == "raw_differs" and path == "raw":
            p = p * 0.9
        if self.defect == "nan":
            p = p + tf.math.log(tf.constant(-1.0))
        return p

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serving_default(self, examples):
        parsed = tf.io.parse_example(examples, SPEC)
        p = self._probabilities(parsed["x"][:, 0], parsed["n"][:, 0], parsed["text"][:, 0], "examples")
        classes = tf.tile(self.class_names[tf.newaxis, :], [tf.shape(p)[0], 1])
        return {"probabilities": p, "all_classes": classes}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x"),
                                  tf.TensorSpec([None], tf.int64, name="n"),
                                  tf.TensorSpec([None], tf.string, name="text")])
    def serving_raw(self, x, n, text):
        p = self._probabilities(x, n, text, "raw")
        if self.k == 1:
            class_id = tf.cast(p[:, 0] >= 0.5, tf.int64)
            class_name = tf.gather(tf.constant(["0", "1"]), class_id)
        else:
            class_id = tf.argmax(p, axis=1)
            class_name = tf.gather(self.class_names, class_id)
        return {"probabilities": p, "class_name": class_name, "class_id": class_id}


def _example(row) -> bytes:
    example = tf.train.Example()
    example.features.feature["x"].float_list.value.append(row["x"])
    example.features.feature["n"].int64_list.value.append(row["n"])
    example.features.feature["text"].bytes_list.value.append(row["text"].encode())
    return example.SerializeToString()


def _log(signature: str, inputs) -> bytes:
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name="m", signature_name=signature))
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString()


def write_warmup(model_dir: str, rows=ROWS) -> str:
    """The contract's warm-up file: (serving_default, serving_raw) over row 1, then over all rows."""
    path = os.path.join(model_dir, "assets.extra", "tf_serving_warmup_requests")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for batch in (rows[:1], rows):
            writer.write(_log("serving_default", {"examples": np.array([_example(r) for r in batch], dtype=object)}))
            writer.write(_log("serving_raw", {
                "x": np.array([r["x"] for r in batch], np.float32),
                "n": np.array([r["n"] for r in batch], np.int64),
                "text": np.array([r["text"].encode() for r in batch], dtype=object)}))
    return path


def save(model_dir: str, classes: int = 2, defect: str = "", warmup: bool = True) -> str:
    """Writes a contract SavedModel to `model_dir`; defect in '', 'py_function', 'raw_differs', 'nan',
    'no_raw' (an older export: serving_default only)."""
    model = ContractModel(classes, defect)
    signatures = {"serving_default": model.serving_default}
    if defect != "no_raw":
        signatures["serving_raw"] = model.serving_raw
    tf.saved_model.save(model, model_dir, signatures=signatures)
    if warmup:
        write_warmup(model_dir)
    return model_dir
