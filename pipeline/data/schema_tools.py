"""`infer-schema`: a first schema for a CSV folder, to review, edit and check in."""
from __future__ import annotations

import os
import time
from typing import List, Optional

from tensorflow_metadata.proto.v0 import schema_pb2

from components.drift_guard import thresholds
from pipeline.config import ConfigError

HEADER = """\
# Schema inferred by `python -m pipeline infer-schema` from {data_root}.
# Review it, then check it in: it is the single source of truth for the model's features.
#  - An INT feature is numeric (normalized) unless it has `int_domain {{ is_categorical: true }}`,
#    which makes it categorical (embedded).
#  - A BYTES feature is categorical; a `string_domain` fixes its vocabulary (else the
#    Trainer learns it from the training split).
#  - A BYTES feature with `natural_language_domain {{}}` is free text (TFDV found sentences in
#    it): the model tokenizes and embeds it. It has no vocabulary here, so a new sentence is
#    not an anomaly. A column of at most 100 distinct values stays a category; to make it
#    text, replace its `domain: ...` line with `natural_language_domain {{}}`.
#  - `lifecycle_stage: DEPRECATED` keeps a column in the data but out of the model.
#  - The label needs its classes: a string_domain, or an int_domain with min 0 and max.
#  - `drift_comparator`: how far a new span's statistics may move from those of the data the
#    served model was trained on before a run stops (Jensen-Shannon divergence for numbers,
#    L-infinity distance for categories and text; defaults measured in BENCHMARKS.md). Raise a
#    threshold for a feature that moves by nature; `run --accept-drift` passes one reviewed span.
"""

# TFDV's default: a string column with at most this many distinct values gets a string_domain.
MAX_STRING_DOMAIN_SIZE = 100


def infer_schema(data_root: str, output: str, label: Optional[str] = None,
                 max_categorical_ints: int = 50) -> schema_pb2.Schema:
    """Infers a schema with TFDV, marks the label (and small-range ints) categorical, writes it.

    Free-text string columns get TFDV's own `natural_language_domain {}` (from its semantic
    domain statistics) and no vocabulary; a category column (at most MAX_STRING_DOMAIN_SIZE
    distinct values, even of several words each) keeps its string_domain. Every feature gets the
    default drift threshold of its kind (components/drift_guard/thresholds.py).
    """
    import tensorflow_data_validation as tfdv  # slow import, only for this command

    if not os.path.isdir(data_root):
        raise ConfigError(f"--data-root {data_root!r} is not a folder")
    if not any(f.lower().endswith(".csv") for f in os.listdir(data_root)):
        raise ConfigError(f"--data-root {data_root!r} holds no .csv file")
    stats = tfdv.generate_statistics_from_csv(
        data_location=os.path.join(data_root, "*.csv"),
        stats_options=tfdv.StatsOptions(enable_semantic_domain_stats=True))
    names = [_stats_name(f) for f in stats.datasets[0].features]
    if label is not None and label not in names:
        raise ConfigError(f"--label {label!r} is not a column of the data (columns: {names})")
    _keep_as_categories(stats, label)
    schema = tfdv.infer_schema(stats, infer_feature_shape=False,
                               max_string_domain_size=MAX_STRING_DOMAIN_SIZE)
    ranges = _int_ranges(stats)
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
    _drop_text_vocabularies(schema)
    if label is not None:
        _set_label_domain(schema, label)
    thresholds.add_drift_comparators(schema)
    text = HEADER.format(data_root=data_root) + str(schema)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, output)
    return schema


def text_features(schema: schema_pb2.Schema) -> List[str]:
    """The features marked as free text (`natural_language_domain`), in schema order."""
    return [f.name for f in schema.feature if f.HasField("natural_language_domain")]


def log_path(output_dir: str) -> str:
    """Where infer-schema keeps the TensorFlow / Beam / TFDV log: beside `run`'s logs."""
    return os.path.join(os.path.abspath(output_dir), "logs",
                        time.strftime("infer-schema-%Y%m%d-%H%M%S.log"))


def _stats_name(feature) -> str:
    return feature.path.step[0] if feature.path.step else feature.name


def _keep_as_categories(stats, label: Optional[str]) -> None:
    """Drops TFDV's text guess where a vocabulary fits better: the label, and few-valued columns.

    TFDV's guess (most values are 3+ words of 2.5-8 letters) also matches category names
    such as the taxi data's "Taxi Affiliation Services". A column with at most
    MAX_STRING_DOMAIN_SIZE distinct values is one TFDV itself gives a string_domain, so it
    stays a category; the label is a class, never text.
    """
    for feature in stats.datasets[0].features:
        few_values = (feature.HasField("string_stats")
                      and feature.string_stats.unique <= MAX_STRING_DOMAIN_SIZE)
        if _stats_name(feature) == label or few_values:
            kept = [c for c in feature.custom_stats if c.name != "domain_info"]
            del feature.custom_stats[:]
            feature.custom_stats.extend(kept)


def _drop_text_vocabularies(schema: schema_pb2.Schema) -> None:
    """A text feature must carry no vocabulary: every new sentence would be an anomaly.

    Its natural_language_domain already replaces a `domain:` reference (same oneof); this
    also removes a top-level string_domain that only it would have used.
    """
    text = set(text_features(schema))
    used = {f.domain for f in schema.feature if f.HasField("domain")}
    kept = [d for d in schema.string_domain if d.name in used or d.name not in text]
    if len(kept) != len(schema.string_domain):
        del schema.string_domain[:]
        schema.string_domain.extend(kept)


def _int_ranges(stats):
    ranges = {}
    for feature in stats.datasets[0].features:
        name = _stats_name(feature)
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
