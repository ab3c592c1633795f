"""infer-schema's decision of the task: classification or regression, from the label's values,
said in one line with why and how to change it."""
from __future__ import annotations

import csv
from typing import List, Optional

from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.config import ConfigError
from pipeline.data import dialect

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
# An INT label with at most this many distinct values (its range, from min to max) is taken for
# classes; with more, for a number to predict.
MAX_CLASSES_GUESSED = 20


def decide(schema: schema_pb2.Schema, label: str, lo_hi, task: Optional[str], whole=None):
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


def whole_number_values(data_root: str, label: str, delimiter: str = ",", decimal: str = ".",
                         most: int = MAX_CLASSES_GUESSED) -> Optional[List[float]]:
    """The label's distinct values when every one is a whole number and there are at most `most`."""
    values = set()
    for path in dialect.csv_files(data_root):
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
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


def set_label_domain(schema: schema_pb2.Schema, label: str, task: str) -> None:
    feature = next(f for f in schema.feature if f.name == label)
    feature.presence.min_fraction = 1.0
    if task == CLASSIFICATION and feature.type == schema_pb2.INT and feature.int_domain.min != 0:
        raise ConfigError(
            f"label {label!r}: integer classes must be 0..N-1 (found min {feature.int_domain.min}); "
            "map them to 0..N-1 or use a string label, or predict the number with --task regression")
