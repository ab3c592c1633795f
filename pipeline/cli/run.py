"""`python -m pipeline run`: the local pipeline run, from its options to its summary, report and
--notify webhooks.

Exit codes: 2 an option or setting is wrong (nothing ran), 1 the run failed or its ServingCheck
refused the model, 3 another run holds the output folder's lock.
"""
from __future__ import annotations

import os
import time
from typing import Optional

import click

from pipeline import config as config_lib
from pipeline import notify
from pipeline.cli.errors import explain, fail, first_cause
from pipeline.cli.options import DEFAULTS, parse_hparams, parse_input_map, parse_model, parse_split


@click.command("run")
@click.option("--data-root", type=click.Path(), default=DEFAULTS.data_root, show_default=True,
              help="Folder of CSV files (one header row each).")
@click.option("--schema", "schema_path", type=click.Path(), default=DEFAULTS.schema_path,
              show_default=True, help="Checked-in schema (text proto).")
@click.option("--label", default=DEFAULTS.label, show_default=True,
              help="Label column, as the CSV header writes it.")
@click.option("--output-dir", type=click.Path(), default=DEFAULTS.output_dir, show_default=True,
              help="Where artifacts, ML Metadata and pushed models go.")
@click.option("--train-steps", type=click.IntRange(min=1), default=DEFAULTS.train_steps, show_default=True)
@click.option("--eval-steps", type=click.IntRange(min=0), default=DEFAULTS.eval_steps, show_default=True,
              help="Eval batches; 0 evaluates the whole eval split.")
@click.option("--min-accuracy", type=click.FloatRange(0, 1), default=None,
              help="Classification: bless only models with eval accuracy at least this (0: no accuracy "
                   "bound). Default: at least the eval split's majority-class rate + --min-lift.")
@click.option("--min-auc", type=click.FloatRange(0, 1), default=None,
              help="Binary classification: bless only models with eval AUC at least this (0: no AUC "
                   "bound). Default: 0.5 (no skill) + --min-lift.")
@click.option("--max-accuracy-drop", type=click.FloatRange(0, 1), default=DEFAULTS.max_accuracy_drop,
              show_default=True, help="How far below the last blessed model's accuracy a model may be.")
@click.option("--min-lift", type=click.FloatRange(0, 1, max_open=True), default=DEFAULTS.min_lift,
              show_default=True, help="How far a model must beat the data's own baseline: accuracy >= "
                   "majority-class rate + X (without --min-accuracy), a binary AUC >= 0.5 + X, MAE <= "
                   "(1 - X) x the MAE of predicting the training mean (without --max-mae).")
@click.option("--max-mae", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Regression: bless only models with eval mean absolute error at most this. Default: "
                   "below the MAE of always predicting the training split's mean (see --min-lift).")
@click.option("--max-mae-rise", type=click.FloatRange(min=0), default=DEFAULTS.max_mae_rise,
              show_default=True, help="Regression: how far above the last blessed model's MAE a model's may be.")
@click.option("--split", default="2:1", show_default=True, metavar="TRAIN:EVAL",
              help="Train:eval ratio of CsvExampleGen's hash split, in whole buckets, e.g. 4:1.")
@click.option("--slice", "slice_features", multiple=True,
              help="Feature to slice eval metrics by (repeatable; its CSV name or the identifier derived "
                   "from it). Default: trip_start_hour, "
                   "else the schema's first categorical feature with at most 50 known values "
                   "(else overall metrics only); the run says which.")
@click.option("--hparam", "hparams", multiple=True, metavar="NAME=VALUE",
              help="Model hyperparameter (repeatable): hidden_units=[128,64], dropout, "
                   "learning_rate, batch_size, max_embedding_dim, max_text_tokens, text_embedding_dim. "
                   "With --model: any names, passed to your function as `hparams` (batch_size also "
                   "sets the pipeline's batch size).")
@click.option("--model", "model", default=None, metavar="MODULE:FUNCTION",
              help="Your own Keras model: a function returning a compiled tf.keras.Model, in a .py file "
                   "(examples/text_classifier.py:build_model) or a dotted module importable from the "
                   "working directory (examples.text_classifier:build_model). Default: the built-in model.")
@click.option("--input-map", "input_map", multiple=True, metavar="INPUT=FEATURE",
              help="With --model: feed the model input INPUT from the schema feature FEATURE (repeatable; "
                   "its CSV name or the identifier derived from it). "
                   "Needed only when the input is not named after a feature (nor FEATURE_input) and the "
                   "model has more than one input.")
