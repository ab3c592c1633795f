"""`infer-schema`: a first schema for a CSV folder, to review, edit and check in."""
from __future__ import annotations

import os
from typing import Optional

from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.config import ConfigError

HEADER = """\
# Schema inferred by `python -m pipeline infer-schema` from {data_root}.
# Review it, then check it in: it is the single source of truth for the model's features.
#  - An INT feature is numeric (normalized) unless it has `int_domain {{ is_categorical: true }}`,
#    which makes it categorical (embedded).
#  - A BYTES feature is categorical; a `string_domain` fixes its vocabulary (else the
#    Trainer learns it from the training split).
#  - `lifecycle_stage: DEPRECATED` keeps a column in the data but out of the model.
#  - The label needs its classes: a string_domain, or an int_domain with min 0 and max.
"""


def infer_schema(data_root: str, output: str, label: Optional[str] = None,
                 max_categorical_ints: int = 50) -> schema_pb2.Schema:
    """Infers a schema with TFDV, marks the label (and small-range ints) categorical, writes it."""
    import tensorflow_data_validation as tfdv  # slow import, only for this command

    if not os.path.isdir(data_root):
        raise ConfigError(f"--data-root {data_root!r} is not a folder")
    if not any(f.lower().endswith(".csv") for f in os.listdir(data_root)):
        raise ConfigError(f"--data-root {data_root!r} holds no .csv file")
    stats = tfdv.generate_statistics_from_csv(data_location=os.path.join(data_root, "*.csv"))
    schema = tfdv.infer_schema(stats, infer_feature_shape=False)
    ranges = _int_ranges(stats)
    names = [f.name for f in schema.feature]
    if label is not None and label not in names:
        raise ConfigError(f"--label {label!r} is not a column of the data (columns: {names})")
    for feature in schema.feature:
        # CsvExampleGen writes an empty cell as a feature with no value; a value_count
        # of min 1 would flag every such cell as an anomaly.
        feature.ClearField("value_count")
        lo_hi = ranges.get(feature.name)
        if feature.type == schema_pb2.INT and lo_hi is not None:
            lo, hi, unique = lo_hi
            if feature.name == label:
                feature.int_domain.min = int(lo)
                feature.int_domain.max = int(hi)
                feature.int_domain.is_categorical = True
            elif 1 < unique <= max_categorical_ints:
                # Few distinct values: most likely codes. No min/max, so new codes in
                # tomorrow's data are learned, not flagged.
                feature.int_domain.is_categorical = True
    if label is not None:
        _set_label_domain(schema, label)
    text = HEADER.format(data_root=os.path.abspath(data_root)) + str(schema)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, output)
    return schema


def _int_ranges(stats):
    ranges = {}
    for feature in stats.datasets[0].features:
        name = feature.path.step[0] if feature.path.step else feature.name
        if feature.HasField("num_stats"):
            lo, hi = feature.num_stats.min, feature.num_stats.max
            # TFDV counts unique values of categorical features only: bound it by the range.
            ranges[name] = (lo, hi, int(hi - lo + 1))
    return ranges


def _set_label_domain(schema: schema_pb2.Schema, label: str) -> None:
    feature = next(f for f in schema.feature if f.name == label)
    feature.presence.min_fraction = 1.0
    if feature.type == schema_pb2.INT and feature.int_domain.min != 0:
        raise ConfigError(
            f"label {label!r}: integer classes must be 0..N-1 (found min {feature.int_domain.min}); "
            "map them to 0..N-1 or use a string label")
