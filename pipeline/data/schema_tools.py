"""`infer-schema`: a first schema for a CSV folder, to review, edit and check in."""
from __future__ import annotations

import collections
import csv
import os
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from tensorflow_metadata.proto.v0 import schema_pb2

from components.drift_guard import thresholds
from components.names import ColumnNameError, derived_names
from pipeline.config import ConfigError
from pipeline.data import dialect

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

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
# An INT label with at most this many distinct values (its range, from min to max) is taken for
# classes; with more, for a number to predict.
MAX_CLASSES_GUESSED = 20

# TFDV's default: a string column with at most this many distinct values gets a string_domain.
MAX_STRING_DOMAIN_SIZE = 100

# Identifier columns (a row's key: PassengerId, customerID, a ticket number) are kept out of the
# model. A string column is one when more than this share of its filled cells hold a value that
# no other row has: such a value is one embedding row learned from one example (memorised, and
# unknown in every new row), so when most rows have one the column names rows instead of
# grouping them. A category keeps most of its rows in repeated values even when it has many
# (the taxi data's companies: 0.3% single; a Titanic ticket number: 61%; a customer ID: 100%).
MAX_SINGLE_VALUE_SHARE = 0.5
# Below this many filled cells a column is too small to tell (and nearly empty anyway).
MIN_VALUES_FOR_IDENTIFIER = 20
# An INT column is one when its values are all distinct although n values drawn at random from
# its range (max - min + 1) would repeat: n*n / (2 * range) is the number of equal pairs to
# expect, and with at least this many the chance of none is below e**-7 (0.1%), so the values
# were handed out one per row (1..n, or random account numbers), not measured. A measurement
# that happens to be all distinct (200 salaries between 20000 and 200000: 0.1 pairs expected)
# stays a number.
MIN_EXPECTED_EQUAL_PAIRS = 7


