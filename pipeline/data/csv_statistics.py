"""infer-schema's reading of the data: TFDV's statistics of a CSV folder, read as `run`'s
CsvExampleGen reads it, and the per-column facts infer-schema takes from them."""
from __future__ import annotations

import csv
import os
import tempfile

from pipeline.config import ConfigError
from pipeline.data import dialect


def check_dialect(data_root: str, delimiter: str) -> None:
    """Refuses a file whose fields are separated by another character, naming it and the options."""
    files = dialect.csv_files(data_root)
    for path in files:
        found = dialect.describe(path, delimiter)
        if found is not None:
            raise ConfigError(f"{dialect.found_message(path, *found)}; read it with --delimiter "
                              f"{dialect.quoted(found[0])}" + (" --decimal ','" if found[1] == "," else ""))


def read(tfdv, data_root: str, delimiter: str, decimal: str):
    """TFDV's statistics of the CSV files, read as `delimiter`/`decimal` say (via a comma-separated
    copy in a temporary folder when they are not ',' and '.'); a file of another dialect is refused
    with the options that read it."""
    if delimiter == "," and decimal == ".":
        return from_folder(tfdv, data_root, data_root)
    with tempfile.TemporaryDirectory(prefix="infer-schema-") as copy:
        dialect.convert(data_root, copy, delimiter, decimal)
        return from_folder(tfdv, copy, data_root)


def from_folder(tfdv, folder: str, data_root: str):
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

    files = dialect.csv_files(folder)
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


def common_stats(feature):
    kind = feature.WhichOneof("stats")
    return getattr(feature, kind).common_stats if kind else None


def missing(stats, column: str) -> int:
    """In how many rows the column's cell is empty."""
    for feature in stats.datasets[0].features:
        if stats_name(feature) == column and common_stats(feature) is not None:
            return int(common_stats(feature).num_missing)
    return 0


def stats_name(feature) -> str:
    return feature.path.step[0] if feature.path.step else feature.name


def int_ranges(stats):
    ranges = {}
    for feature in stats.datasets[0].features:
        name = stats_name(feature)
        if feature.HasField("num_stats"):
            lo, hi = feature.num_stats.min, feature.num_stats.max
            # TFDV counts unique values of categorical features only: bound it by the range.
            ranges[name] = (lo, hi, int(hi - lo + 1))
    return ranges
