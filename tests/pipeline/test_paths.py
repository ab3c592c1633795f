"""No path built from user input can point outside the output dir or the push destination."""
import os

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components.atomic_pusher import executor as pusher
from components.names import is_plain_name
from components.trainer.features import SchemaError, features_from_schema
from pipeline import config as config_lib
from pipeline.config import ConfigError, PipelineConfig


@pytest.mark.parametrize("name", ["..", "../evil", "/etc", "a/b", "a/../../b", "-x", "A", "x" * 64, "", "ok\n"])
def test_pipeline_names_that_could_be_paths_are_refused(name):
    with pytest.raises(ConfigError, match="pipeline name"):
        PipelineConfig(pipeline_name=name)


@pytest.mark.parametrize("output_dir", ["out/../../elsewhere", "a/./b/..", "/tmp/x/../y"])
def test_every_output_path_is_inside_the_normalized_output_dir(output_dir):
    config = config_lib.absolute(PipelineConfig(output_dir=output_dir))
    assert config.output_dir == os.path.normpath(os.path.abspath(output_dir))
    for path in (config.pipeline_root, config.metadata_path, config.serving_dir):
        assert os.path.commonpath([path, config.output_dir]) == config.output_dir
        assert ".." not in path.split(os.sep)


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/b", "has space", "x\n"])
def test_feature_names_that_could_be_paths_get_plain_identifiers(name):
    """A feature keeps its CSV name as its tf.Example key; anything named after it uses its key."""
    schema = text_format.Parse('feature { name: "y" type: INT int_domain { min: 0 max: 1 } }',
                               schema_pb2.Schema())
    schema.feature.add(name=name, type=schema_pb2.FLOAT)
    feature = features_from_schema(schema, "y").get(name)
    assert feature.name == name and is_plain_name(feature.key) and "/" not in feature.key


@pytest.mark.parametrize("name", ["/", "..", ""])
def test_feature_names_without_an_identifier_are_refused(name):
    schema = text_format.Parse('feature { name: "y" type: INT int_domain { min: 0 max: 1 } }',
                               schema_pb2.Schema())
    schema.feature.add(name=name, type=schema_pb2.FLOAT)
    with pytest.raises(SchemaError, match="no letter or digit|empty"):
        features_from_schema(schema, "y")


def test_pushed_versions_are_numeric_children_of_the_destination(tmp_path):
    model = tmp_path / "model"
    (model / "assets").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "assets" / "..data").write_bytes(b"odd but harmless name")
    base = tmp_path / "serving"
    versions = [pusher.publish(str(model), str(base)) for _ in range(3)]
    for version in versions:
        assert os.path.dirname(version) == str(base) and os.path.basename(version).isdigit()
    assert sorted(os.listdir(tmp_path)) == ["model", "serving"]  # nothing written beside it


def test_an_output_dir_that_cannot_be_written_is_refused_before_anything_runs(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for output_dir in (str(blocker / "out"), "/proc/keras-tfx-out"):
        with pytest.raises(ConfigError, match="cannot be written") as error:
            PipelineConfig(output_dir=output_dir).check_output_dir()
        assert output_dir in str(error.value) and "--output-dir" in str(error.value)