@click.option("--seed", type=click.IntRange(min=0), default=DEFAULTS.seed, show_default=True)
@click.option("--no-cache", is_flag=True, help="Rerun every component, even when its inputs are unchanged.")
@click.option("--warm-start", is_flag=True,
              help="Start training from the last blessed model's weights (for scheduled runs on new spans).")
@click.option("--accept-drift", is_flag=True,
              help="Train on the new data even though it drifted from the data the served model was "
                   "trained on (after a person reviewed it); recorded in ML Metadata and the report.")
@click.option("--beam-arg", "beam_args", multiple=True, metavar="ARG",
              help="Beam pipeline arg (repeatable), e.g. --beam-arg=--runner=FlinkRunner. "
                   "Default: in-process DirectRunner.")
@click.option("--verbose", is_flag=True, help="Show TensorFlow, Beam and TFX logs on the terminal "
              "instead of only in the run's log file.")
@click.option("--notify", "notify_urls", multiple=True, metavar="URL",
              help="Webhook to POST the run's outcome to, as JSON with a one-line `text` (repeatable; "
                   "Slack, Mattermost and Teams incoming webhooks take it). A webhook that fails or "
                   "does not answer within 10 s is reported and never changes the run's outcome.")
def run(data_root, schema_path, label, output_dir, train_steps, eval_steps, min_accuracy, min_auc,
        max_accuracy_drop, min_lift, max_mae, max_mae_rise, split, slice_features, hparams, model, input_map, seed,
        no_cache, warm_start, accept_drift, beam_args, verbose, notify_urls) -> None:
    """Run the pipeline locally: CSV -> validate -> train -> evaluate -> push."""
    started = time.time()
    try:
        train_buckets, eval_buckets = parse_split(split)
        config = config_lib.PipelineConfig(
            data_root=data_root, schema_path=schema_path, label=label, output_dir=output_dir,
            train_steps=train_steps, eval_steps=eval_steps, min_accuracy=min_accuracy, min_auc=min_auc,
            max_accuracy_drop=max_accuracy_drop, min_lift=min_lift, max_mae=max_mae,
            max_mae_rise=max_mae_rise,
            train_hash_buckets=train_buckets, eval_hash_buckets=eval_buckets,
            slice_features=tuple(slice_features) or config_lib.DEFAULT_SLICE_FEATURES,
            hparams=parse_hparams(hparams, users_model=model is not None), seed=seed,
            enable_cache=not no_cache, warm_start=warm_start, accept_drift=accept_drift,
            beam_args=tuple(beam_args), model=parse_model(model, input_map),
            input_map=parse_input_map(input_map))
        config.check_output_dir()
        notify_urls = tuple(notify.check_url(url) for url in notify_urls)
    except (config_lib.ConfigError, ValueError, TypeError) as exc:
        fail(str(exc))

    from pipeline import logs
    from pipeline.local import run_lock
    log_path = logs.new_log_path(config.output_dir)
    tell = _Notifier(notify_urls, config, log_path)
    try:
        with run_lock.exclusive(config.output_dir):
            click.echo(f"running pipeline {config.pipeline_name!r} on {config.data_root}"
                       + ("" if verbose else f" (log: {log_path})"))
            if config.model is not None:
                _check_users_function(config, log_path, verbose, tell)
            with logs.progress(total=len(config_lib.COMPONENT_IDS), show_training=not verbose) as progress:
                try:
                    with logs.captured(log_path, enabled=not verbose):
                        from pipeline.local import runner as local_runner  # TFX, Beam and TF import noisily
                        config = local_runner.run(config)
                except Exception as exc:  # pylint: disable=broad-except
                    progress.fail()
                    if progress.index:  # components ran: the report shows what they left
                        with logs.captured(log_path, enabled=not verbose):
                            report_path = _write_report(config_lib.absolute(config), since=started,
                                                        anomalies_found=_guarded(_anomalies_in, exc))
                        if report_path:
                            click.echo(f"report: {report_path}")
                    # Explaining imports the components: where the environment itself is broken (a
                    # user's proto.py hiding a library's), that fails the same way; the webhook
                    # still hears that the run failed.
                    message, drifted = _guarded(explain, exc), _guarded(_drift_in, exc)
                    if message is None:
                        message = (f"the pipeline failed: {type(exc).__name__}: {exc}\n"
                                   f"The full log, with the traceback, is in {log_path} (rerun with "
                                   "--verbose to see it on the terminal).")
                    if drifted is not None:
                        tell("drifted", reason=message, failed_component=progress.failed_node)
                    else:
                        tell("failed", reason=message, failed_component=progress.failed_node)
                    fail(message, code=1)
            with logs.captured(log_path, enabled=not verbose):
                from pipeline.report import metadata, terminal
                summary = metadata.summarize(config)
                summary.report_path = _write_report(config)
    except run_lock.RunInProgress as exc:
        tell("refused", reason=str(exc))
        fail(str(exc), code=3)
    click.echo(terminal.format_summary(summary, time.time() - started))
    tell.outcome(summary)
    if summary.serving_check_failed:
        fail(f"ServingCheck: {summary.serving_check.get('reason')}\nNothing was pushed; the versions already "
             "served are unchanged.", code=1)


