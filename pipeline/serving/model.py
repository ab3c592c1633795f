"""A pushed model's inputs: the version a server would load, CSV rows as the tf.Examples its
`serving_default` signature takes, and the features it reads. predict.py scores with them."""
from __future__ import annotations

import os
from typing import Collection, FrozenSet, List, Mapping, Optional

import tensorflow as tf

from components.latest_pushed_model import records
from components.trainer.features import FeatureSet

SIGNATURE = "serving_default"


def latest_version(serving_dir: str) -> Optional[str]:
    """The newest pushed version folder that a server would load (the Pusher's own rule), or None."""
    served = records.serving_version(serving_dir)
    return served[1] if served else None


class MissingRequired(ValueError):
    """A row leaves empty a feature that every row the model was trained on had."""


def to_example(row: Mapping[str, str], features: FeatureSet, decimal: str = ".",
               required: Collection[str] = ()) -> tf.train.Example:
    """A tf.Example typed as CsvExampleGen types the same CSV row (empty cell: no value).

    A feature the row lacks (a column the CSV does not have) gets no value: the model's
    signatures parse every feature with a default, so only the features it reads matter.
    `decimal` is the numbers' decimal mark (',' in a European export).

    Raises:
      MissingRequired: a feature named in `required` (see `required_features`) is empty: it
        would reach the model as a gap it never saw in training, and be scored silently wrong.
      ValueError: a value does not fit its feature's type.
    """
    example = tf.train.Example()
    for feature in features.features:
        raw = row.get(feature.name, "")
        slot = example.features.feature[feature.name]
        if raw is None or raw == "":
            if feature.name in required:
                raise MissingRequired(
                    f"{feature.name!r} is empty, and every row the model was trained on had a value (the "
                    "schema it was trained with says presence min_fraction: 1), so it learned no answer "
                    "for a gap; fill the value in")
            slot.CopyFrom(tf.train.Feature())
        elif feature.dtype == tf.string:
            slot.bytes_list.value.append(str(raw).encode("utf-8"))
        elif feature.dtype == tf.int64:
            slot.int64_list.value.append(int(raw))
        else:
            slot.float_list.value.append(float(raw.replace(decimal, ".") if decimal != "." else raw))
    return example


def required_features(model_dir: str, names: Collection[str]) -> FrozenSet[str]:
    """Of `names`, the features the schema the model carries requires in every row
    (presence min_fraction 1, as infer-schema writes it for a column without a gap)."""
    from components.trainer import constants
    from components.trainer.features import load_schema
    schema = load_schema(os.path.join(model_dir, constants.ASSETS_EXTRA, constants.SCHEMA_FILE))
    return frozenset(f.name for f in schema.feature
                     if f.name in names and f.HasField("presence") and f.presence.min_fraction >= 1.0)


def features_read(model_dir: str, features: FeatureSet) -> List[str]:
    """The features a pushed model reads (CSV names): its raw signature's inputs, read from the
    SavedModel's proto (no TensorFlow load); every feature for a model without that signature."""
    from tensorflow.core.protobuf import saved_model_pb2
    from components.trainer import constants

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    for meta_graph in proto.meta_graphs:
        signature = meta_graph.signature_def.get(constants.RAW_SIGNATURE)
        if signature is not None:
            return [name for name in features.names if name in signature.inputs]
    return list(features.names)

