"""Reads TF Serving's warm-up file (assets.extra/tf_serving_warmup_requests) without the
tensorflow-serving-api package, which the serving environment does not carry.

The file is a TFRecord of `tensorflow.serving.PredictionLog`. Only the fields a predict warm-up
uses are declared here, with TF Serving's field numbers (tensorflow_serving/apis/
prediction_log.proto, predict.proto, model.proto); protobuf skips the others when parsing.
tests/pipeline/serving/test_serve.py checks this against a file written with the real protos.
"""
from __future__ import annotations

from typing import Dict, Iterator, Tuple

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_PACKAGE = "keras_tfx_warmup"
_CLASSES = {}


def _field(name, number, kind, type_name=None, repeated=False):
    field = descriptor_pb2.FieldDescriptorProto(
        name=name, number=number, type=kind,
        label=(descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED if repeated
               else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL))
    if type_name:
        field.type_name = type_name
    return field


def _prediction_log_class():
    if _CLASSES:
        return _CLASSES["PredictionLog"]
    from tensorflow.core.framework import tensor_pb2
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name=f"{_PACKAGE}/warmup.proto", package=_PACKAGE, syntax="proto3",
                                               dependency=[tensor_pb2.DESCRIPTOR.name])
    spec = proto.message_type.add(name="ModelSpec")
    spec.field.extend([_field("name", 1, F.TYPE_STRING), _field("signature_name", 3, F.TYPE_STRING)])
    request = proto.message_type.add(name="PredictRequest")
    entry = request.nested_type.add(name="InputsEntry")
    entry.options.map_entry = True
    entry.field.extend([_field("key", 1, F.TYPE_STRING), _field("value", 2, F.TYPE_MESSAGE, ".tensorflow.TensorProto")])
    request.field.extend([_field("model_spec", 1, F.TYPE_MESSAGE, f".{_PACKAGE}.ModelSpec"),
                          _field("inputs", 2, F.TYPE_MESSAGE, f".{_PACKAGE}.PredictRequest.InputsEntry", True)])
    log = proto.message_type.add(name="PredictLog")
    log.field.extend([_field("request", 1, F.TYPE_MESSAGE, f".{_PACKAGE}.PredictRequest")])
    prediction_log = proto.message_type.add(name="PredictionLog")
    prediction_log.field.extend([_field("predict_log", 6, F.TYPE_MESSAGE, f".{_PACKAGE}.PredictLog")])
    pool = descriptor_pool.Default()
    pool.Add(proto)
    _CLASSES["PredictionLog"] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.PredictionLog"))
    return _CLASSES["PredictionLog"]


def read_requests(path: str) -> Iterator[Tuple[str, Dict[str, object]]]:
    """(signature name, {input: tensor}) of each predict request in a warm-up file, in order."""
    import tensorflow as tf
    prediction_log = _prediction_log_class()
    for index, record in enumerate(tf.data.TFRecordDataset(path)):
        log = prediction_log.FromString(record.numpy())
        if not log.HasField("predict_log"):
            raise ValueError(f"warm-up record {index + 1} is not a predict request (only those are replayed)")
        request = log.predict_log.request
        yield (request.model_spec.signature_name or "serving_default",
               {name: tf.constant(tf.make_ndarray(tensor)) for name, tensor in request.inputs.items()})