def infer_schema(data_root: str, output: str, label: Optional[str] = None,
                 max_categorical_ints: int = 50, task: Optional[str] = None, delimiter: str = ",",
                 decimal: str = ".") -> Tuple[schema_pb2.Schema, Optional[str], List[str]]:
    """Infers a schema with TFDV, marks the label's task and small-range ints categorical, writes it.

    Returns the schema, one line saying the label's task, why, and how to change it (None
    without a label), and one line per column it kept out of the model (`lifecycle_stage:
    DEPRECATED`) saying why and how to keep it: a column empty in every row (one line for all),
    an identifier (see MAX_SINGLE_VALUE_SHARE and MIN_EXPECTED_EQUAL_PAIRS), and a string
    column of dates/times (TFDV's time_domain), which the model could only embed as categories
    of whole dates, each new one unknown. The task is `task` when given, else guessed: a BYTES label, or an INT one
    from 0 with at most MAX_CLASSES_GUESSED distinct values (or one of two values, which is
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
    if not any(f.lower().endswith(".csv") for f in os.listdir(data_root)):
        raise ConfigError(f"--data-root {data_root!r} holds no .csv file")
    _check_dialect(data_root, delimiter)
    import tensorflow_data_validation as tfdv  # slow import, only for this command

    stats = _statistics(tfdv, data_root, delimiter, decimal)
    names = [_stats_name(f) for f in stats.datasets[0].features]
    try:  # the schema keeps the CSV's names; each must give an identifier for the model
        derived_names(names)
    except ColumnNameError as exc:
        raise ConfigError(str(exc)) from None
    if label is not None and label not in names:
        raise ConfigError(f"--label {label!r} is not a column of the data (columns: {names})")
    if task is not None and task not in TASKS:
        raise ConfigError(f"--task {task!r}: use one of {', '.join(TASKS)}")
    empty = _empty_columns(stats)
    if label in empty:
        raise ConfigError(f"--label {label!r}: the column has no value in any row of {data_root}; "
                          "check --label or the export that wrote the data")
    _keep_as_categories(stats, label)
    schema = tfdv.infer_schema(stats, infer_feature_shape=False,
                               max_string_domain_size=MAX_STRING_DOMAIN_SIZE)
    ranges = _int_ranges(stats)
    decision = None
    if label is not None:
        label_type = next(f.type for f in schema.feature if f.name == label)
        whole = (_whole_number_values(data_root, label, delimiter, decimal)
                 if label_type == schema_pb2.FLOAT else None)
        task, decision = _label_task(schema, label, ranges.get(label), task, whole)
        unlabelled = _missing(stats, label)
        if unlabelled:
            decision += (f" Its cell is empty in {unlabelled} of {stats.datasets[0].num_examples} rows, "
                         "which `run` refuses (a row needs its label to learn from): fill them, or "
                         "move those rows out of the data.")
    dates = _date_columns(schema, stats, label)
    identifiers = _identifier_columns(data_root, stats, schema, label, set(dates) | empty, delimiter)
    for feature in schema.feature:
        # CsvExampleGen writes an empty cell as a feature with no value; a value_count
        # of min 1 would flag every such cell as an anomaly.
        feature.ClearField("value_count")
        lo_hi = ranges.get(feature.name)
        if feature.type == schema_pb2.INT and lo_hi is not None and feature.name not in identifiers:
            lo, hi, unique = lo_hi
            if feature.name == label and task == REGRESSION:
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
    _keep_out(schema, set(identifiers) | set(dates))
    kept_out = ([f"no value in any row, so kept out of the model (lifecycle_stage: DEPRECATED): "
                 f"{', '.join(repr(f.name) for f in schema.feature if f.name in empty)}."]
                if empty else [])
    kept_out += [identifiers[f.name] for f in schema.feature if f.name in identifiers]
    kept_out += [dates[f.name] for f in schema.feature if f.name in dates]
    if label is not None:
        _set_label_domain(schema, label, task)
    thresholds.add_drift_comparators(schema)
    reasons = {name: "no value in any row" for name in empty}
    reasons.update({name: "an identifier, most of its values in one row only" for name in identifiers})
    reasons.update({name: "dates/times, each new one an unknown category" for name in dates})
    text = HEADER.format(data_root=data_root) + _with_reasons(str(schema), reasons)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, output)
    return schema, decision, kept_out


def _label_task(schema: schema_pb2.Schema, label: str, lo_hi, task: Optional[str], whole=None):
    """(task, the one line that says it, why, and how to change it). `whole`: a FLOAT label's
    values when every one is a whole number (1.0), as pandas writes an integer column with gaps."""
    feature = next(f for f in schema.feature if f.name == label)
    kind = schema_pb2.FeatureType.Name(feature.type)
    as_decimals = ""
    if whole:
        shown = ", ".join(f"{v:g}" for v in whole[:5]) + (", …" if len(whole) > 5 else "")
        as_decimals = (f" Its values ({shown}) are whole numbers written as decimals ('1.0'): if they "
                       "are classes, write them as 0..N-1 without the '.0' (or as strings) in the CSV "
                       "and rerun infer-schema.")
    if task is None:
        if feature.type == schema_pb2.BYTES:
            task, why = CLASSIFICATION, "its values are strings"
        elif (feature.type == schema_pb2.INT and lo_hi is not None and lo_hi[2] <= MAX_CLASSES_GUESSED
              and (lo_hi[0] == 0 or lo_hi[2] <= 2)):
            # Two values other than 0 and 1 (1/2, -1/0) are still classes, refused below with the fix.
            task, why = CLASSIFICATION, (f"whole numbers from {lo_hi[0]:g} to {lo_hi[1]:g}: at most "
                                         f"{MAX_CLASSES_GUESSED} distinct values")
        elif feature.type == schema_pb2.INT and lo_hi is not None and lo_hi[2] <= MAX_CLASSES_GUESSED:
            # A score such as a wine's quality 3..9: classes must be 0..N-1, so a number to predict.
            task, why = REGRESSION, (f"whole numbers from {lo_hi[0]:g} to {lo_hi[1]:g}: a score, "
                                     "not classes, which are numbered 0..N-1")
            return task, (f"label {label!r}: {task} ({why}; the schema gives it no categorical "
                          "domain). To predict classes instead, map its values to 0..N-1 (or to "
                          "strings) in the CSV and rerun infer-schema.")
        elif feature.type == schema_pb2.INT:
            span = f" from {lo_hi[0]:g} to {lo_hi[1]:g}" if lo_hi is not None else ""
            task, why = REGRESSION, (f"whole numbers{span}: more than {MAX_CLASSES_GUESSED} "
                                     "distinct values")
        else:
            task, why = REGRESSION, "its values are decimal numbers"
    else:
        why = "--task"
        if task == REGRESSION and feature.type == schema_pb2.BYTES:
            raise ConfigError(f"--task regression: label {label!r} holds strings, not numbers; "
                              "use --task classification, or another label")
        if task == CLASSIFICATION and feature.type == schema_pb2.FLOAT:
            raise ConfigError(f"--task classification: label {label!r} holds decimal numbers, not "
                              "classes; use --task regression, or map its values to classes 0..N-1 "
                              "(or to strings) in the CSV" + ("." + as_decimals if whole else ""))
    other = REGRESSION if task == CLASSIFICATION else CLASSIFICATION
    if task == REGRESSION:
        how = ("the schema gives it no categorical domain" if kind == "INT" else f"type {kind}")
    else:
        how = ("its string_domain lists the classes" if kind == "BYTES"
               else "int_domain { min max is_categorical: true } lists the classes")
    line = (f"label {label!r}: {task} ({why}; {how}). To change it, rerun with --task {other}"
            + (" or edit the label's domain in the schema" if kind != "FLOAT" else "") + "."
            + (as_decimals if task == REGRESSION else ""))
    return task, line


def _whole_number_values(data_root: str, label: str, delimiter: str = ",", decimal: str = ".",
                         most: int = MAX_CLASSES_GUESSED) -> Optional[List[float]]:
    """The label's distinct values when every one is a whole number and there are at most `most`."""
    values = set()
    for name in sorted(os.listdir(data_root)):
        if not name.lower().endswith(".csv"):
            continue
        with open(os.path.join(data_root, name), newline="", encoding="utf-8-sig", errors="replace") as f:
            rows = csv.DictReader(f, delimiter=delimiter)
            for row in rows:
                cell = (row.get(label) or "").strip().replace(decimal, ".")
                if not cell:
                    continue
                try:
                    value = float(cell)
                except ValueError:
                    return None
                if not value.is_integer():
                    return None
                values.add(value)
                if len(values) > most:
                    return None
    return sorted(values) or None


