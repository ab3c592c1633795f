"""A streaming check of the CSV files against the schema, before any TFX component runs.

CsvExampleGen fails on a malformed file with a Beam stack trace, or reads it into something
the schema did not describe. This pass names the file, line and column instead, and says
how to fix it. It reads one row at a time, so a file larger than memory is fine.
"""
from __future__ import annotations

import csv
import math
import os
from typing import Collection, Iterator, List, Optional, Sequence, Set, Tuple

from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.config import ConfigError, span_folders
from pipeline.data import dialect

MAX_REPORTED = 10
BOM = "\ufeff"
FIELD_LIMIT = 16 * 1024 * 1024
csv.field_size_limit(FIELD_LIMIT)


class DataError(ConfigError):
    """The CSV data cannot be ingested as the schema describes it."""


def files_to_ingest(data_root: str) -> List[str]:
    """The CSV files this run reads: the data root's, or its newest span folder's."""
    spans = span_folders(data_root)
    folder = os.path.join(data_root, spans[-1]) if spans else data_root
    return dialect.csv_files(folder)


def _lines(path: str) -> Iterator[str]:
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}, line {number}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                    f"{exc.start + 1}); save the file as UTF-8") from None


def check_file(path: str, schema: schema_pb2.Schema, label: str,
               classes: Optional[Collection] = None) -> Tuple[int, Set[str]]:
    """Raises DataError listing what is wrong in `path`; returns its number of data rows and
    the columns that hold a value in at least one row."""
    if os.path.getsize(path) == 0:
        raise DataError(f"{path} is empty; remove it, or give it a header row and data rows")
    types = {f.name: f.type for f in schema.feature}
    reader = csv.reader(_lines(path))
    rows_of = _rows(reader, path)
    try:
        header = next(rows_of)
    except StopIteration:
        raise DataError(f"{path} is empty; remove it, or give it a header row and data rows") from None
    example_gen_header(path, header)
    problems = _header_problems(path, header, types, label)
    if problems:
        _refuse_other_dialect(path)
        raise DataError("\n".join(problems))
    numeric = [(i, name, types[name]) for i, name in enumerate(header)
               if types[name] in (schema_pb2.INT, schema_pb2.FLOAT)]
    label_index = header.index(label)
    known = None if classes is None else {str(c) for c in classes}
    empty = set(header)  # columns without a value so far; no work once every column has one
    rows = 0
    for row in rows_of:
        line = reader.line_num
        if not row:  # a blank line (often the file's last): CsvExampleGen skips it too
            continue
        rows += 1
        if len(row) != len(header):
            problems.append(f"{path}, line {line}: {len(row)} values for {len(header)} columns"
                            + (" (an unquoted comma in a value?)" if len(row) > len(header) else ""))
        else:
            for index, name, kind in numeric:
                value = row[index]
                if value and not _is_number(value, kind):
                    problems.append(f"{path}, line {line}, column {name!r}: {value[:40]!r} is not "
                                    f"{'an integer' if kind == schema_pb2.INT else 'a number'} "
                                    f"(schema type {schema_pb2.FeatureType.Name(kind)})")
                elif value and not math.isfinite(float(value)):
                    problems.append(f"{path}, line {line}, column {name!r}: {value!r} is not a finite "
                                    "number; leave the cell empty for a missing value")
            value = row[label_index]
            if value == "":
                problems.append(f"{path}, line {line}: the label {label!r} is empty")
            elif known is not None and value not in known:
                problems.append(f"{path}, line {line}: the label {label!r} is {value[:40]!r}, not one of "
                                f"the schema's classes {sorted(known)}; fix the row, or add the class "
                                "to the label's domain in the schema")
            if empty:
                empty.difference_update(name for name, cell in zip(header, row) if cell != "")
        if len(problems) >= MAX_REPORTED:
            problems.append("(stopped after the first few problems)")
            break
    if not rows and not problems:
        problems.append(f"{path} has a header but no data rows")
    if problems:
        raise DataError("the data does not fit the schema, so nothing ran:\n  " + "\n  ".join(problems)
                        + "\nFix the rows above, or move the file out of the data root.")
    return rows, set(header) - empty


def example_gen_header(path: str, header: Sequence[str]) -> List[str]:
    """`header` (the file's first row as the csv module reads it) when TFX 1.15's CsvExampleGen reads
    the same column names, else a DataError that says why and how to fix it.

    CsvExampleGen takes the first line split at every comma (tfx.utils.io_utils.
    load_csv_column_names): a quoted name keeps its quotes, a byte-order mark stays in the first
    name, a quoted comma splits a name. Its features would then not be the schema's.
    """
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8", errors="replace")
    header = [name[len(BOM):] if i == 0 and name.startswith(BOM) else name for i, name in enumerate(header)]
    if first.strip().split(",") == header:
        return header
    _refuse_other_dialect(path)
    why = []
    if first.startswith(BOM):
        why.append("it starts with a byte-order mark (Excel's 'CSV UTF-8' writes one), which "
                   "CsvExampleGen keeps in the first column's name")
    if '"' in first:
        why.append("its header quotes column names, and CsvExampleGen keeps the quotes in the names")
    with_comma = [name for name in header if "," in name]
    if with_comma:
        raise DataError(
            f"{path}: column name(s) {with_comma} hold a comma, which TFX 1.15's CsvExampleGen reads "
            "as two columns (it splits the header line at every comma); rename them in the header "
            "row, e.g. 'Price, EUR' to 'Price (EUR)'.")
    raise DataError(
        f"{path}: {'; '.join(why) or 'CsvExampleGen reads its header differently'}: it would name the "
        f"columns {first.strip().split(',')[:8]}, not {list(header)[:8]}. Write a plain copy once "
        "(no byte-order mark, names unquoted) and point --data-root at it:\n  "
        + dialect.conversion_command(os.path.dirname(path) or ".", ",", "."))


