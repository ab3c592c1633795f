"""A small pushed-layout SavedModel with the serving contract's signatures (issue 18), made with the
pipeline's TF 2.15 the way the Trainer saves its export (a TF1 graph, `saved_model.Builder`), so the
server's tests need no pipeline run. Its probability is a fixed logistic function of three taxi
features plus `bias`, so a test can tell versions apart and compute the expected answer itself.
"""
from __future__ import annotations

import math
import os
from typing import Dict, List

FEATURES = {"trip_miles": "float", "payment_type": "string", "trip_start_hour": "int"}
CLASSES = ["0", "1"]


def probability(row: Dict[str, object], bias: float = 0.0) -> float:
    """What the model answers for one row, computed here independently of TensorFlow."""
    logit = (0.5 * float(row.get("trip_miles", 0.0)) - 2.0 * (row.get("payment_type", "") == "Cash")
             + 0.1 * int(row.get("trip_start_hour", 0)) - 1.0 + bias)
    return 1.0 / (1.0 + math.exp(-logit))


def example_bytes(row: Dict[str, object]) -> bytes:
    import tensorflow as tf
    example = tf.train.Example()
    for name, kind in FEATURES.items():
        if name not in row:
            continue
        slot = example.features.feature[name]
        if kind == "float":
            slot.float_list.value.append(float(row[name]))
        elif kind == "int":
            slot.int64_list.value.append(int(row[name]))
        else:
            slot.bytes_list.value.append(str(row[name]).encode())
    return example.SerializeToString()


def write_version(serving_dir: str, version: int, bias: float = 0.0, warmup_rows: List[dict] = ()) -> str:
    """Writes `<serving_dir>/<version>/` as the Pusher does: under `.partial-<version>`, then renamed."""
    import tensorflow as tf
    partial = os.path.join(serving_dir, f".partial-{version}")
    final = os.path.join(serving_dir, str(version))
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        examples = tf.compat.v1.placeholder(tf.string, [None], name="examples")
        parsed = tf.io.parse_example(examples, {
            "trip_miles": tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
            "payment_type": tf.io.FixedLenFeature([], tf.string, default_value=""),
            "trip_start_hour": tf.io.FixedLenFeature([], tf.int64, default_value=0)})
        raw = {"trip_miles": tf.compat.v1.placeholder(tf.float32, [None], name="trip_miles"),
               "payment_type": tf.compat.v1.placeholder(tf.string, [None], name="payment_type"),
               "trip_start_hour": tf.compat.v1.placeholder(tf.int64, [None], name="trip_start_hour")}
        weight = tf.Variable(0.5, name="weight")
        session.run(weight.initializer)

        def head(f):
            logit = (weight * f["trip_miles"] - 2.0 * tf.cast(tf.equal(f["payment_type"], "Cash"), tf.float32)
                     + 0.1 * tf.cast(f["trip_start_hour"], tf.float32) - 1.0 + bias)
            p = tf.sigmoid(logit)[:, None]
            return p

        p_examples, p_raw = head(parsed), head(raw)
        classes = tf.constant([CLASSES[1:]])
        default_outputs = {"probabilities": p_examples,
                           "all_classes": tf.tile(classes, tf.stack([tf.shape(p_examples)[0], 1]))}
        class_id = tf.cast(p_raw[:, 0] >= 0.5, tf.int64)
        raw_outputs = {"probabilities": p_raw, "class_id": class_id,
                       "class_name": tf.gather(tf.constant(CLASSES), class_id)}
        builder = tf.compat.v1.saved_model.Builder(partial)
        builder.add_meta_graph_and_variables(
            session, [tf.saved_model.SERVING], signature_def_map={
                "serving_default": tf.compat.v1.saved_model.predict_signature_def({"examples": examples},
                                                                                 default_outputs),
                "serving_raw": tf.compat.v1.saved_model.predict_signature_def(raw, raw_outputs)})
        builder.save()
    extra = os.path.join(partial, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, "label.txt"), "w") as f:
        f.write("big_tipper\n")
    if warmup_rows:
        write_warmup(os.path.join(extra, "tf_serving_warmup_requests"), list(warmup_rows))
    os.rename(partial, final)
    return final


def write_warmup(path: str, rows: List[dict]) -> None:
    """TF Serving's warm-up file, written with TF Serving's own protos (tensorflow-serving-api)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    with tf.io.TFRecordWriter(path) as writer:
        for batch in (rows[:1], rows):
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = "serving_default"
            request.inputs["examples"].CopyFrom(tf.make_tensor_proto([example_bytes(r) for r in batch], tf.string))
            writer.write(prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString())
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = "serving_raw"
            for name, kind in FEATURES.items():
                dtype = {"float": tf.float32, "int": tf.int64, "string": tf.string}[kind]
                request.inputs[name].CopyFrom(tf.make_tensor_proto([r[name] for r in batch], dtype))
            writer.write(prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString())
