"""Command line: `python -m pipeline run|compile|run-compiled|submit|runs|rollback|report|predict|serve|
infer-schema|convert-csv` (the `keras-tfx` console script is the same).

The commands live in pipeline/cli/, in groups: run.py (run), kubeflow.py (compile, run-compiled,
submit), history.py (runs, rollback, report), serving.py (predict, serve), data.py (infer-schema,
convert-csv). Exit codes: 2 an option or setting is wrong, 1 the run or command failed, 3 another
run holds the output folder's lock. After a failure, a file of the user's that hid a library's
module (a `proto.py` in the working directory) is named (cli/shadowing.py).
"""
from __future__ import annotations

import os
import warnings

import click

from pipeline.cli import data, errors, history, kubeflow, run, serving, shadowing


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Keras prototype to TFX production: run, inspect and ship the pipeline."""


for _command in (run.run, kubeflow.compile_command, kubeflow.run_compiled_command, kubeflow.submit_command,
                 history.runs_command, history.rollback_command, history.report_command,
                 serving.predict_command, serving.serve_command, data.infer_schema, data.convert_csv):
    cli.add_command(_command)


def main() -> None:
    """The `keras-tfx` console script and `python -m pipeline`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        cli(prog_name="python -m pipeline")
    except SystemExit as exc:  # a failure the command explained: say too if a file of theirs caused it
        note = shadowing.failure_note() if exc.code not in (0, None) else None
        if note:
            click.echo(f"note: {note}", err=True)
        raise
    except Exception as exc:  # a library's error: name the file of theirs that caused it, if one did
        note = shadowing.failure_note()
        if not note:
            raise
        errors.fail(f"{type(exc).__name__}: {exc}\n{note}", code=1)


if __name__ == "__main__":
    main()
