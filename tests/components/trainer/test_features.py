import math

import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components.trainer import features as features_lib
from components.trainer.features import Kind, SchemaError


def _schema(text: str) -> schema_pb2.Schema:
    return text_format.Parse(text, schema_pb2.Schema())


def test_taxi_schema_gives_typed_features_and_binary_label(taxi_features):
    kinds = {f.name: f.kind for f in taxi_features.features}
    assert "big_tipper" not in kinds
    assert kinds["fare"] is Kind.NUMERIC
    assert kinds["trip_seconds"] is Kind.NUMERIC and taxi_features.get("trip_seconds").stored_as_int
    assert kinds["trip_start_hour"] is Kind.CATEGORICAL_INT
    assert taxi_features.get("trip_start_hour").vocabulary == tuple(range(24))
    assert kinds["payment_type"] is Kind.CATEGORICAL_STRING
    assert "Cash" in taxi_features.get("payment_type").vocabulary
    assert taxi_features.get("company").vocabulary is None  # learned from data
    assert taxi_features.label.classes == (0, 1) and taxi_features.label.is_binary


def test_string_label_classes_come_from_its_domain():
    schema = _schema("""
      feature { name: "x" type: FLOAT }
      feature { name: "species" type: BYTES domain: "species" }
      string_domain { name: "species" value: "a" value: "b" value: "c" }""")
    fs = features_lib.features_from_schema(schema, "species")
    assert fs.label.classes == ("a", "b", "c") and not fs.label.is_binary and fs.label.is_string


def test_deprecated_feature_stays_out_of_the_model():
    schema = _schema("""
      feature { name: "x" type: FLOAT }
      feature { name: "leak" type: FLOAT lifecycle_stage: DEPRECATED }
      feature { name: "y" type: INT int_domain { min: 0 max: 1 } }""")
    assert features_lib.features_from_schema(schema, "y").names == ["x"]


def test_a_schema_whose_every_feature_is_kept_out_names_them_and_the_line_to_delete():
    schema = _schema("""
      feature { name: "PassengerId" type: INT lifecycle_stage: DEPRECATED }
      feature { name: "y" type: INT int_domain { min: 0 max: 1 } }""")
    with pytest.raises(SchemaError, match=r"no feature besides the label 'y': \['PassengerId'\] are kept out "
                                          r".*Delete the lifecycle_stage line"):
        features_lib.features_from_schema(schema, "y")


@pytest.mark.parametrize("text, label, words", [
    ('feature { name: "x" type: FLOAT }', "y", ["label 'y' is not a feature", "--label"]),
    ('feature { name: "x" type: FLOAT } feature { name: "y" type: INT int_domain { is_categorical: true } }',
     "y", ["does not bound its classes", "int_domain"]),
    ('feature { name: "x" type: FLOAT } '
     'feature { name: "y" type: INT int_domain { min: 1 max: 3 is_categorical: true } }',
     "y", ["must start at 0", "regression"]),
    ('feature { name: "x" type: FLOAT } feature { name: "y" type: BYTES }', "y", ["0 class(es)"]),
])
def test_label_errors_say_what_and_how_to_fix(text, label, words):
    with pytest.raises(SchemaError) as error:
        features_lib.features_from_schema(_schema(text), label)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("label_text, stored_as_int", [
    ('feature { name: "y" type: FLOAT }', False),
    ('feature { name: "y" type: INT }', True),
    ('feature { name: "y" type: INT int_domain { min: 25 max: 346 } }', True),  # a range, not classes
])
def test_a_number_label_without_classes_is_regression(label_text, stored_as_int):
    fs = features_lib.features_from_schema(_schema('feature { name: "x" type: FLOAT } ' + label_text), "y")
    assert fs.label.is_regression and fs.label.task == "regression"
    assert fs.label.classes == () and not fs.label.is_binary and not fs.label.is_string
    assert fs.label.dtype == (tf.int64 if stored_as_int else tf.float32)


def test_a_categorical_int_label_is_classification():
    fs = features_lib.features_from_schema(_schema(
        'feature { name: "x" type: FLOAT } feature { name: "y" type: INT int_domain { min: 0 max: 2 '
        'is_categorical: true } }'), "y")
    assert fs.label.task == "classification" and fs.label.classes == (0, 1, 2)


def test_invalid_schema_file_is_reported_with_its_path(tmp_path):
    path = tmp_path / "schema.pbtxt"
    path.write_text("feature { name: 'x' typo: FLOAT }")
    with pytest.raises(SchemaError, match="not a valid TFX schema") as error:
        features_lib.load_schema(str(path))
    assert str(path) in str(error.value)


def test_parse_fills_missing_values_per_kind(taxi_features):
    example = tf.train.Example()
    example.features.feature["fare"].float_list.value.append(7.5)
    example.features.feature["pickup_latitude"].CopyFrom(tf.train.Feature(float_list=tf.train.FloatList()))
    example.features.feature["big_tipper"].int64_list.value.append(1)
    parsed = taxi_features.parse(tf.constant([example.SerializeToString()] * 3), with_label=True)
    assert set(parsed) == set(taxi_features.names) | {"big_tipper"}
    assert all(t.shape == (3, 1) for t in parsed.values())
    assert parsed["fare"].numpy()[0, 0] == 7.5
    assert math.isnan(parsed["pickup_latitude"].numpy()[0, 0])
    assert parsed["trip_seconds"].numpy()[0, 0] == features_lib.MISSING_NUMERIC_INT
    assert parsed["trip_start_hour"].numpy()[0, 0] == features_lib.MISSING_INT
    assert parsed["payment_type"].numpy()[0, 0] == b""
    assert parsed["big_tipper"].numpy()[0, 0] == 1