def _guarded(look, exc: BaseException):
    """`look(exc)`, or None where looking fails too (it imports what the failure may have broken)."""
    try:
        return look(exc)
    except Exception:  # pylint: disable=broad-except
        return None


def _drift_in(exc: BaseException):
    """The DriftError that `exc` is or was raised from, else None."""
    from components.drift_guard import DriftError
    return first_cause(exc, DriftError)


class _Notifier:
    """Posts the run's one outcome message to the --notify webhooks (none: does nothing)."""

    def __init__(self, urls, config, log_path: str):
        self.urls, self.config, self.log_path = urls, config, log_path

    def __call__(self, status: str, **fields) -> None:
        if not self.urls:
            return
        body = notify.message(status, pipeline=self.config.pipeline_name,
                              run_id=notify.run_id(self.log_path), data_root=self.config.data_root,
                              output_dir=os.path.abspath(self.config.output_dir), log=self.log_path,
                              **fields)
        for line in notify.post(self.urls, body):
            click.echo(f"warning: {line}", err=True)

    def outcome(self, summary) -> None:
        from pipeline.report import terminal
        common = dict(metrics=summary.metrics, blessed=summary.blessed, report=summary.report_path)
        if summary.pushed and summary.states.get(config_lib.PUSHER) != "cached":
            self("pushed", pushed_version=os.path.basename(summary.pushed_path.rstrip("/")),
                 serving_version=os.path.basename(summary.pushed_path.rstrip("/")), **common)
        elif summary.pushed or summary.serving_version:
            served = summary.serving_version or os.path.basename((summary.pushed_path or "").rstrip("/"))
            self("nothing_new", serving_version=served, reason=summary.not_pushed_reason, **common)
        elif summary.blessed is False:
            self("not_blessed", reason=terminal.blessing_line(summary), **common)
        elif summary.serving_check_failed:
            self("not_pushed", reason=terminal.serving_check_line(summary), **common)
        else:
            self("not_pushed", reason=summary.not_pushed_reason, **common)


def _check_users_function(config, log_path: str, verbose: bool, tell=None) -> None:
    """Imports the user's module and finds the function before any component runs (exit 2)."""
    from pipeline import logs
    from components.trainer import user_model
    error = None
    with logs.captured(log_path, enabled=not verbose):
        try:
            user_model.load_function(config.model)
        except user_model.UserModelError as exc:
            error = str(exc)
    if error:
        if tell is not None:
            tell("failed", reason=error + "\nNothing was run.")
        fail(error + "\nNothing was run.")
    for line in user_model.skipped_cells(config.model):  # a notebook's top-level code
        click.echo(f"model: {line}")
    click.echo(f"model: {config.model.module}:{config.model.function} (your function; inputs are bound "
               "to features when it has built the model)")


def _anomalies_in(exc: BaseException) -> Optional[list]:
    """'[split] feature ...' lines of the ExampleValidator error that stopped the run, if any."""
    from components.strict_example_validator.executor import DataAnomaliesError
    found = first_cause(exc, DataAnomaliesError)
    if found is None:
        return None
    return [line.strip() for line in found.report.splitlines() if line.startswith("  [")]


def _write_report(config, run_index: int = 0, since: Optional[float] = None,
                  anomalies_found: Optional[list] = None) -> Optional[str]:
    """Writes the run's HTML report; a report that cannot be written does not fail the run."""
    import logging
    try:
        from pipeline.report import page as report
        return report.write(config, run_index, since=since, anomalies_found=anomalies_found)
    except Exception:  # pylint: disable=broad-except
        logging.exception("the run report could not be written")
        return None
