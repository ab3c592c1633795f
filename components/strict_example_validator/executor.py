"""ExampleValidator's executor, made to stop the run when the data has anomalies.

TFX's ExampleValidator records anomalies but lets the pipeline go on to train on the
bad data. This executor writes the same anomalies artifact (so it can be inspected),
then raises `DataAnomaliesError` with one readable line per anomaly.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.components.example_validator import executor as stock_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils


class DataAnomaliesError(RuntimeError):
    """The data does not fit the schema; training would learn from bad data."""

    def __init__(self, report: str):
        super().__init__(report)
        self.report = report


def _anomalies_of(anomalies_artifact: types.Artifact, split: str) -> anomalies_pb2.Anomalies:
    path = os.path.join(artifact_utils.get_split_uri([anomalies_artifact], split),
                        stock_executor.DEFAULT_FILE_NAME)
    return anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(path))


def describe(anomalies_by_split: Dict[str, anomalies_pb2.Anomalies], schema_hint: str = "") -> str:
    """One line per anomaly: split, feature, what is wrong; then what to do."""
    lines = []
    for split, anomalies in sorted(anomalies_by_split.items()):
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            lines.append(f"  [{split}] whole data set: {info.short_description}: {info.description}")
        for feature, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"  [{split}] feature {feature!r}: {info.short_description}: {info.description}")
    if not lines:
        return ""
    where = f" ({schema_hint})" if schema_hint else ""
    return ("the data does not match the schema, so the run stopped before training:\n"
            + "\n".join(lines)
            + "\nWhat to do: fix these rows or columns in the CSV data; if the change is intended "
              f"(a new column, a new category, a wider range), update the schema{where} and rerun.")


class Executor(stock_executor.Executor):
    """Validates like the stock executor, then fails the component on any anomaly."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]):
        result = super().Do(input_dict, output_dict, exec_properties)
        anomalies_artifact = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.ANOMALIES_KEY])
        by_split = {
            split: _anomalies_of(anomalies_artifact, split)
            for split in artifact_utils.decode_split_names(anomalies_artifact.split_names)
        }
        report = describe(by_split)
        if report:
            raise DataAnomaliesError(report)
        return result
