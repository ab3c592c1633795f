"""CSV dialects: which character separates fields, which marks decimals, and the conversion.

A European spreadsheet export writes `;` between fields and `,` as the decimal mark
(`mean_radius;mean_texture` / `14,2;20,1`). TFX 1.15's CsvExampleGen reads comma-separated
files with `.` decimals only (its executor builds `tfx_bsl`'s CSV decoder with the default
delimiter and offers no option for it), so `run` refuses such files with the command that
converts them, and `infer-schema`/`predict` read them with `--delimiter`/`--decimal` (pandas'
option names) through the csv module. Importable without TensorFlow.
"""
from __future__ import annotations

import csv
import os
import re
import shlex
from typing import Collection, Iterator, List, Optional, Tuple

CANDIDATES = (",", ";", "\t", "|")


def csv_files(folder: str) -> List[str]:
    """The paths of the folder's .csv files (any case of the extension), sorted: what infer-schema,
    the CSV check and convert-csv read."""
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".csv"))


def _outside_quotes(line: str) -> str:
    return re.sub(r'"[^"]*"', "", line)


def sniff_delimiter(header_line: str) -> Optional[str]:
    """The candidate delimiter appearing most often in a header line (outside quotes), or None."""
    text = _outside_quotes(header_line)
    counts = {c: text.count(c) for c in CANDIDATES}
    best = max(CANDIDATES, key=lambda c: counts[c])
    return best if counts[best] else None


def _number(decimal: str) -> "re.Pattern":
    d = re.escape(decimal)
    return re.compile(rf"[+-]?(\d+({d}\d*)?|{d}\d+)([eE][+-]?\d+)?")


def sniff_decimal(rows: List[List[str]]) -> str:
    """',' when some cells are numbers written with a decimal comma (and none with a point)."""
    comma, point = _number(","), re.compile(r"[+-]?\d*\.\d+([eE][+-]?\d+)?")
    cells = [c.strip() for row in rows for c in row]
    if any("," in c and comma.fullmatch(c) for c in cells) and not any(point.fullmatch(c) for c in cells):
        return ","
    return "."


def describe(path: str, delimiter: str = ",") -> Optional[Tuple[str, str]]:
    """(delimiter, decimal) found in `path` when its fields are not separated by `delimiter`."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        header = f.readline()
        found = sniff_delimiter(header)
        if found is None or found == delimiter or _outside_quotes(header).count(delimiter) >= \
                _outside_quotes(header).count(found):
            return None
        rows = [r for _, r in zip(range(50), csv.reader(f, delimiter=found))]
    return found, sniff_decimal(rows)


def conversion_command(source: str, found: str, decimal: str, na_values: Collection[str] = ()) -> str:
    """The command that writes a comma-separated copy of `source` (a file or a folder)."""
    stem = source.rstrip("/")
    target = (stem[:-4] + "_comma.csv") if stem.lower().endswith(".csv") else stem + "_comma"
    return ("python -m pipeline convert-csv --input " + shlex.quote(source) + " --output "
            + shlex.quote(target) + " --delimiter " + quoted(found)
            + (" --decimal " + quoted(decimal) if decimal != "." else "")
            + (" --na-values " + shlex.quote(",".join(na_values)) if na_values else ""))


def placeholders(path: str, columns: Collection[str], delimiter: str = ",", decimal: str = ".",
                 limit: int = 5) -> dict:
    """{column: {value: cells}} for each of `columns` whose cells are numbers but for a few values
    (at most `limit` distinct ones, in at most a tenth of its filled cells) such as 'N/A' or '?'."""
    number = _number(decimal)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, [])
        index = {i: name for i, name in enumerate(header) if name in columns}
        numbers = {i: 0 for i in index}
        others = {i: {} for i in index}
        for row in reader:
            for i in list(others):
                cell = row[i].strip() if i < len(row) else ""
                if not cell:
                    continue
                if number.fullmatch(cell):
                    numbers[i] += 1
                else:
                    others[i][cell] = others[i].get(cell, 0) + 1
                    if len(others[i]) > limit:
                        del others[i]
    return {index[i]: found for i, found in others.items()
            if found and numbers[i] and sum(found.values()) * 10 <= numbers[i] + sum(found.values())}


def quoted(char: str) -> str:
    """One character as a shell word: ';' -> "';'", a tab -> "'\\t'" (the options take '\\t')."""
    return "'\\t'" if char == "\t" else shlex.quote(char) if char == "'" else f"'{char}'"


def found_message(path: str, found: str, decimal: str) -> str:
    """What was found in `path`, in words."""
    names = {",": "','", ";": "';'", "\t": "tabs", "|": "'|'"}
    return (f"{path}: its fields are separated by {names[found]}, not commas"
            + (", and its numbers use ',' as the decimal mark" if decimal == "," else ""))


def _numeric_columns(path: str, delimiter: str, decimal: str, na_values=frozenset()) -> List[bool]:
    """Per column: every non-empty cell (but the `na_values`) is a number written with `decimal`."""
    number = _number(decimal)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, [])
        numeric = [True] * len(header)
        for row in reader:
            for i, cell in enumerate(row[:len(header)]):
                if numeric[i] and cell.strip() and cell.strip() not in na_values \
                        and not number.fullmatch(cell.strip()):
                    numeric[i] = False
    return numeric


def _converted_rows(path: str, delimiter: str, decimal: str, na_values=frozenset()) -> Iterator[List[str]]:
    numeric = _numeric_columns(path, delimiter, decimal, na_values) if decimal != "." else []
    with open(path, newline="", encoding="utf-8-sig") as f:
        for number, row in enumerate(csv.reader(f, delimiter=delimiter)):
            if not row:  # a blank line: no row (CsvExampleGen skips it too)
                continue
            if number and na_values:
                row = ["" if c.strip() in na_values else c for c in row]
            if number and numeric:
                row = [c.strip().replace(decimal, ".") if i < len(numeric) and numeric[i] and c.strip() else c
                       for i, c in enumerate(row)]
            yield row


def convert_file(source: str, target: str, delimiter: str, decimal: str = ".",
                 na_values: Collection[str] = ()) -> int:
    """Writes `source` (fields separated by `delimiter`, numbers with `decimal`) as a comma-separated,
    '.'-decimal CSV at `target` (atomically); returns the number of data rows. A data cell that is
    one of `na_values` (pandas' name: 'N/A', '?') is written empty, the missing value CsvExampleGen
    knows.

    A column is converted only when every non-empty cell is a number with that decimal mark, so
    text such as '1,5 kg' or 'Paris, France' keeps its commas (quoted as CSV needs).
    """
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    partial = target + ".partial"
    rows = -1
    try:
        with open(partial, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            for rows, row in enumerate(_converted_rows(source, delimiter, decimal, frozenset(na_values))):
                writer.writerow(row)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    os.replace(partial, target)
    return max(rows, 0)


def convert(source: str, target: str, delimiter: str, decimal: str = ".",
            na_values: Collection[str] = ()) -> List[Tuple[str, int]]:
    """`convert_file` for a file, or for every .csv file of a folder into the folder `target`."""
    if os.path.isdir(source):
        names = [os.path.basename(path) for path in csv_files(source)]
        return [(os.path.join(target, f), convert_file(os.path.join(source, f), os.path.join(target, f),
                                                        delimiter, decimal, na_values)) for f in names]
    return [(target, convert_file(source, target, delimiter, decimal, na_values))]
