"""The Trainer's export: what every model the pipeline pushes holds.

- `serving_default`: serialized tf.Examples in `examples` (TFMA, `predict`, RunInference);
- `serving_raw`: one raw value per feature the model reads, keyed by the schema's feature
  names, the CSV's own (JSON clients: TF Serving's REST API, KServe);
- `assets.extra/`: the schema, the label, and TF Serving's warm-up requests built from eval
  rows (both signatures, over the same rows).

Both signatures share one graph: the raw signature feeds the per-feature values that parsing
the tf.Examples produces (`FeatureSet.parse_values`), so everything after them (the binding,
the model, the class outputs) is the same ops, and the same rows give the same probabilities.
Names are in `components/trainer/constants.py`.
"""
from __future__ import annotations

import math
import os
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from components.trainer import binding as binding_lib
from components.trainer import constants as names
from components.trainer import features as features_lib
from components.trainer import inputs
from components.trainer.user_model_checks import Head

EXPORTER_NAME = "serving"
# The Estimator names a receiver alternative's signature "<alternative>:<export output key>".
_ESTIMATOR_RAW_SIGNATURE = f"{names.RAW_SIGNATURE}:{names.DEFAULT_SIGNATURE}"


def raw_feature_names(features: features_lib.FeatureSet,
                      binding: Optional[binding_lib.Binding] = None) -> List[str]:
    """The features the model reads, in schema order: the raw signature's inputs."""
    if binding is None:
        return features.names
    used = {name for b in binding.inputs for name in b.features}
    return [name for name in features.names if name in used]


def serving_input_receiver_fn(features: features_lib.FeatureSet,
                              binding: Optional[binding_lib.Binding] = None):
    """Serialized tf.Examples in `examples`, parsed as the input_fn parses; and, as a receiver
    alternative, the raw values of the features the model reads.

    The examples are keyed by the schema's feature names whatever a user's model calls its
    inputs: the binding feeds them to the inputs, as in training. Each raw value is a
    `placeholder_with_default` over the parsed value: fed by the raw signature, parsed from
    the examples otherwise.
    """
    def receiver_fn():
        serialized = tf.compat.v1.placeholder(tf.string, shape=[None], name="input_example_tensor")
        values = features.parse_values(serialized, with_label=False, raw=binding_lib.feeds_raw(binding))
        fed = {name: tf.compat.v1.placeholder_with_default(
                   values[name], [None], name=f"raw_{features.get(name).key}")  # op names: identifiers
               for name in raw_feature_names(features, binding)}
        return tf.estimator.export.ServingInputReceiver(
            binding_lib.model_feed({**values, **fed}, features, binding),
            {names.EXAMPLES_INPUT: serialized},
            receiver_tensors_alternatives={names.RAW_SIGNATURE: fed})
    return receiver_fn


def latest_export(model_dir: str) -> str:
    """The exporter's newest SavedModel under `<model_dir>/export/<exporter>/<timestamp>`."""
    export_root = os.path.join(model_dir, "export", EXPORTER_NAME)
    versions = sorted(v.strip("/") for v in tf.io.gfile.listdir(export_root) if v.strip("/").isdigit())
    if not versions:
        raise RuntimeError(f"the exporter wrote no SavedModel under {export_root}")
    return os.path.join(export_root, versions[-1])


def eval_rows(file_patterns: Sequence[str], limit: int = names.WARMUP_MAX_ROWS) -> List[bytes]:
    """The first `limit` serialized tf.Examples of the eval split, in file order."""
    dataset = tf.data.TFRecordDataset(inputs.list_files(file_patterns), compression_type="GZIP")
    return [record.numpy() for record in inputs.without_autotune_thread(dataset.take(limit))]


def raw_values(examples: Sequence[bytes], features: features_lib.FeatureSet,
               feature_names: Sequence[str]) -> Dict[str, np.ndarray]:
    """What a client sends the raw signature for these tf.Examples: each feature's first value,
    or the missing-value marker (NaN, int64's minimum, '') where the example has none."""
    parsed = [tf.train.Example.FromString(e).features.feature for e in examples]
    columns = {}
    for name in feature_names:
        dtype = features.get(name).dtype
        if dtype == tf.string:
            kind, missing, np_dtype = "bytes_list", names.MISSING_RAW_STRING.encode(), object
        elif dtype == tf.int64:
            kind, missing, np_dtype = "int64_list", names.MISSING_RAW_INT, np.int64
        else:
            kind, missing, np_dtype = "float_list", math.nan, np.float32
        column = []
        for feature_map in parsed:
            values = getattr(feature_map[name], kind).value if name in feature_map else ()
            column.append(values[0] if len(values) else missing)
        columns[name] = np.array(column, dtype=np_dtype)
    return columns