def _check_dialect(data_root: str, delimiter: str) -> None:
    """Refuses a file whose fields are separated by another character, naming it and the options."""
    files = sorted(os.path.join(data_root, f) for f in os.listdir(data_root) if f.lower().endswith(".csv"))
    for path in files:
        found = dialect.describe(path, delimiter)
        if found is not None:
            raise ConfigError(f"{dialect.found_message(path, *found)}; read it with --delimiter "
                              f"{dialect.quoted(found[0])}" + (" --decimal ','" if found[1] == "," else ""))


def _statistics(tfdv, data_root: str, delimiter: str, decimal: str):
    """TFDV's statistics of the CSV files, read as `delimiter`/`decimal` say (via a comma-separated
    copy in a temporary folder when they are not ',' and '.'); a file of another dialect is refused
    with the options that read it."""
    if delimiter == "," and decimal == ".":
        return _csv_statistics(tfdv, data_root, data_root)
    with tempfile.TemporaryDirectory(prefix="infer-schema-") as copy:
        dialect.convert(data_root, copy, delimiter, decimal)
        return _csv_statistics(tfdv, copy, data_root)


def _csv_statistics(tfdv, folder: str, data_root: str):
    """TFDV's statistics of the folder's CSV files, read as `run`'s CsvExampleGen reads them.

    tfdv.generate_statistics_from_csv reads line by line, so a quoted value with a newline in it
    (free text) broke it; this uses CsvExampleGen's own record reader, header rule and decoder.
    A header CsvExampleGen would read otherwise (a byte-order mark, quoted names), or one that
    differs between files, is refused as `run` refuses it (named as in `data_root`).
    """
    import apache_beam as beam
    from tfx.components.example_gen.csv_example_gen.executor import _ReadCsvRecordsFromTextFile
    from tensorflow_data_validation.coders import csv_decoder
    from pipeline.data import csv_check

    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".csv"))
    headers = []
    for path in files:
        shown = os.path.join(data_root, os.path.basename(path))
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            header = next(csv.reader(f), None)
        if not header:
            raise ConfigError(f"{shown} is empty; remove it, or give it a header row and data rows")
        try:
            headers.append(csv_check.example_gen_header(path, header))
        except csv_check.DataError as exc:
            raise ConfigError(str(exc).replace(folder, data_root)) from None
        if headers[-1] != headers[0]:
            raise ConfigError(csv_check.different_header_message(
                shown, headers[-1], os.path.join(data_root, os.path.basename(files[0])), headers[0]))
    options = tfdv.StatsOptions(enable_semantic_domain_stats=True)
    with tempfile.TemporaryDirectory(prefix="infer-schema-stats-") as out:
        output = os.path.join(out, "stats.tfrecord")
        with beam.Pipeline() as pipeline:
            _ = (pipeline
                 | "Files" >> beam.Create(files)
                 | "Records" >> beam.ParDo(_ReadCsvRecordsFromTextFile())  # quoted newlines kept
                 | "Decode" >> csv_decoder.DecodeCSV(column_names=headers[0], delimiter=",",
                                                     skip_blank_lines=True)
                 | "Statistics" >> tfdv.GenerateStatistics(options)
                 | "Write" >> tfdv.WriteStatisticsToTFRecord(output))
        return tfdv.load_statistics(output)


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
    for name in sorted(os.listdir(data_root)):
        if name.lower().endswith(".csv"):
            for column, values in dialect.placeholders(os.path.join(data_root, name), columns,
                                                       delimiter, decimal).items():
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


