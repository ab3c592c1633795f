"""Features derived from the checked-in schema: the single source of truth.

Everything that must agree with everything else comes from `features_from_schema`:
the tf.Example parsing spec of the input_fn and of the serving signature, and the
names of the Keras model's inputs. Because the input_fn's feature keys and the Keras
input names are produced from the same list, `model_to_estimator`'s naming convention
(feature dict keys == `keras_model.input_names`) holds by construction.
"""
from __future__ import annotations

import dataclasses
import enum
import math
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.utils import io_utils

from components.names import ColumnNameError, derived_names

# Features in these lifecycle stages stay in the schema (so validation knows the
# column) but never reach the model.
_SKIPPED_STAGES = (
    schema_pb2.DEPRECATED,
    schema_pb2.DISABLED,
    schema_pb2.DEBUG_ONLY,
    schema_pb2.PLANNED,
)

MISSING_INT = -1                 # a missing categorical int (maps to the OOV slot)
MISSING_NUMERIC_INT = -(2**63)   # a missing numeric int (imputed by the model)
MISSING_STRING = ""

CLASSIFICATION = "classification"
REGRESSION = "regression"


class SchemaError(ValueError):
    """The schema cannot drive the model (what is wrong, in which feature, how to fix)."""


class Kind(enum.Enum):
    NUMERIC = "numeric"          # float or non-categorical int: normalized
    CATEGORICAL_INT = "int"      # int with is_categorical: IntegerLookup + Embedding
    CATEGORICAL_STRING = "string"  # bytes: StringLookup + Embedding
    TEXT = "text"                # bytes with `natural_language_domain {}`: tokens + embedding


@dataclasses.dataclass(frozen=True)
class Feature:
    name: str                    # the CSV column's own name: the tf.Example key
    kind: Kind
    # Vocabulary from the schema's string domain (or int range), if it has one;
    # otherwise the trainer learns it from the training split.
    vocabulary: Optional[Tuple] = None
    # Numeric features stored as INT in the data are parsed (and fed) as int64.
    stored_as_int: bool = False
    # The identifier derived from `name` (components/names.py): Keras input and layer names,
    # TF op names, file names. Equal to `name` when the name is already one.
    key: str = ""

    def __post_init__(self):
        if not self.key:
            object.__setattr__(self, "key", self.name)

    @property
    def dtype(self) -> tf.DType:
        if self.kind is Kind.NUMERIC:
            return tf.int64 if self.stored_as_int else tf.float32
        return tf.int64 if self.kind is Kind.CATEGORICAL_INT else tf.string

    @property
    def is_categorical(self) -> bool:
        """A feature with a vocabulary of whole values (not numbers, not free text)."""
        return self.kind in (Kind.CATEGORICAL_INT, Kind.CATEGORICAL_STRING)

    @property
    def is_string(self) -> bool:
        return self.kind in (Kind.CATEGORICAL_STRING, Kind.TEXT)

    @property
    def missing_value(self):
        """What a missing value becomes: NaN, a sentinel int, -1 or ''."""
        if self.kind is Kind.NUMERIC:
            return MISSING_NUMERIC_INT if self.stored_as_int else math.nan
        return MISSING_INT if self.kind is Kind.CATEGORICAL_INT else MISSING_STRING


@dataclasses.dataclass(frozen=True)
class Label:
    name: str
    classes: Tuple  # class values in class-id order: ints or strings; () for a regression label
    # A number to predict (a FLOAT label, or an INT one without a categorical domain); for a
    # regression label `stored_as_int` says how the data holds it.
    regression: bool = False
    stored_as_int: bool = False

    @property
    def is_regression(self) -> bool:
        return self.regression

    @property
    def task(self) -> str:
        return REGRESSION if self.regression else CLASSIFICATION

    @property
    def is_string(self) -> bool:
        return bool(self.classes) and isinstance(self.classes[0], str)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    @property
    def dtype(self) -> tf.DType:
        if self.regression:
            return tf.int64 if self.stored_as_int else tf.float32
        return tf.string if self.is_string else tf.int64