def publish(export_dir: str, serving_model_dir: str, features: features_lib.FeatureSet,
            head: Optional[Head] = None, examples: Sequence[bytes] = ()) -> None:
    """Re-saves the Estimator's export with the two serving signatures.

    `serving_default` gets `probabilities` and `all_classes`: the class of each probability
    column; TFMA uses it to map a string label in the eval data to a class id (`metric_util`
    looks for `all_classes`). `serving_raw` gets `probabilities`, `class_name` and `class_id`.
    A user's model's output, whatever its layer's name, is served as `probabilities`: logits
    (a loss with from_logits=True) go through sigmoid or softmax, and a binary model with two
    softmax units serves the positive class's column, as the built-in model does.
    Inputs, variables and tables are unchanged. Both signatures are run on `examples` (the
    warm-up rows) and must give the same probabilities, or nothing is saved.
    A regression model (a number to predict) serves one output in both signatures,
    `predictions` ([n, 1], in the label's units).
    """
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(
            session, [tf.saved_model.SERVING], export_dir)
        signatures = meta_graph.signature_def
        if _ESTIMATOR_RAW_SIGNATURE not in signatures:
            raise RuntimeError(
                f"{export_dir}: the export has no raw-features signature ({_ESTIMATOR_RAW_SIGNATURE!r}; "
                f"it has {sorted(signatures)}): the model's output depends on more than the features' "
                "values (see the Estimator's signature report in the log)")
        default = signatures[names.DEFAULT_SIGNATURE]
        inputs_ = _tensors(graph, default.inputs)
        outputs = _tensors(graph, default.outputs)
        raw_inputs = _tensors(graph, signatures[_ESTIMATOR_RAW_SIGNATURE].inputs)
        keras_output = (names.PROBABILITIES if names.PROBABILITIES in outputs else next(iter(outputs)))
        served = outputs.pop(keras_output)
        if features.label.is_regression:
            served = tf.identity(served, name="served_predictions")
            outputs = {names.PREDICTIONS: served}
            raw_outputs = {names.PREDICTIONS: served}
        else:
            outputs, raw_outputs = _class_outputs(outputs, served, head, features.label)
            served = outputs[names.PROBABILITIES]
        if examples:
            check_signatures_agree(session, inputs_[names.EXAMPLES_INPUT], raw_inputs, served,
                                   examples, features)
        main_ops = []
        for key in (tf.compat.v1.saved_model.constants.MAIN_OP_KEY,
                    tf.compat.v1.saved_model.constants.LEGACY_INIT_OP_KEY):
            main_ops += graph.get_collection(key)
            graph.clear_collection(key)  # the builder adds it back, once
        predict = tf.compat.v1.saved_model.predict_signature_def
        builder = tf.compat.v1.saved_model.Builder(serving_model_dir)
        builder.add_meta_graph_and_variables(
            session, [tf.saved_model.SERVING],
            signature_def_map={names.DEFAULT_SIGNATURE: predict(inputs_, outputs),
                               names.RAW_SIGNATURE: predict(raw_inputs, raw_outputs)},
            main_op=main_ops[0] if main_ops else None,
            assets_collection=graph.get_collection(tf.compat.v1.GraphKeys.ASSET_FILEPATHS),
            strip_default_attrs=True)
        builder.save()
    logging.info("Exported %s (%s) and %s (%s) to %s", names.DEFAULT_SIGNATURE, names.EXAMPLES_INPUT,
                 names.RAW_SIGNATURE, ", ".join(raw_inputs), serving_model_dir)


def _class_outputs(outputs: Dict[str, tf.Tensor], served, head: Optional[Head], label):
    """A classifier's outputs: (serving_default's, serving_raw's)."""
    probabilities = served_probabilities(served, head) if head is not None else served
    outputs[names.PROBABILITIES] = probabilities
    class_names = tf.constant([str(c) for c in label.classes])
    outputs[names.ALL_CLASSES] = tf.tile(class_names[tf.newaxis, :],
                                         tf.stack([tf.shape(probabilities)[0], 1]))
    class_id = predicted_class_id(probabilities, label.is_binary)
    raw_outputs = {names.PROBABILITIES: probabilities, names.CLASS_ID: class_id,
                   names.CLASS_NAME: tf.gather(class_names, class_id, name=names.CLASS_NAME)}
    return outputs, raw_outputs


def _tensors(graph: tf.Graph, tensor_infos) -> Dict[str, tf.Tensor]:
    return {key: graph.get_tensor_by_name(info.name) for key, info in tensor_infos.items()}