def _empty_columns(stats) -> set:
    """The columns without a value in any row (every cell empty)."""
    empty = set()
    for feature in stats.datasets[0].features:
        common = _common_stats(feature)
        if common is not None and common.num_non_missing == 0:
            empty.add(_stats_name(feature))
    return empty


def _common_stats(feature):
    kind = feature.WhichOneof("stats")
    return getattr(feature, kind).common_stats if kind else None


def _missing(stats, column: str) -> int:
    """In how many rows the column's cell is empty."""
    for feature in stats.datasets[0].features:
        if _stats_name(feature) == column and _common_stats(feature) is not None:
            return int(_common_stats(feature).num_missing)
    return 0


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
        is_label = _stats_name(feature) == label
        if is_label or few_values:  # a few dates keep their time_domain (_date_columns)
            kept = [c for c in feature.custom_stats if c.name != "domain_info"
                    or not (is_label or c.str.startswith("natural_language_domain"))]
            del feature.custom_stats[:]
            feature.custom_stats.extend(kept)


def _date_columns(schema: schema_pb2.Schema, stats, label: Optional[str]) -> Dict[str, str]:
    """The string columns of dates/times, each with its line for the terminal.

    TFDV's time_domain (when at least 80% of 100 or more values have one date/time format, or
    an int is in the range of Unix times). A string of dates is embedded as a category of whole
    dates: every date after the training data is unknown, and rows of the same day in the train
    and eval splits let the model memorise days. An int of Unix times stays a number (a trend).
    """
    examples = {_stats_name(f): f.string_stats.top_values[0].value for f in stats.datasets[0].features
                if f.HasField("string_stats") and f.string_stats.top_values}
    found = {}
    for feature in schema.feature:
        if feature.name == label or feature.type != schema_pb2.BYTES or not feature.HasField("time_domain"):
            continue
        example = f", e.g. {examples[feature.name]!r}" if feature.name in examples else ""
        found[feature.name] = (
            f"column {feature.name!r} holds dates/times (format {feature.time_domain.string_format!r}"
            f"{example}), which the model could only embed as categories of whole values, every new "
            "date unknown at prediction time, so it is kept out of the model (lifecycle_stage: "
            "DEPRECATED). Derive what matters from it as columns of the CSV (month, weekday, hour, "
            "days since an event) and rerun infer-schema; to embed it anyway, or to parse it in your "
            "own --model, delete its lifecycle_stage line in the schema.")
    return found


