"""Columns infer-schema keeps out of the model (`lifecycle_stage: DEPRECATED`), each with why:
a column empty in every row, a row's identifier, a string of dates/times."""
from __future__ import annotations

import collections
import csv
from typing import Dict, Optional

from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.data import dialect
from pipeline.data.csv_statistics import common_stats, stats_name

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


def empty_columns(stats) -> set:
    """The columns without a value in any row (every cell empty)."""
    empty = set()
    for feature in stats.datasets[0].features:
        common = common_stats(feature)
        if common is not None and common.num_non_missing == 0:
            empty.add(stats_name(feature))
    return empty


def date_columns(schema: schema_pb2.Schema, stats, label: Optional[str]) -> Dict[str, str]:
    """The string columns of dates/times, each with its line for the terminal.

    TFDV's time_domain (when at least 80% of 100 or more values have one date/time format, or
    an int is in the range of Unix times). A string of dates is embedded as a category of whole
    dates: every date after the training data is unknown, and rows of the same day in the train
    and eval splits let the model memorise days. An int of Unix times stays a number (a trend).
    """
    examples = {stats_name(f): f.string_stats.top_values[0].value for f in stats.datasets[0].features
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


def identifier_columns(data_root: str, stats, schema: schema_pb2.Schema, label: Optional[str],
                        skipped: set, delimiter: str = ",") -> Dict[str, str]:
    """The identifier columns (see MAX_SINGLE_VALUE_SHARE and MIN_EXPECTED_EQUAL_PAIRS), each with
    its line for the terminal. Never the label, free text or a column in `skipped`; TFDV's
    statistics pick the candidates, and their cells are counted in the CSV files."""
    types = {f.name: f.type for f in schema.feature}
    text = {f.name for f in schema.feature if f.HasField("natural_language_domain")}  # free text
    candidates = {}
    for feature in stats.datasets[0].features:
        name, common = stats_name(feature), common_stats(feature)
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
    for path in dialect.csv_files(data_root):
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
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


def keep_out(schema: schema_pb2.Schema, names: set) -> None:
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


def with_reasons(text: str, reasons: Dict[str, str]) -> str:
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
