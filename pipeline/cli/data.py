"""`python -m pipeline infer-schema | convert-csv`: a schema to review and check in, inferred from a
CSV folder, and a comma-separated copy of another CSV dialect (what `run` reads).

Exit codes: 2 an option is wrong or the data cannot be used (the message says why), 1 infer-schema
failed otherwise (its log has the traceback).
"""
from __future__ import annotations

import os

import click

from pipeline import config as config_lib
from pipeline.cli.errors import fail
from pipeline.cli.options import DEFAULTS, one_char


@click.command("infer-schema")
@click.option("--data-root", type=click.Path(), required=True, help="Folder of CSV files.")
@click.option("--output", type=click.Path(), required=True, help="Schema file to write (text proto).")
@click.option("--label", default=None, help="Label column: its task (and classes) are written into the schema.")
@click.option("--task", type=click.Choice(["classification", "regression"]), default=None,
              help="The label's task; without it, guessed: strings, or whole numbers from 0 with at most "
                   "20 distinct values, are classes; other numbers are regression.")
@click.option("--output-dir", type=click.Path(), default=DEFAULTS.output_dir, show_default=True,
              help="Its TensorFlow / Beam / TFDV log goes to OUTPUT_DIR/logs/infer-schema-<time>.log.")
@click.option("--verbose", is_flag=True, help="Show TensorFlow, Beam and TFDV logs on the terminal "
              "instead of only in the log file.")
@click.option("--delimiter", default=",", show_default=True, callback=lambda _c, _p, v: one_char("--delimiter", v),
              help="The character between fields (pandas' sep/delimiter), e.g. ';' for a European export.")
@click.option("--decimal", default=".", show_default=True, callback=lambda _c, _p, v: one_char("--decimal", v),
              help="The numbers' decimal mark (pandas' decimal), e.g. ','.")
def infer_schema(data_root, output, label, task, output_dir, verbose, delimiter, decimal) -> None:
    """Infer a schema from a CSV folder, to review and check in."""
    from pipeline import logs
    from pipeline.data import schema_tools
    log_path = schema_tools.log_path(output_dir)
    try:
        with logs.captured(log_path, enabled=not verbose):  # TF's C++ logs at import too
            schema, task_line, kept_out = schema_tools.infer_schema(data_root, output, label, task=task,
                                                                    delimiter=delimiter, decimal=decimal)
    except config_lib.ConfigError as exc:
        fail(str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        fail(f"infer-schema failed: {type(exc).__name__}: {exc}\nThe full log, with the traceback, "
             f"is in {log_path} (rerun with --verbose to see it on the terminal).", code=1)
    text = schema_tools.text_features(schema)
    click.echo(f"wrote {output}: {len(schema.feature)} features"
               + (f"; text features (natural_language_domain): {', '.join(text)}" if text else
                  "; no free-text feature found") + ".")
    if task_line:
        click.echo(task_line)
    for line in kept_out:  # empty columns, identifiers, dates: why, and how to keep each
        click.echo(line)
    if kept_out and all(f.lifecycle_stage for f in schema.feature if f.name != label):
        click.echo(f"warning: every column besides the label {label!r} is kept out, so `run` has nothing to "
                   "learn from and refuses this schema; delete the lifecycle_stage line of each column the "
                   "model should use.", err=True)
    note = schema_tools.placeholder_note(data_root, schema, label, delimiter, decimal)
    if note:
        click.echo(note)
    note = schema_tools.identifiers_note(schema, label)
    if note:
        click.echo(note)
    if (delimiter, decimal) != (",", "."):
        click.echo("`run` reads comma-separated files only (TFX 1.15's CsvExampleGen); convert the data once:\n  "
                   + dialect_command(data_root, delimiter, decimal))
    click.echo("Review it (see the comments at the top), then pass it with --schema."
               + ("" if verbose else f" (log: {log_path})"))


def dialect_command(source: str, delimiter: str, decimal: str) -> str:
    """The `convert-csv` command line that writes a comma-separated copy of `source`."""
    from pipeline.data import dialect
    return dialect.conversion_command(source, delimiter, decimal)


@click.command("convert-csv")
@click.option("--input", "input_path", type=click.Path(exists=True), required=True,
              help="A CSV file, or a folder of them.")
@click.option("--output", type=click.Path(), required=True, help="The file (or folder) to write.")
@click.option("--delimiter", required=True, callback=lambda _c, _p, v: one_char("--delimiter", v),
              help="The input's field separator (pandas' sep), e.g. ';'.")
@click.option("--decimal", default=".", show_default=True, callback=lambda _c, _p, v: one_char("--decimal", v),
              help="The input's decimal mark (pandas' decimal), e.g. ','.")
@click.option("--na-values", default="", help="Comma-separated cell values to write as empty cells, the "
              "missing value the pipeline knows (pandas' na_values), e.g. 'N/A,?'.")
def convert_csv(input_path, output, delimiter, decimal, na_values) -> None:
    """Write a comma-separated, '.'-decimal copy of a CSV export (what `run` reads)."""
    from pipeline.data import dialect
    if os.path.abspath(input_path) == os.path.abspath(output):
        fail("--output must differ from --input: the copy is written beside the original")
    missing = [v.strip() for v in na_values.split(",") if v.strip()] if na_values else []
    for path, rows in dialect.convert(input_path, output, delimiter, decimal, missing):
        click.echo(f"wrote {path}: {rows} rows")