def served_probabilities(output, head: Head):
    """Probabilities from a user's model's output: [n, 1] positive class, or [n, classes]."""
    if head.from_logits:
        output = tf.sigmoid(output) if head.units == 1 else tf.nn.softmax(output, axis=-1)
    if head.units == 2:  # units == 2 only for a binary label: serve the positive class
        output = output[:, 1:2]
    return tf.identity(output, name="served_probabilities")


def predicted_class_id(probabilities, binary: bool):
    """The predicted class's index: binary, 1 when the positive class's probability >= 0.5."""
    if binary:
        return tf.cast(probabilities[:, 0] >= names.BINARY_THRESHOLD, tf.int64, name=names.CLASS_ID)
    return tf.argmax(probabilities, axis=-1, output_type=tf.int64, name=names.CLASS_ID)


def check_signatures_agree(session, examples_tensor, raw_inputs: Mapping[str, tf.Tensor],
                           probabilities, examples: Sequence[bytes],
                           features: features_lib.FeatureSet) -> None:
    """Runs the rows through both signatures' inputs; raises if the outputs (probabilities, or a
    regression's predictions) differ."""
    from_examples = session.run(probabilities, {examples_tensor: list(examples)})
    values = raw_values(examples, features, list(raw_inputs))
    from_raw = session.run(probabilities, {raw_inputs[k]: v for k, v in values.items()})
    if not np.allclose(from_examples, from_raw, rtol=1e-5, atol=1e-6, equal_nan=True):
        worst = int(np.abs(from_examples - from_raw).max(axis=-1).argmax())
        row = {k: v[worst] for k, v in values.items()}
        raise RuntimeError(
            f"the exported model's {names.RAW_SIGNATURE} and {names.DEFAULT_SIGNATURE} signatures "
            f"disagree on eval row {worst + 1}: {from_raw[worst].tolist()} from the raw values "
            f"{row}, {from_examples[worst].tolist()} from the "
            "tf.Example. A model that is not deterministic at inference (random ops outside "
            "training) cannot be served this way; nothing was exported")


def write_serving_model(model_run_dir: str, serving_model_dir: str, eval_files: Sequence[str],
                        schema_path: str, features: features_lib.FeatureSet, head: Optional[Head] = None,
                        binding: Optional[binding_lib.Binding] = None) -> None:
    """The model the pipeline pushes, in `serving_model_dir` (replacing what it held): the
    exporter's newest SavedModel with the two signatures (`publish`), the schema and label, and
    TF Serving's warm-up requests, all checked on the same eval rows."""
    if tf.io.gfile.exists(serving_model_dir):
        tf.io.gfile.rmtree(serving_model_dir)
    rows = eval_rows(eval_files)
    publish(latest_export(model_run_dir), serving_model_dir, features, head, rows)
    write_schema_and_label(serving_model_dir, schema_path, features.label.name)
    write_warmup_requests(serving_model_dir, rows, features, raw_feature_names(features, binding))


def write_schema_and_label(serving_model_dir: str, schema_path: str, label: str) -> None:
    """Ships the schema and label inside the model (assets.extra/, which servers ignore),
    so a pushed model can parse raw CSV rows without any other file."""
    extra = os.path.join(serving_model_dir, names.ASSETS_EXTRA)
    tf.io.gfile.makedirs(extra)
    tf.io.gfile.copy(schema_path, os.path.join(extra, names.SCHEMA_FILE), overwrite=True)
    with tf.io.gfile.GFile(os.path.join(extra, names.LABEL_FILE), "w") as f:
        f.write(label)


def write_warmup_requests(serving_model_dir: str, examples: Sequence[bytes],
                          features: features_lib.FeatureSet, feature_names: Sequence[str]) -> str:
    """TF Serving's warm-up file: PredictionLogs in pairs (serving_default, then serving_raw
    over the same rows), for the first row and for all `examples`."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    if not examples:
        raise ValueError("the eval split has no rows to build TF Serving's warm-up requests from; "
                         "give the data more rows or a larger eval share (--split)")
    path = os.path.join(serving_model_dir, names.ASSETS_EXTRA, names.WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))

    def log(signature: str, tensors: Mapping[str, np.ndarray]) -> bytes:
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = signature
        for key, value in tensors.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        return prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString()

    with tf.io.TFRecordWriter(path) as writer:
        for batch in (examples[:1], examples):
            writer.write(log(names.DEFAULT_SIGNATURE,
                             {names.EXAMPLES_INPUT: np.array(list(batch), dtype=object)}))
            writer.write(log(names.RAW_SIGNATURE, raw_values(batch, features, feature_names)))
    return path