def _identifier_columns(data_root: str, stats, schema: schema_pb2.Schema, label: Optional[str],
                        skipped: set, delimiter: str = ",") -> Dict[str, str]:
    """The identifier columns (see MAX_SINGLE_VALUE_SHARE and MIN_EXPECTED_EQUAL_PAIRS), each with
    its line for the terminal. Never the label, free text or a column in `skipped`; TFDV's
    statistics pick the candidates, and their cells are counted in the CSV files."""
    types = {f.name: f.type for f in schema.feature}
    text = set(text_features(schema))
    candidates = {}
    for feature in stats.datasets[0].features:
        name, common = _stats_name(feature), _common_stats(feature)
        if name == label or name in skipped or name in text or common is None:
            continue
        filled = int(common.num_non_missing)
        if filled < MIN_VALUES_FOR_IDENTIFIER:
            continue
        if types.get(name) == schema_pb2.INT and feature.HasField("num_stats"):
            span = feature.num_stats.max - feature.num_stats.min + 1
            if span >= filled and filled * filled / (2 * span) >= MIN_EXPECTED_EQUAL_PAIRS:
                candidates[name] = int
        elif (types.get(name) == schema_pb2.BYTES and feature.HasField("string_stats")
              and feature.string_stats.unique > MAX_SINGLE_VALUE_SHARE * filled):
            candidates[name] = str
    if not candidates:
        return {}
    counts = {name: collections.Counter() for name in candidates}
    for name in sorted(os.listdir(data_root)):
        if not name.lower().endswith(".csv"):
            continue
        with open(os.path.join(data_root, name), newline="", encoding="utf-8-sig", errors="replace") as f:
            for row in csv.DictReader(f, delimiter=delimiter):
                for column, counter in counts.items():
                    cell = row.get(column) or ""
                    if cell:
                        counter[_as_int(cell) if candidates[column] is int else cell] += 1
    found = {}
    for column in (f.name for f in schema.feature if f.name in candidates):
        counter = counts[column]
        filled = sum(counter.values())
        single = sum(1 for cells in counter.values() if cells == 1)
        if candidates[column] is int and filled and single == filled:
            lo, hi = min(counter), max(counter)
            found[column] = (
                f"column {column!r}: its {filled} whole numbers ({lo} to {hi}"
                + (", consecutive" if hi - lo + 1 == filled else "") + ") are all different, as a "
                "row's identifier is, so it is kept out of the model (lifecycle_stage: DEPRECATED): a "
                "model learns nothing general from a row's key. If it is a measured number, delete its "
                "lifecycle_stage line in the schema.")
        elif candidates[column] is str and single > MAX_SINGLE_VALUE_SHARE * filled:
            found[column] = (
                f"column {column!r}: {single} of its {filled} values occur in one row only, as an "
                "identifier's do, so it is kept out of the model (lifecycle_stage: DEPRECATED): each "
                "would be a category learned from one row, unknown in new data. If its values do "
                "group rows, delete its lifecycle_stage line in the schema.")
    return found


def _as_int(cell: str):
    try:
        return int(cell)
    except ValueError:
        return cell


def _keep_out(schema: schema_pb2.Schema, names: set) -> None:
    """Marks the features DEPRECATED and drops their vocabularies (an identifier's would list
    every row's key, and flag each new one)."""
    dropped = set()
    for feature in schema.feature:
        if feature.name not in names:
            continue
        feature.lifecycle_stage = schema_pb2.DEPRECATED
        if feature.HasField("domain"):
            dropped.add(feature.domain)
            feature.ClearField("domain")
        feature.ClearField("int_domain")
    used = {f.domain for f in schema.feature if f.HasField("domain")}
    kept = [d for d in schema.string_domain if d.name in used or d.name not in dropped]
    if len(kept) != len(schema.string_domain):
        del schema.string_domain[:]
        schema.string_domain.extend(kept)


def _with_reasons(text: str, reasons: Dict[str, str]) -> str:
    """The schema's text with a comment before each kept-out feature's lifecycle_stage saying why."""
    from google.protobuf import text_format
    name_lines = {"  " + text_format.MessageToString(schema_pb2.Feature(name=n)).strip(): n for n in reasons}
    out, current = [], None
    for line in text.split("\n"):
        if not line.startswith(" "):  # a top-level message starts or ends
            current = None
        elif current is None and line in name_lines:
            current = name_lines[line]
        if line == "  lifecycle_stage: DEPRECATED" and current is not None:
            out.append(f"  # Kept out of the model: {reasons[current]}. Delete the next line to use it.")
        out.append(line)
    return "\n".join(out)


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


def _set_label_domain(schema: schema_pb2.Schema, label: str, task: str) -> None:
    feature = next(f for f in schema.feature if f.name == label)
    feature.presence.min_fraction = 1.0
    if task == CLASSIFICATION and feature.type == schema_pb2.INT and feature.int_domain.min != 0:
        raise ConfigError(
            f"label {label!r}: integer classes must be 0..N-1 (found min {feature.int_domain.min}); "
            "map them to 0..N-1 or use a string label, or predict the number with --task regression")
