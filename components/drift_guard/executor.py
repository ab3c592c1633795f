"""DriftGuard's executor: TFDV's drift comparators between the new and the served training data.

The served model's training statistics are found through the baseline step's output: the push
record that LatestPushedModel copies names `statistics_uri`, the StatisticsGen output the Pusher
was given with the model. TFDV compares the train splits with the schema's `drift_comparator`
thresholds (`validate_statistics(..., previous_statistics=...)`); every measured feature goes to
`drift.json` (name, comparator, distance, threshold, drifted) beside TFDV's anomalies proto.
"""
from __future__ import annotations

import json
import posixpath
from typing import Any, Dict, List, Optional

from absl import logging
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.drift_guard import (ACCEPTED, DRIFT_LOG, DriftError, NO_BASELINE, NO_STATISTICS, PASSED,
                                    drifted_lines)
from components.latest_pushed_model.executor import RECORD_FILE

STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
BASELINE_KEY = "baseline"
ACCEPT_DRIFT_KEY = "accept_drift"
DRIFT_KEY = "drift"
# The push record field naming the StatisticsGen output the served model was trained with.
STATISTICS_URI = "statistics_uri"
SPLIT = "train"
STATS_FILE = "FeatureStats.pb"
ANOMALIES_FILE = "SchemaDiff.pb"  # ExampleValidator's name, so TFX's readers find it
DRIFT_FILE = "drift.json"
# Custom properties of the output artifact (ML Metadata).
STATUS_PROPERTY = "drift_status"
ACCEPT_PROPERTY = "accept_drift"
DRIFTED_PROPERTY = "drifted_features"
SERVED_VERSION_PROPERTY = "served_version"

_COMPARATORS = {anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE: "jensen_shannon_divergence",
                anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: "infinity_norm",
                anomalies_pb2.DriftSkewInfo.Measurement.NORMALIZED_ABSOLUTE_DIFFERENCE:
                    "normalized_abs_difference"}


def split_statistics(statistics_uri: str, split: str = SPLIT) -> statistics_pb2.DatasetFeatureStatisticsList:
    """The statistics StatisticsGen wrote for `split` under `statistics_uri`."""
    return tfdv.load_stats_binary(posixpath.join(statistics_uri, f"Split-{split}", STATS_FILE))


def measure(new: statistics_pb2.DatasetFeatureStatisticsList, served: statistics_pb2.DatasetFeatureStatisticsList,
            schema) -> tuple:
    """(TFDV's anomalies, one dict per measured feature: name, comparator, distance, threshold, drifted)."""
    anomalies = tfdv.validate_statistics(new, schema, previous_statistics=served)
    features = []
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        for measurement in info.drift_measurements:
            features.append({
                "name": name,
                "comparator": _COMPARATORS.get(measurement.type,
                                               anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(measurement.type)),
                "distance": float(measurement.value),
                "threshold": float(measurement.threshold),
                "drifted": measurement.value > measurement.threshold,
            })
    return anomalies, sorted(features, key=lambda f: (not f["drifted"], -f["distance"], f["name"]))


def served_record(baseline: types.Artifact) -> Optional[Dict[str, Any]]:
    """The push record the baseline step copied, when it found a pushed model; else None."""
    path = posixpath.join(baseline.uri, RECORD_FILE)
    if not fileio.exists(path):
        return None
    with fileio.open(path) as f:
        record = json.loads(f.read())
    return record if record.get("found") else None


def _write(output: types.Artifact, anomalies: anomalies_pb2.Anomalies, summary: Dict[str, Any]) -> None:
    output.split_names = artifact_utils.encode_split_names([SPLIT])
    split_dir = posixpath.join(output.uri, f"Split-{SPLIT}")
    fileio.makedirs(split_dir)
    io_utils.write_bytes_file(posixpath.join(split_dir, ANOMALIES_FILE), anomalies.SerializeToString())
    with fileio.open(posixpath.join(output.uri, DRIFT_FILE), "w") as f:
        f.write(json.dumps(summary, indent=1, sort_keys=True))
    output.set_string_custom_property(STATUS_PROPERTY, summary["status"])
    output.set_int_custom_property(ACCEPT_PROPERTY, int(summary["accept_drift"]))
    output.set_string_custom_property(DRIFTED_PROPERTY,
                                      ",".join(f["name"] for f in summary["features"] if f["drifted"]))
    output.set_string_custom_property(SERVED_VERSION_PROPERTY, summary.get("served_version") or "")


def check(statistics_uri: str, schema, record: Optional[Dict[str, Any]], accept_drift: bool
          ) -> tuple:
    """(anomalies, summary) of the new statistics against the served record's; raises DriftError
    on drift unless `accept_drift`."""
    summary: Dict[str, Any] = {"accept_drift": bool(accept_drift), "statistics_uri": statistics_uri,
                               "served_statistics_uri": None, "served_version": None, "features": []}
    if record is None:
        return anomalies_pb2.Anomalies(), {**summary, "status": NO_BASELINE,
                                           "note": "no model served yet: nothing to compare with"}
    summary["served_version"] = str(record.get("version") or "") or None
    served_uri = str(record.get(STATISTICS_URI) or "")
    if not served_uri:
        return anomalies_pb2.Anomalies(), {
            **summary, "status": NO_STATISTICS,
            "note": f"the served version {summary['served_version']}'s push record names no training "
                    "statistics (pushed before the drift guard): nothing to compare with"}
    summary["served_statistics_uri"] = served_uri
    anomalies, features = measure(split_statistics(statistics_uri), split_statistics(served_uri), schema)
    summary["features"] = features
    drifted = [f for f in features if f["drifted"]]
    if drifted and not accept_drift:
        raise DriftError(features, summary["served_version"])
    summary["status"] = ACCEPTED if drifted else PASSED
    summary["note"] = (f"{len(features)} features compared with the data of served version "
                       f"{summary['served_version']}: "
                       + (f"drift accepted ({ACCEPT_PROPERTY}=1) on {', '.join(f['name'] for f in drifted)}"
                          if drifted else "no drift"))
    return anomalies, summary


class Executor(base_executor.BaseExecutor):
    """Measures drift; fails the component with DriftError when it is past the thresholds."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        statistics = artifact_utils.get_single_instance(input_dict[STATISTICS_KEY])
        schema = io_utils.SchemaReader().read(
            io_utils.get_only_uri_in_dir(artifact_utils.get_single_uri(input_dict[SCHEMA_KEY])))
        baseline = artifact_utils.get_single_instance(input_dict[BASELINE_KEY])
        accept = bool(int(exec_properties.get(ACCEPT_DRIFT_KEY) or 0))
        output = artifact_utils.get_single_instance(output_dict[DRIFT_KEY])
        try:
            anomalies, summary = check(statistics.uri, schema, served_record(baseline), accept)
        except DriftError as exc:
            logging.error(DRIFT_LOG, "stopped: " + "; ".join(line.strip() for line in drifted_lines(exc.features)))
            raise
        _write(output, anomalies, summary)
        logging.info(DRIFT_LOG, summary["note"])
        if summary["status"] == ACCEPTED:
            for line in drifted_lines(summary["features"]):
                logging.warning("DriftGuard: accepted:%s", line)