@dataclasses.dataclass(frozen=True)
class FeatureSet:
    features: Tuple[Feature, ...]
    label: Label

    @property
    def names(self) -> List[str]:
        """The features' CSV names (tf.Example keys), in schema order."""
        return [f.name for f in self.features]

    @property
    def keys(self) -> List[str]:
        """The features' derived identifiers (the built-in model's input names), in schema order."""
        return [f.key for f in self.features]

    def resolve(self, name: str) -> Optional[str]:
        """The CSV name of the feature called `name` (its CSV name or its derived one), or None."""
        for feature in self.features:
            if name in (feature.name, feature.key):
                return feature.name
        return None

    def parse(self, serialized: tf.Tensor, with_label: bool, raw: bool = False
              ) -> Dict[str, tf.Tensor]:
        """Parses a batch of serialized tf.Examples into one [batch, 1] tensor per feature.

        Used by the input_fn and by the serving signature alike. CsvExampleGen writes an
        empty CSV cell as a feature with no value, so every feature is parsed as VarLen and
        its first value taken, a missing one becoming the feature's `missing_value`.
        `raw=True` gives what a user's own model is fed: strings as they are (missing: ''),
        every number as float32 with NaN where it is missing.
        """
        return self.for_model(self.parse_values(serialized, with_label, raw), raw)

    def parse_values(self, serialized: tf.Tensor, with_label: bool, raw: bool = False
                     ) -> Dict[str, tf.Tensor]:
        """The first step of `parse`: one [batch] tensor per feature, of the schema's type.

        These are the values the serving signature over raw features takes: `for_model`
        turns them (parsed or fed) into what the model is fed.
        """
        columns = [(f.name, f.dtype, MISSING_NUMERIC_INT if raw and f.dtype == tf.int64 else f.missing_value)
                   for f in self.features]
        if with_label:
            columns.append((self.label.name, self.label.dtype, "" if self.label.is_string else 0))
        spec = {name: tf.io.VarLenFeature(dtype) for name, dtype, _ in columns}
        parsed = tf.io.parse_example(serialized, spec)
        batch = tf.shape(serialized)[0]
        values = {}
        for name, dtype, missing in columns:
            fill = tf.constant(missing, dtype)
            dense = tf.sparse.to_dense(parsed[name], default_value=fill)
            padding = tf.fill(tf.stack([batch, 1]), fill)
            values[name] = tf.concat([dense, padding], axis=1)[:, 0]
        return values

    def for_model(self, values: Dict[str, tf.Tensor], raw: bool = False) -> Dict[str, tf.Tensor]:
        """[batch] values (from `parse_values`, or fed) -> the [batch, 1] tensors `parse` gives."""
        dense = {name: tf.reshape(tensor, [-1, 1]) for name, tensor in values.items()}
        if raw:  # keyed by CSV name: a user's model is fed through its binding
            for f in self.features:
                if f.dtype == tf.int64 and f.name in dense:
                    missing = tf.equal(dense[f.name], MISSING_NUMERIC_INT)
                    dense[f.name] = tf.where(missing, tf.constant(math.nan, tf.float32),
                                             tf.cast(dense[f.name], tf.float32))
            return dense
        # The built-in model's inputs are named by the derived identifiers.
        for f in self.features:
            if f.name in dense:
                dense[f.key] = dense.pop(f.name)
        return dense

    def get(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)


def load_schema(path: str) -> schema_pb2.Schema:
    """Reads a text-format schema, with an actionable error when it is not one."""
    try:
        return io_utils.SchemaReader().read(path)
    except Exception as exc:  # the proto parser's own error is the useful detail
        raise SchemaError(
            f"{path}: not a valid TFX schema (text-format tensorflow_metadata Schema): {exc}. "
            "Generate one with `python -m pipeline infer-schema` and edit it.") from exc


