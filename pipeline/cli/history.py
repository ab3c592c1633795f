"""`python -m pipeline runs | rollback | report`: what past runs did (from ML Metadata), their HTML
reports, and serving an earlier pushed version again.

Exit codes: 1 no run recorded (or no such run), 2 nothing to roll back to, 3 another run holds the
output folder's lock.
"""
from __future__ import annotations

import os

import click

from pipeline import config as config_lib
from pipeline.cli.errors import fail
from pipeline.cli.options import DEFAULTS


@click.command("runs")
@click.option("--output-dir", type=click.Path(), default=DEFAULTS.output_dir, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def runs_command(output_dir, limit) -> None:
    """Past runs from ML Metadata, newest first: when, components, metrics, blessed, pushed."""
    from pipeline import logs
    config = config_lib.PipelineConfig(output_dir=output_dir)
    with logs.captured(os.devnull):
        from pipeline.report import terminal
        lines = terminal.history(config_lib.absolute(config), limit)
    if not lines:
        fail(f"no runs recorded in {config.metadata_path}", code=1)
    click.echo("\n".join(lines))


@click.command("rollback")
@click.option("--output-dir", type=click.Path(), default=DEFAULTS.output_dir, show_default=True)
@click.option("--serving-dir", default=None,
              help="The push destination (local or gs://...). Default: <output-dir>/serving_model.")
@click.option("--to", "to_version", default=None, metavar="VERSION",
              help="The pushed version to serve again. Default: the newest earlier version whose "
                   "model differs from the served one.")
def rollback_command(output_dir, serving_dir, to_version) -> None:
    """Serve an earlier pushed version again, without retraining (pushed anew as the newest version)."""
    from pipeline.local import run_lock
    from pipeline.serving import rollback as rollback_lib
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=output_dir))
    target_dir = serving_dir or config.serving_dir
    try:
        with run_lock.exclusive(config.output_dir):
            done = rollback_lib.rollback(target_dir, to_version)
    except run_lock.RunInProgress as exc:
        fail(str(exc), code=3)
    except rollback_lib.RollbackError as exc:
        fail(f"{exc}\nNothing was changed.", code=2)
    click.echo(f"rolled back: version {done.from_version} was served; version {done.to_version} is "
               f"served again as version {done.new_version} at {done.path}")
    click.echo("The next run compares its model against this one (its baseline).")


@click.command("report")
@click.option("--output-dir", type=click.Path(), default=DEFAULTS.output_dir, show_default=True)
@click.option("--run", "run_number", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which run, as listed by `runs`: 1 is the newest.")
def report_command(output_dir, run_number) -> None:
    """Write a run's HTML report (data, training, evaluation, decision) and print its path."""
    from pipeline import logs
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=output_dir))
    if not os.path.isfile(config.metadata_path):
        fail(f"no runs recorded in {config.metadata_path}", code=1)
    with logs.captured(os.devnull):
        from pipeline.report import page as report
        try:
            path = report.write(config, run_number - 1)
        except LookupError as exc:
            path, error = None, str(exc)
    if path is None:  # a --run past the runs recorded: the option's value is wrong
        fail(f"--run {run_number}: {error}; `python -m pipeline runs --output-dir {output_dir}` lists them",
             code=2)
    click.echo(path)