def _refuse_other_dialect(path: str) -> None:
    """A file whose fields are not comma-separated: what was found, and the conversion command."""
    found = dialect.describe(path)
    if found is None:
        return
    delimiter, decimal = found
    raise DataError(
        f"{dialect.found_message(path, delimiter, decimal)}. TFX 1.15's CsvExampleGen reads "
        "comma-separated files with '.' decimals only (it takes no delimiter option), so convert the "
        "data once and point --data-root at the copy:\n  "
        + dialect.conversion_command(os.path.dirname(path) or ".", delimiter, decimal))


def _rows(reader, path: str) -> Iterator[List[str]]:
    """The reader's rows; a row the csv module cannot read becomes a DataError with its line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(
                f"{path}, line {reader.line_num}: cannot be read as CSV ({exc}). A value over "
                f"{FIELD_LIMIT // 2**20} MiB usually means a quote that is never closed; fix the "
                "line, or move the file out of the data root.") from None
        yield row


def _header_problems(path: str, header: Sequence[str], types: dict, label: str) -> List[str]:
    duplicates = sorted({c for c in header if header.count(c) > 1})
    missing = [name for name in types if name not in header]
    unknown = [c for c in header if c not in types]
    problems = []
    if duplicates:
        problems.append(f"{path}: the header repeats column(s) {duplicates}")
    if label not in header:
        problems.append(f"{path}: no label column {label!r} in the header {list(header)[:20]}; "
                        "check --label or the file's header row")
    if missing or unknown:
        problems.append(
            f"{path}: the header does not match the schema.\n"
            f"  columns the schema lists but the file lacks: {[m for m in missing if m != label]}\n"
            f"  columns in the file the schema does not list: {unknown}\n"
            "  Rename the columns to the schema's names, or update the schema (python -m pipeline "
            "infer-schema writes one to start from).")
    return problems


def _not_csv(data_root: str) -> List[str]:
    """The entries of a data root without span folders that are not .csv files (hidden ones too:
    CsvExampleGen's glob matches them)."""
    if span_folders(data_root):
        return []
    return sorted(name for name in os.listdir(data_root)
                  if not (name.lower().endswith(".csv") and os.path.isfile(os.path.join(data_root, name))))


def _header(path: str) -> List[str]:
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f), [])


def different_header_message(path: str, header: Sequence[str], first: str,
                             first_header: Sequence[str]) -> str:
    """Why `path`'s header is not `first`'s: CsvExampleGen reads one header for all the files."""
    missing = [c for c in first_header if c not in header]
    extra = [c for c in header if c not in first_header]
    how = (f"it lacks {missing}" if missing else "") + (" and " if missing and extra else "") + \
          (f"it has {extra} instead" if extra and missing else f"it adds {extra}" if extra else "")
    return (f"{path}: its header differs from {first}'s ({how or 'same columns, another order'}); "
            "every CSV file of the data root must have the same header row, columns in the same "
            "order (TFX's CsvExampleGen reads them as one table). Fix the header, or move the file "
            "out of the data root.")


def _is_number(value: str, kind: int) -> bool:
    try:
        int(value) if kind == schema_pb2.INT else float(value)
        return True
    except ValueError:
        return False


def check_data(data_root: str, schema: schema_pb2.Schema, label: str,
               classes: Optional[Collection] = None,
               used: Optional[Collection[str]] = None) -> int:
    """Checks every file this run will ingest; returns the total number of data rows.

    `classes` are the label's classes (a row with another label is refused); `used` are
    the features the model reads (one with no value in any row is refused).
    """
    files = files_to_ingest(data_root)
    others = _not_csv(data_root)
    if others:
        raise DataError(
            f"{data_root} holds {others[:10]} beside its CSV files. TFX 1.15's CsvExampleGen reads "
            "every file of the data root as CSV (its input pattern is '*'), so move those out of the "
            "folder, or put the CSV files in a folder of their own and point --data-root at it.")
    total, filled = 0, set()
    first_header = None
    for path in files:
        rows, columns = check_file(path, schema, label, classes)
        header = _header(path)
        if first_header is None:
            first_header = header
        elif header != first_header:  # CsvExampleGen stops on it with a stack trace
            raise DataError(different_header_message(path, header, files[0], first_header))
        total += rows
        filled |= columns
    empty = [name for name in (used or ()) if name not in filled]
    if empty:
        where = files[0] if len(files) == 1 else f"{len(files)} files under {data_root}"
        raise DataError(
            f"feature(s) {empty} have no value in any of the {total} rows of {where}: the model "
            "cannot learn from an empty column. Fix the export that wrote the data, or set "
            "`lifecycle_stage: DEPRECATED` on the feature in the schema to leave it out.")
    return total