def features_from_schema(schema: schema_pb2.Schema, label: str) -> FeatureSet:
    """The model's features and label, in schema order, from a Schema proto."""
    by_name = {f.name: f for f in schema.feature}
    try:  # the label takes part, so that no feature's identifier is the label's name
        keys = derived_names(by_name)
    except ColumnNameError as exc:
        raise SchemaError(str(exc)) from None
    if label not in by_name:
        csv_name = next((name for name, key in keys.items() if key == label), None)
        if csv_name is not None:
            raise SchemaError(f"label {label!r}: the label is named by its CSV name; pass --label {csv_name!r}.")
        raise SchemaError(
            f"label {label!r} is not a feature of the schema (features: {sorted(by_name)}). "
            "Pass the label column's name with --label, or add it to the schema.")
    features = tuple(
        dataclasses.replace(_feature(schema, f), key=keys[f.name]) for f in schema.feature
        if f.name != label and f.lifecycle_stage not in _SKIPPED_STAGES)
    if not features:
        kept_out = [f.name for f in schema.feature if f.name != label]
        raise SchemaError(
            f"the schema has no feature besides the label {label!r}"
            + (f": {kept_out} are kept out of the model (their lifecycle_stage, e.g. DEPRECATED, which "
               "infer-schema writes for a row identifier or an empty column). Delete the lifecycle_stage "
               "line of each one the model should use." if kept_out else
               ". Add the columns the model should learn from to the data and the schema."))
    return FeatureSet(features=features, label=_label(schema, by_name[label]))


def _string_domain(schema: schema_pb2.Schema, feature: schema_pb2.Feature) -> Optional[Sequence[str]]:
    if feature.HasField("string_domain"):
        return list(feature.string_domain.value)
    if feature.HasField("domain"):
        for domain in schema.string_domain:
            if domain.name == feature.domain:
                return list(domain.value)
    return None


def _feature(schema: schema_pb2.Schema, feature: schema_pb2.Feature) -> Feature:
    if feature.type == schema_pb2.FLOAT:
        return Feature(feature.name, Kind.NUMERIC)
    if feature.type == schema_pb2.INT:
        if feature.HasField("int_domain") and feature.int_domain.is_categorical:
            domain = feature.int_domain
            vocab = None
            if domain.HasField("min") and domain.HasField("max") and domain.max - domain.min < 10_000:
                vocab = tuple(range(domain.min, domain.max + 1))
            return Feature(feature.name, Kind.CATEGORICAL_INT, vocab)
        return Feature(feature.name, Kind.NUMERIC, stored_as_int=True)
    if feature.type == schema_pb2.BYTES:
        if feature.HasField("natural_language_domain"):  # TFDV's marker for free text
            return Feature(feature.name, Kind.TEXT)
        domain = _string_domain(schema, feature)
        return Feature(feature.name, Kind.CATEGORICAL_STRING, tuple(domain) if domain else None)
    raise SchemaError(
        f"feature {feature.name!r} has type {schema_pb2.FeatureType.Name(feature.type)}, "
        "which the model cannot use; give it type INT, FLOAT or BYTES, or set "
        "`lifecycle_stage: DEPRECATED` to keep it out of the model.")


def _label(schema: schema_pb2.Schema, feature: schema_pb2.Feature) -> Label:
    """The schema decides the task: a `string_domain` or a categorical `int_domain` makes
    classes; a FLOAT label, or an INT label without a categorical domain, is a number to predict."""
    how = ("For classification, give the label a string_domain listing its classes, or for an "
           "integer label a categorical int_domain with min 0 and max, e.g. "
           "`int_domain { min: 0 max: 1 is_categorical: true }`; for regression (a number to "
           "predict), give it type FLOAT, or type INT without `is_categorical`.")
    if feature.type == schema_pb2.FLOAT:
        return Label(feature.name, (), regression=True)
    if feature.type == schema_pb2.INT:
        domain = feature.int_domain
        if not (feature.HasField("int_domain") and domain.is_categorical):
            return Label(feature.name, (), regression=True, stored_as_int=True)
        if not (domain.HasField("min") and domain.HasField("max")):
            raise SchemaError(f"label {feature.name!r}: the schema does not bound its classes. {how}")
        if domain.min != 0:
            raise SchemaError(
                f"label {feature.name!r}: integer classes must start at 0 (found min {domain.min}). {how}")
        classes = tuple(range(domain.min, domain.max + 1))
    elif feature.type == schema_pb2.BYTES:
        classes = tuple(_string_domain(schema, feature) or ())
    else:
        raise SchemaError(
            f"label {feature.name!r} has type {schema_pb2.FeatureType.Name(feature.type)}, which "
            f"is neither classes nor a number. {how}")
    if len(classes) < 2:
        raise SchemaError(f"label {feature.name!r} has {len(classes)} class(es); need at least 2. {how}")
    return Label(feature.name, classes)
