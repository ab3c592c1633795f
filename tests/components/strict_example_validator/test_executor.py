import os

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import io_utils

from components.strict_example_validator import executor


def test_describe_lists_split_feature_and_fix():
    anomalies = text_format.Parse("""
      anomaly_info { key: "colour" value { short_description: "Unexpected string values"
                                           description: "Examples contain values missing from the schema: mauve." } }""",
                                  anomalies_pb2.Anomalies())
    report = executor.describe({"train": anomalies, "eval": anomalies_pb2.Anomalies()}, "schemas/x.pbtxt")
    assert "[train] feature 'colour': Unexpected string values: Examples contain values missing" in report
    assert "[eval]" not in report
    assert "update the schema (schemas/x.pbtxt)" in report
    assert executor.describe({"train": anomalies_pb2.Anomalies()}) == ""


def _run(tmp_path, frame: pd.DataFrame):
    schema = text_format.Parse("""
      feature { name: "colour" type: BYTES domain: "colour" }
      string_domain { name: "colour" value: "red" value: "blue" }""", schema_pb2.Schema())
    schema_dir = tmp_path / "schema"
    schema_dir.mkdir(parents=True)
    io_utils.write_pbtxt_file(str(schema_dir / "schema.pbtxt"), schema)
    stats_artifact = standard_artifacts.ExampleStatistics()
    stats_artifact.uri = str(tmp_path / "stats")
    stats_artifact.split_names = artifact_utils.encode_split_names(["train"])
    os.makedirs(os.path.join(stats_artifact.uri, "Split-train"))
    stats = tfdv.generate_statistics_from_dataframe(frame)
    io_utils.write_bytes_file(os.path.join(stats_artifact.uri, "Split-train", "FeatureStats.pb"),
                              stats.SerializeToString())
    schema_artifact = standard_artifacts.Schema()
    schema_artifact.uri = str(schema_dir)
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = str(tmp_path / "anomalies")
    executor.Executor().Do(
        {standard_component_specs.STATISTICS_KEY: [stats_artifact],
         standard_component_specs.SCHEMA_KEY: [schema_artifact]},
        {standard_component_specs.ANOMALIES_KEY: [anomalies]},
        {standard_component_specs.EXCLUDE_SPLITS_KEY: "[]"})
    return anomalies


def test_executor_passes_clean_data_and_stops_on_anomalies(tmp_path):
    _run(tmp_path / "clean", pd.DataFrame({"colour": ["red", "blue", "red"]}))
    with pytest.raises(executor.DataAnomaliesError) as error:
        _run(tmp_path / "bad", pd.DataFrame({"colour": ["red", "mauve", "red"]}))
    assert "feature 'colour'" in error.value.report and "mauve" in error.value.report
    # The anomalies artifact is still written, for inspection.
    assert os.path.isfile(tmp_path / "bad" / "anomalies" / "Split-train" / "SchemaDiff.pb")
