"""Default drift thresholds: which TFDV comparator each feature gets, and at what threshold.

Importable without TensorFlow (`infer-schema` and the bench use it). The numbers were chosen by
measurement, bench/drift_thresholds.py (see BENCHMARKS.md): random halves and the bundled data
split into spans stay below them, one feature shifted by 5 standard deviations is far above.

- Features whose statistics are numeric (FLOAT, and INT, including int-coded categories: without
  a schema StatisticsGen computes numeric histograms for them) get Jensen-Shannon divergence over
  those histograms. L-infinity reads 0 on numeric statistics (tensorflow/data-validation#147).
- String categories get L-infinity distance over their value frequencies.
- Free text (`natural_language_domain`) gets L-infinity over its value frequencies too: almost
  every sentence is new, so this does not see a change of topic, but it does see what breaks a
  text column in practice: a placeholder, an empty string or one repeated message taking over.
"""
from __future__ import annotations

from tensorflow_metadata.proto.v0 import schema_pb2  # protobuf only

JS_THRESHOLD = 0.5       # numeric features: Jensen-Shannon divergence
LINF_THRESHOLD = 0.1     # string categories: L-infinity distance
TEXT_LINF_THRESHOLD = 0.1  # free text: L-infinity distance over its values

JS = "jensen_shannon_divergence"
LINF = "infinity_norm"


def comparator_for(feature) -> tuple:
    """(comparator field, default threshold) for a schema Feature; (None, None) for none."""
    if feature.lifecycle_stage == schema_pb2.DEPRECATED:
        return None, None
    if feature.HasField("natural_language_domain"):
        return LINF, TEXT_LINF_THRESHOLD
    if feature.type in (schema_pb2.INT, schema_pb2.FLOAT):
        return JS, JS_THRESHOLD
    if feature.type == schema_pb2.BYTES:
        return LINF, LINF_THRESHOLD
    return None, None


def add_drift_comparators(schema, overwrite: bool = False) -> list:
    """Puts a default drift_comparator on every feature that has none (or on all with
    `overwrite`); returns the names of the features it set."""
    changed = []
    for feature in schema.feature:
        field, threshold = comparator_for(feature)
        if field is None or (feature.HasField("drift_comparator") and not overwrite):
            continue
        feature.ClearField("drift_comparator")
        getattr(feature.drift_comparator, field).threshold = threshold
        changed.append(feature.name)
    return changed
