"""`infer-schema`: a first schema for a CSV folder, to review, edit and check in."""
from __future__ import annotations

import os
import time
from typing import List, Optional, Tuple

from tensorflow_metadata.proto.v0 import schema_pb2

from components.drift_guard import thresholds
from components.names import ColumnNameError, derived_names
from pipeline.config import ConfigError
from pipeline.data import csv_statistics, dialect, kept_out, label_task

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
#  - `lifecycle_stage: DEPRECATED` keeps a column in the data but out of the model. infer-schema
#    sets it for a column empty in every row, an identifier (one value per row) and a string of
#    dates/times (a comment above it says why); delete the line to use the column.
#  - The label decides the task. Classification: a string_domain, or an int_domain with
#    min 0, max and `is_categorical: true` (its classes). Regression (a number to predict): a
#    FLOAT label, or an INT label without a categorical int_domain.
#  - `drift_comparator`: how far a new span's statistics may move from those of the data the
#    served model was trained on before a run stops (Jensen-Shannon divergence for numbers,
#    L-infinity distance for categories and text; defaults measured in BENCHMARKS.md). Raise a
#    threshold for a feature that moves by nature; `run --accept-drift` passes one reviewed span.
"""


# TFDV's default: a string column with at most this many distinct values gets a string_domain.
MAX_STRING_DOMAIN_SIZE = 100



def infer_schema(data_root: str, output: str, label: Optional[str] = None,
                 max_categorical_ints: int = 50, task: Optional[str] = None, delimiter: str = ",",
                 decimal: str = ".") -> Tuple[schema_pb2.Schema, Optional[str], List[str]]:
    """Infers a schema with TFDV, marks the label's task and small-range ints categorical, writes it.

    Returns the schema, one line saying the label's task, why, and how to change it (None
    without a label), and one line per column it kept out of the model (`lifecycle_stage:
    DEPRECATED`) saying why and how to keep it: a column empty in every row (one line for all),
    an identifier (see kept_out.MAX_SINGLE_VALUE_SHARE and MIN_EXPECTED_EQUAL_PAIRS), and a string
    column of dates/times (TFDV's time_domain), which the model could only embed as categories
    of whole dates, each new one unknown. The task is `task` when given, else guessed: a BYTES label, or an INT one
    from 0 with at most label_task.MAX_CLASSES_GUESSED distinct values (or one of two values, which is
    refused with the fix when not 0/1), is classification; otherwise regression (a score from 1
    to 5 too: classes must be 0..N-1).
    `delimiter` and `decimal` read a CSV of another dialect (pandas' option names).

    Free-text string columns get TFDV's own `natural_language_domain {}` (from its semantic
    domain statistics) and no vocabulary; a category column (at most MAX_STRING_DOMAIN_SIZE
    distinct values, even of several words each) keeps its string_domain. Every feature gets the
    default drift threshold of its kind (components/drift_guard/thresholds.py).
    """
    if not os.path.isdir(data_root):
        raise ConfigError(f"--data-root {data_root!r} is not a folder")
    if not dialect.csv_files(data_root):
        raise ConfigError(f"--data-root {data_root!r} holds no .csv file")
    csv_statistics.check_dialect(data_root, delimiter)
    import tensorflow_data_validation as tfdv  # slow import, only for this command

    stats = csv_statistics.read(tfdv, data_root, delimiter, decimal)
    names = [csv_statistics.stats_name(f) for f in stats.datasets[0].features]
    try:  # the schema keeps the CSV's names; each must give an identifier for the model
        derived_names(names)
    except ColumnNameError as exc:
        raise ConfigError(str(exc)) from None
    if label is not None and label not in names:
        raise ConfigError(f"--label {label!r} is not a column of the data (columns: {names})")
    if task is not None and task not in label_task.TASKS:
        raise ConfigError(f"--task {task!r}: use one of {', '.join(label_task.TASKS)}")
    empty = kept_out.empty_columns(stats)
    if label in empty:
        raise ConfigError(f"--label {label!r}: the column has no value in any row of {data_root}; "
                          "check --label or the export that wrote the data")
    _keep_as_categories(stats, label)
    schema = tfdv.infer_schema(stats, infer_feature_shape=False,
                               max_string_domain_size=MAX_STRING_DOMAIN_SIZE)
    ranges = csv_statistics.int_ranges(stats)
    decision = None
    if label is not None:
        label_type = next(f.type for f in schema.feature if f.name == label)
        whole = (label_task.whole_number_values(data_root, label, delimiter, decimal)
                 if label_type == schema_pb2.FLOAT else None)
        task, decision = label_task.decide(schema, label, ranges.get(label), task, whole)
        unlabelled = csv_statistics.missing(stats, label)
        if unlabelled:
            decision += (f" Its cell is empty in {unlabelled} of {stats.datasets[0].num_examples} rows, "
                         "which `run` refuses (a row needs its label to learn from): fill them, or "
                         "move those rows out of the data.")
    dates = kept_out.date_columns(schema, stats, label)
    identifiers = kept_out.identifier_columns(data_root, stats, schema, label, set(dates) | empty, delimiter)
    for feature in schema.feature:
        # CsvExampleGen writes an empty cell as a feature with no value; a value_count
        # of min 1 would flag every such cell as an anomaly.
        feature.ClearField("value_count")
        lo_hi = ranges.get(feature.name)
        if feature.type == schema_pb2.INT and lo_hi is not None and feature.name not in identifiers:
            lo, hi, unique = lo_hi
            if feature.name == label and task == label_task.REGRESSION:
                feature.ClearField("int_domain")
            elif feature.name == label:
                feature.int_domain.min = int(lo)
                feature.int_domain.max = int(hi)
                feature.int_domain.is_categorical = True
            elif 1 < unique <= max_categorical_ints:
                # Few distinct values: most likely codes. No min/max, so new codes in
                # tomorrow's data are learned, not flagged.
                feature.int_domain.is_categorical = True
    _drop_text_vocabularies(schema)
    for feature in schema.feature:
        if feature.name in empty:  # `run` refuses a model feature that no row fills
            feature.lifecycle_stage = schema_pb2.DEPRECATED
    kept_out.keep_out(schema, set(identifiers) | set(dates))
    kept_lines = ([f"no value in any row, so kept out of the model (lifecycle_stage: DEPRECATED): "
                 f"{', '.join(repr(f.name) for f in schema.feature if f.name in empty)}."]
                if empty else [])
    kept_lines += [identifiers[f.name] for f in schema.feature if f.name in identifiers]
    kept_lines += [dates[f.name] for f in schema.feature if f.name in dates]
    if label is not None:
        label_task.set_label_domain(schema, label, task)
    thresholds.add_drift_comparators(schema)
    reasons = {name: "no value in any row" for name in empty}
    reasons.update({name: "an identifier, most of its values in one row only" for name in identifiers})
    reasons.update({name: "dates/times, each new one an unknown category" for name in dates})
    text = HEADER.format(data_root=data_root) + kept_out.with_reasons(str(schema), reasons)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, output)
    return schema, decision, kept_lines


def identifiers_note(schema: schema_pb2.Schema, label: Optional[str] = None) -> str:
    """One line naming the identifiers derived from CSV names that are not identifiers themselves
    (of the model's inputs: not the label nor a DEPRECATED column)."""
    keys = derived_names([f.name for f in schema.feature])
    unused = set(deprecated_features(schema)) | {label}  # no model input
    renamed = [f"{name!r} -> {key}" for name, key in keys.items() if name != key and name not in unused]
    if not renamed:
        return ""
    return ("features keep the CSV's names; the model's inputs use identifiers derived from them: "
            + ", ".join(renamed) + ".")


def placeholder_note(data_root: str, schema: schema_pb2.Schema, label: Optional[str] = None,
                     delimiter: str = ",", decimal: str = ".") -> str:
    """One line per string column that holds numbers but for a few values such as 'N/A' or '?'
    (typed BYTES for them, so a category), with the command that writes them as empty cells."""
    columns = [f.name for f in schema.feature if f.type == schema_pb2.BYTES and f.name != label
               and not f.HasField("natural_language_domain")]
    if not columns:
        return ""
    found = {}
    for path in dialect.csv_files(data_root):
        for column, values in dialect.placeholders(path, columns, delimiter, decimal).items():
            for value, cells in values.items():
                found.setdefault(column, {}).setdefault(value, 0)
                found[column][value] += cells
    if not found:
        return ""
    lines = [f"column {column!r} holds numbers but for "
             + ", ".join(f"{value!r} ({cells} rows)" for value, cells in sorted(values.items()))
             + ", so it is typed BYTES: a category, not a number." for column, values in found.items()]
    tokens = sorted({value for values in found.values() for value in values})
    return "\n".join(lines) + (
        "\nIf those values mean 'missing', write a copy with them as empty cells and infer the schema "
        "from it:\n  " + dialect.conversion_command(data_root, delimiter, decimal, tokens))


def deprecated_features(schema: schema_pb2.Schema) -> List[str]:
    """The features kept out of the model (`lifecycle_stage: DEPRECATED`), in schema order."""
    return [f.name for f in schema.feature if f.lifecycle_stage == schema_pb2.DEPRECATED]


def text_features(schema: schema_pb2.Schema) -> List[str]:
    """The features marked as free text (`natural_language_domain`), in schema order."""
    return [f.name for f in schema.feature if f.HasField("natural_language_domain")]


def log_path(output_dir: str) -> str:
    """Where infer-schema keeps the TensorFlow / Beam / TFDV log: beside `run`'s logs."""
    return os.path.join(os.path.abspath(output_dir), "logs",
                        time.strftime("infer-schema-%Y%m%d-%H%M%S.log"))


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
        is_label = csv_statistics.stats_name(feature) == label
        if is_label or few_values:  # a few dates keep their time_domain (kept_out.date_columns)
            kept = [c for c in feature.custom_stats if c.name != "domain_info"
                    or not (is_label or c.str.startswith("natural_language_domain"))]
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


