"""Command line: `python -m pipeline run|compile|run-compiled|submit|runs|rollback|report|predict|infer-schema`."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import warnings
from typing import Optional, Tuple

import click

from pipeline import config as config_lib
from pipeline import notify, pairs

_DEFAULTS = config_lib.PipelineConfig()


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _parse_hparams(values: Tuple[str, ...], users_model: bool) -> Tuple[Tuple[str, object], ...]:
    """--hparam pairs, typed as the built-in model declares them and bounded as the Trainer reads
    them; a user's model takes any names (untyped but batch_size, which the pipeline reads)."""
    from components.trainer.hparams import HParams, batch_size_of
    defaults = dataclasses.asdict(HParams())
    types = {"batch_size": pairs.INTEGER} if users_model else HParams.TYPES
    receiver = pairs.Receiver(
        option="--hparam", noun="hyperparameter", owner="your model" if users_model else "the built-in model",
        types=types, takes_other_names=users_model,
        unknown_hint="" if users_model else "a model of your own (--model MODULE:FUNCTION) takes any name",
        examples={name: json.dumps(value, separators=(",", ":")) for name, value in defaults.items()})
    parsed = pairs.parse(values, receiver)
    batch_size_of(parsed, users_model)
    return tuple(parsed.items())


def _parse_input_map(values: Tuple[str, ...]) -> Tuple[Tuple[str, str], ...]:
    """--input-map pairs: any model input, each to a feature name (the binding checks both exist)."""
    receiver = pairs.Receiver(option="--input-map", noun="model input", owner="your model",
                              takes_other_names=True, other_names_type=pairs.STRING,
                              examples={"input_1": "text"})
    parsed = pairs.parse(values, receiver)
    for name, feature in parsed.items():
        if not feature:
            raise config_lib.ConfigError(f"--input-map {name}=: give the feature that feeds {name}, e.g. "
                                         f"--input-map {name}=text")
    return tuple(parsed.items())


def _parse_model(value: Optional[str], input_map: Tuple[str, ...]):
    if value is None:
        if input_map:
            raise config_lib.ConfigError("--input-map binds the inputs of your own model: give it with "
                                         "--model MODULE:FUNCTION")
        return None
    from components.trainer import user_model
    try:
        return user_model.parse_spec(value)
    except user_model.UserModelError as exc:
        raise config_lib.ConfigError(f"{exc}\nNothing was run.") from None


def _parse_split(value: str) -> Tuple[int, int]:
    train, sep, evaluation = value.partition(":")
    if not (sep and train.isdigit() and evaluation.isdigit() and int(train) > 0 and int(evaluation) > 0
            and int(train) + int(evaluation) <= 100):
        raise config_lib.ConfigError(f"--split {value!r}: expected TRAIN:EVAL, two whole numbers > 0 "
                                     "(at most 100 buckets in all), e.g. 2:1 or 4:1")
    return int(train), int(evaluation)


def explain(exc: BaseException) -> Optional[str]:
    """A one-paragraph message for the errors a user can fix; None for real bugs."""
    from components.drift_guard import DriftError
    from components.strict_example_validator.executor import DataAnomaliesError
    from components.trainer.binding import BindingError
    from components.trainer.features import SchemaError
    from components.trainer.user_model import UserModelError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DataAnomaliesError):
            return f"ExampleValidator: {exc.report}"
        if isinstance(exc, DriftError):
            return f"DriftGuard: {exc.report}\nNothing was trained or pushed."
        if isinstance(exc, (UserModelError, BindingError)):
            return f"Trainer: {exc}\nNothing was trained or pushed."
        if isinstance(exc, (SchemaError, config_lib.ConfigError)):
            return str(exc)
        if type(exc).__name__ == "TrainingStalledError":
            return f"Trainer: {exc}\nNothing was pushed."
        if type(exc).__name__ == "NanLossDuringTrainingError":
            return ("Trainer: the training loss became NaN, so the run stopped and nothing was pushed. "
                    "Lower the learning rate (--hparam learning_rate=...) or look for extreme values "
                    "in the data.")
        exc = exc.__cause__ or exc.__context__
    return None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Keras prototype to TFX production: run, inspect and ship the pipeline."""


@cli.command()
@click.option("--data-root", type=click.Path(), default=_DEFAULTS.data_root, show_default=True,
              help="Folder of CSV files (one header row each).")
@click.option("--schema", "schema_path", type=click.Path(), default=_DEFAULTS.schema_path,
              show_default=True, help="Checked-in schema (text proto).")
@click.option("--label", default=_DEFAULTS.label, show_default=True,
              help="Label column, as the CSV header writes it.")
@click.option("--output-dir", type=click.Path(), default=_DEFAULTS.output_dir, show_default=True,
              help="Where artifacts, ML Metadata and pushed models go.")
@click.option("--train-steps", type=click.IntRange(min=1), default=_DEFAULTS.train_steps, show_default=True)
@click.option("--eval-steps", type=click.IntRange(min=0), default=_DEFAULTS.eval_steps, show_default=True,
              help="Eval batches; 0 evaluates the whole eval split.")
@click.option("--min-accuracy", type=click.FloatRange(0, 1), default=None,
              help="Classification: bless only models with eval accuracy at least this (0: no accuracy "
                   "bound). Default: at least the eval split's majority-class rate + --min-lift.")
@click.option("--min-auc", type=click.FloatRange(0, 1), default=None,
              help="Binary classification: bless only models with eval AUC at least this (0: no AUC "
                   "bound). Default: 0.5 (no skill) + --min-lift.")
@click.option("--max-accuracy-drop", type=click.FloatRange(0, 1), default=_DEFAULTS.max_accuracy_drop,
              show_default=True, help="How far below the last blessed model's accuracy a model may be.")
@click.option("--min-lift", type=click.FloatRange(0, 1, max_open=True), default=_DEFAULTS.min_lift,
              show_default=True, help="How far a model must beat the data's own baseline: accuracy >= "
                   "majority-class rate + X (without --min-accuracy), a binary AUC >= 0.5 + X, MAE <= "
                   "(1 - X) x the MAE of predicting the training mean (without --max-mae).")
@click.option("--max-mae", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Regression: bless only models with eval mean absolute error at most this. Default: "
                   "below the MAE of always predicting the training split's mean (see --min-lift).")
@click.option("--max-mae-rise", type=click.FloatRange(min=0), default=_DEFAULTS.max_mae_rise,
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
@click.option("--seed", type=click.IntRange(min=0), default=_DEFAULTS.seed, show_default=True)
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
        train_buckets, eval_buckets = _parse_split(split)
        config = config_lib.PipelineConfig(
            data_root=data_root, schema_path=schema_path, label=label, output_dir=output_dir,
            train_steps=train_steps, eval_steps=eval_steps, min_accuracy=min_accuracy, min_auc=min_auc,
            max_accuracy_drop=max_accuracy_drop, min_lift=min_lift, max_mae=max_mae,
            max_mae_rise=max_mae_rise,
            train_hash_buckets=train_buckets, eval_hash_buckets=eval_buckets,
            slice_features=tuple(slice_features) or config_lib.DEFAULT_SLICE_FEATURES,
            hparams=_parse_hparams(hparams, users_model=model is not None), seed=seed,
            enable_cache=not no_cache, warm_start=warm_start, accept_drift=accept_drift,
            beam_args=tuple(beam_args), model=_parse_model(model, input_map),
            input_map=_parse_input_map(input_map))
        config.check_output_dir()
        notify_urls = tuple(notify.check_url(url) for url in notify_urls)
    except (config_lib.ConfigError, ValueError, TypeError) as exc:
        _fail(str(exc))

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
                                                        anomalies_found=_anomalies_in(exc))
                        if report_path:
                            click.echo(f"report: {report_path}")
                    message = explain(exc)
                    if message is None:
                        message = (f"the pipeline failed: {type(exc).__name__}: {exc}\n"
                                   f"The full log, with the traceback, is in {log_path} (rerun with "
                                   "--verbose to see it on the terminal).")
                    if _drift_in(exc) is not None:
                        tell("drifted", reason=message, failed_component=progress.failed_node)
                    else:
                        tell("failed", reason=message, failed_component=progress.failed_node)
                    _fail(message, code=1)
            with logs.captured(log_path, enabled=not verbose):
                from pipeline.report import results
                summary = results.summarize(config)
                summary.report_path = _write_report(config)
    except run_lock.RunInProgress as exc:
        tell("refused", reason=str(exc))
        _fail(str(exc), code=3)
    click.echo(results.format_summary(summary, time.time() - started))
    tell.outcome(summary)
    if summary.serving_check_failed:
        _fail(f"ServingCheck: {summary.serving_check.get('reason')}\nNothing was pushed; the versions already "
              "served are unchanged.", code=1)


def _drift_in(exc: BaseException):
    """The DriftError that `exc` is or was raised from, else None."""
    from components.drift_guard import DriftError
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DriftError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


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
        from pipeline.report import results
        common = dict(metrics=summary.metrics, blessed=summary.blessed, report=summary.report_path)
        if summary.pushed and summary.states.get(config_lib.PUSHER) != "cached":
            self("pushed", pushed_version=os.path.basename(summary.pushed_path.rstrip("/")),
                 serving_version=os.path.basename(summary.pushed_path.rstrip("/")), **common)
        elif summary.pushed or summary.serving_version:
            served = summary.serving_version or os.path.basename((summary.pushed_path or "").rstrip("/"))
            self("nothing_new", serving_version=served, reason=summary.not_pushed_reason, **common)
        elif summary.blessed is False:
            self("not_blessed", reason=results.blessing_line(summary), **common)
        elif summary.serving_check_failed:
            self("not_pushed", reason=results.serving_check_line(summary), **common)
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
        _fail(error + "\nNothing was run.")
    for line in user_model.skipped_cells(config.model):  # a notebook's top-level code
        click.echo(f"model: {line}")
    click.echo(f"model: {config.model.module}:{config.model.function} (your function; inputs are bound "
               "to features when it has built the model)")


def _anomalies_in(exc: BaseException) -> Optional[list]:
    """'[split] feature ...' lines of the ExampleValidator error that stopped the run, if any."""
    from components.strict_example_validator.executor import DataAnomaliesError
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DataAnomaliesError):
            return [line.strip() for line in exc.report.splitlines() if line.startswith("  [")]
        exc = exc.__cause__ or exc.__context__
    return None


def _write_report(config, run_index: int = 0, since: Optional[float] = None,
                  anomalies_found: Optional[list] = None) -> Optional[str]:
    """Writes the run's HTML report; a report that cannot be written does not fail the run."""
    import logging
    from pipeline.report import page as report
    try:
        return report.write(config, run_index, since=since, anomalies_found=anomalies_found)
    except Exception:  # pylint: disable=broad-except
        logging.exception("the run report could not be written")
        return None


@cli.command("compile")
@click.option("--target", required=True, metavar="[kfp2|vertex|kubeflow-v1]",
              help="kfp2: pipeline JSON (schema 2.1) for open-source Kubeflow Pipelines 2.x; vertex: "
                   "pipeline JSON (schema 2.0.0) for Vertex AI Pipelines; kubeflow-v1: Argo YAML for "
                   "KFP 1.8 and for KFP 2.x in v1 mode. (kubeflow-v2 is retired: kfp2 or vertex.)")
@click.option("--output", type=click.Path(dir_okay=False), required=True, help="File to write.")
@click.option("--image", required=True, help="Container image the steps run in (see Dockerfile).")
@click.option("--pipeline-root", required=True, help="Artifact root URI, e.g. gs://bucket/keras-tfx.")
@click.option("--data-root", default=None,
              help="Default of the data_root run parameter. Default: the bundled data inside the image.")
@click.option("--serving-dir", default=None, help="Push destination. Default: <pipeline-root>/serving_model.")
@click.option("--schema", "schema_path", type=click.Path(), default=_DEFAULTS.schema_path, show_default=True,
              help="Schema file under the project (baked into the image).")
@click.option("--schema-uri", default=None, help="Schema URI the steps read, if not the image's copy.")
@click.option("--label", default=_DEFAULTS.label, show_default=True)
@click.option("--train-steps", type=click.IntRange(min=1), default=_DEFAULTS.train_steps, show_default=True,
              help="Default of the train_steps run parameter.")
@click.option("--eval-steps", type=click.IntRange(min=0), default=_DEFAULTS.eval_steps, show_default=True,
              help="Default of the eval_steps run parameter.")
@click.option("--min-accuracy", type=click.FloatRange(0, 1), default=None,
              help="Default of the min_accuracy run parameter (as for `run`; not given: -1, meaning the "
                   "eval split's majority-class rate + --min-lift).")
@click.option("--min-auc", type=click.FloatRange(0, 1), default=None,
              help="Binary classification: minimum eval AUC, as for `run` (default: 0.5 + --min-lift).")
@click.option("--min-lift", type=click.FloatRange(0, 1, max_open=True), default=_DEFAULTS.min_lift,
              show_default=True, help="How far a model must beat the data's own baseline, as for `run`.")
@click.option("--max-accuracy-drop", type=click.FloatRange(0, 1), default=_DEFAULTS.max_accuracy_drop,
              show_default=True, help="How far below the last blessed model's accuracy, as for `run`.")
@click.option("--max-mae", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Regression: maximum eval mean absolute error, as for `run`.")
@click.option("--max-mae-rise", type=click.FloatRange(min=0), default=_DEFAULTS.max_mae_rise,
              show_default=True, help="Regression: how far above the last blessed model's MAE, as for `run`.")
@click.option("--beam-arg", "beam_args", multiple=True, metavar="ARG",
              help="Beam pipeline arg for the steps (repeatable), e.g. --beam-arg=--runner=DataflowRunner. "
                   "Default: DirectRunner inside each step's container.")
@click.option("--model", "model", default=None, metavar="MODULE:FUNCTION",
              help="Your own Keras model function, as for `run`; it must be in the image: a dotted module "
                   "under the project (examples.text_classifier:build_model) or a .py file under the project.")
@click.option("--input-map", "input_map", multiple=True, metavar="INPUT=FEATURE",
              help="With --model: feed the model input INPUT from FEATURE (repeatable), as for `run`.")
@click.option("--hparam", "hparams", multiple=True, metavar="NAME=VALUE",
              help="Model hyperparameter (repeatable), as for `run`.")
def compile_command(target, output, image, pipeline_root, data_root, serving_dir, schema_path,
                    schema_uri, label, train_steps, eval_steps, min_accuracy, min_auc, min_lift,
                    max_accuracy_drop, max_mae, max_mae_rise, beam_args, model, input_map, hparams) -> None:
    """Compile the pipeline for Kubeflow Pipelines 2.x, Vertex AI Pipelines or KFP 1.8 (offline; nothing remote is touched)."""
    try:
        config = config_lib.PipelineConfig(schema_path=schema_path, label=label, train_steps=train_steps,
                                           eval_steps=eval_steps, min_accuracy=min_accuracy,
                                           min_auc=min_auc, min_lift=min_lift, max_mae=max_mae,
                                           max_accuracy_drop=max_accuracy_drop,
                                           max_mae_rise=max_mae_rise, beam_args=tuple(beam_args),
                                           hparams=_parse_hparams(hparams, users_model=model is not None),
                                           model=_parse_model(model, input_map),
                                           input_map=_parse_input_map(input_map))
    except (config_lib.ConfigError, ValueError, TypeError) as exc:
        _fail(str(exc))
    try:
        from pipeline import logs
        with logs.captured(os.devnull):
            from pipeline.kubeflow import runner as kubeflow_runner
            path = kubeflow_runner.compile_pipeline(
                config, target=target, output=output, image=image, pipeline_root=pipeline_root,
                data_root=data_root, serving_dir=serving_dir, schema_uri=schema_uri)
    except Exception as exc:  # pylint: disable=broad-except
        message = explain(exc)
        if message is None:
            raise
        _fail(message)
    click.echo(f"wrote {path} ({target}: {kubeflow_runner.TARGET_BACKENDS[target]}); "
               "run parameters: data_root, train_steps, eval_steps, min_accuracy, accept_drift, notify_urls")


@cli.command("run-compiled")
@click.argument("spec_path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--pipeline-root", required=True, type=click.Path(file_okay=False),
              help="Local folder for the steps' outputs, logs and run records (replaces the compiled root).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Run parameter (repeatable): data_root, train_steps, eval_steps, min_accuracy, "
                   "accept_drift (1 lets a reviewed, drifted span through), notify_urls (webhooks the exit "
                   "handler posts the outcome to, separated by commas).")
@click.option("--backend", type=click.Choice(["kfp2", "vertex"]), default=None,
              help="Whose rules to run by: kfp2 (open-source KFP 2.x: its backend's checks, parameterValues, "
                   "no lifecycle hooks) or vertex (Vertex AI Pipelines). Default: kfp2 for a `compile "
                   "--target kfp2` spec, vertex for a `--target vertex` one.")
@click.option("--parameter-form", type=click.Choice(["parameters", "parameterValues"]), default=None,
              help="How parameters reach the steps (vertex backend only; default 'parameters', as Vertex AI "
              "sends them for a schema 2.0.0 spec). kfp2 always sends parameterValues.")
@click.option("--image", default=None, metavar="TAG",
              help="Run each step's command inside this image (e.g. keras-tfx:local from `make image`): docker "
                   "run, podman run, or podman mount + chroot where podman cannot run containers (root).")
@click.option("--no-cache", is_flag=True, help="Run every step, even one whose inputs match an earlier run's.")
def run_compiled_command(spec_path, pipeline_root, params, backend, parameter_form, image, no_cache) -> None:
    """Run a compiled kfp2 or vertex pipeline JSON here, step by step, as that backend's launcher would."""
    from pipeline.kubeflow import run_compiled
    started = time.time()
    try:
        run = run_compiled.prepare_run(spec_path, pipeline_root, params, form=parameter_form,
                                       use_cache=not no_cache, backend=backend, image=image)
    except config_lib.ConfigError as exc:
        _fail(str(exc))
    click.echo(f"running {spec_path} step by step by {run.backend}'s rules"
               + (f" in {run.image.describe()}" if run.image else "")
               + f" under {run.run_dir} (logs: {run.run_dir}/logs/)")

    def finished(index, total, result):
        from pipeline import logs
        click.echo(f"{logs.step_counter(index, total)} {result.task:<52} {result.state:<9} {result.seconds:6.1f} s")

    try:
        results = run_compiled.execute(run, on_step=finished)
    except run_compiled.StepFailed as exc:
        _run_exit_handler(run, exc)
        _fail(str(exc), code=1)
    _run_exit_handler(run, None)
    click.echo(f"run-compiled finished in {time.time() - started:.1f} s ({len(results)} steps)")
    click.echo("\n".join(run_compiled.outcome(run)))
    reason = run_compiled.serving_check_failed(run)
    if reason:
        _fail(f"ServingCheck: {reason}\nNothing was pushed; the versions already served are unchanged.", code=1)


def _run_exit_handler(run, failure) -> None:
    """The compiled exit handler (kfp2, vertex), after the last step or the failed one; it never
    changes the run's outcome."""
    if not run.job.get("exit_task"):
        return
    from pipeline.kubeflow import compiled_exit
    result = compiled_exit.run_exit_task(run, failure)
    urls = run.params.get("notify_urls") or ""
    said = ("notify_urls is empty: nothing to post" if result.state == "skipped" else
            (f"posted the outcome to {urls}" if result.state == "ran" else "failed; the run's outcome is unchanged")
            + f" (log: {result.log_path})")
    click.echo(f"exit handler {result.task:<46} {result.state:<9} {result.seconds:6.1f} s  {said}",
               err=failure is not None)


@cli.command("submit")
@click.option("--package", type=click.Path(dir_okay=False), required=True,
              help="A compiled pipeline: a kfp2 JSON (sent to KFP 2.x's v2beta1 API) or a kubeflow-v1 YAML (v1beta1).")
@click.option("--endpoint", required=True, help="KFP API URL, e.g. http://127.0.0.1:8080/pipeline.")
@click.option("--experiment", default="keras-tfx", show_default=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Run parameter (repeatable): data_root, train_steps, eval_steps, min_accuracy, "
                   "accept_drift (1 lets a reviewed, drifted span through), notify_urls.")
@click.option("--cron", default=None,
              help="Create a recurring run on this schedule instead of one run, e.g. '0 2 * * *'.")
def submit_command(package, endpoint, experiment, params, cron) -> None:
    """Upload a compiled pipeline to Kubeflow Pipelines and start a run (or a recurring run)."""
    from pipeline.kubeflow import submit
    try:
        result = submit.submit(package, endpoint, experiment, params=params, cron=cron)
    except config_lib.ConfigError as exc:
        _fail(str(exc))
    what = (f"recurring run {result.recurring_run_id}" if result.recurring_run_id
            else f"run {result.run_id}")
    click.echo(f"uploaded pipeline {result.pipeline_id} (version {result.version_id}) and started {what} "
               f"in experiment {result.experiment_id} at {endpoint}")


@cli.command("runs")
@click.option("--output-dir", type=click.Path(), default=_DEFAULTS.output_dir, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def runs_command(output_dir, limit) -> None:
    """Past runs from ML Metadata, newest first: when, components, metrics, blessed, pushed."""
    from pipeline import logs
    config = config_lib.PipelineConfig(output_dir=output_dir)
    with logs.captured(os.devnull):
        from pipeline.report import results
        lines = results.history(config_lib.absolute(config), limit)
    if not lines:
        _fail(f"no runs recorded in {config.metadata_path}", code=1)
    click.echo("\n".join(lines))


@cli.command("rollback")
@click.option("--output-dir", type=click.Path(), default=_DEFAULTS.output_dir, show_default=True)
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
        _fail(str(exc), code=3)
    except rollback_lib.RollbackError as exc:
        _fail(f"{exc}\nNothing was changed.", code=2)
    click.echo(f"rolled back: version {done.from_version} was served; version {done.to_version} is "
               f"served again as version {done.new_version} at {done.path}")
    click.echo("The next run compares its model against this one (its baseline).")


@cli.command("report")
@click.option("--output-dir", type=click.Path(), default=_DEFAULTS.output_dir, show_default=True)
@click.option("--run", "run_number", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which run, as listed by `runs`: 1 is the newest.")
def report_command(output_dir, run_number) -> None:
    """Write a run's HTML report (data, training, evaluation, decision) and print its path."""
    from pipeline import logs
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=output_dir))
    if not os.path.isfile(config.metadata_path):
        _fail(f"no runs recorded in {config.metadata_path}", code=1)
    with logs.captured(os.devnull):
        from pipeline.report import page as report
        try:
            path = report.write(config, run_number - 1)
        except LookupError as exc:
            path, error = None, str(exc)
    if path is None:
        _fail(error, code=1)
    click.echo(path)


@cli.command("predict")
@click.option("--input", "input_path", type=click.Path(), required=True, help="A CSV file or a folder of them.")
@click.option("--output", type=click.Path(dir_okay=False), required=True,
              help="CSV to write: the input rows plus predicted_class and probability_<class> columns.")
@click.option("--model", "model_dir", type=click.Path(), default=None,
              help="A pushed model version folder. Default: the newest under <output-dir>/serving_model.")
@click.option("--output-dir", type=click.Path(), default=_DEFAULTS.output_dir, show_default=True)
@click.option("--beam-arg", "beam_args", multiple=True, metavar="ARG",
              help="Score as a Beam job (tfx_bsl RunInference) with these pipeline args (repeatable), "
                   "e.g. --beam-arg=--runner=DirectRunner. Default: in this process, streaming.")
@click.option("--delimiter", default=",", show_default=True, callback=lambda _c, _p, v: _one_char("--delimiter", v),
              help="The character between fields (pandas' sep/delimiter), e.g. ';' for a European export.")
@click.option("--decimal", default=".", show_default=True, callback=lambda _c, _p, v: _one_char("--decimal", v),
              help="The numbers' decimal mark (pandas' decimal), e.g. ','.")
def predict_command(input_path, output, model_dir, output_dir, beam_args, delimiter, decimal) -> None:
    """Score CSV rows with a pushed model (streaming; rows that do not fit are reported)."""
    from pipeline import logs
    try:
        with logs.captured(os.devnull):
            from pipeline.serving import predict, model as serving
            model_dir = model_dir or serving.latest_version(os.path.join(output_dir, "serving_model"))
            if not model_dir:
                raise config_lib.ConfigError(f"no pushed model under {output_dir}/serving_model; run the "
                                             "pipeline first or pass --model")
            if beam_args:
                scored, rejected, rejects = predict.predict_beam(input_path, output, model_dir, list(beam_args),
                                                                 delimiter, decimal)
            else:
                scored, rejected, rejects = predict.predict_csv(input_path, output, model_dir,
                                                                delimiter, decimal)
    except config_lib.ConfigError as exc:
        _fail(str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        if type(exc).__name__ != "ModelCannotRun":  # pipeline.serving.predict's, imported late (TensorFlow)
            raise
        _fail(f"{exc}\nNothing was scored.", code=1)
    click.echo(f"scored {scored} rows with {model_dir} into {output}")
    if rejected:
        click.echo(f"{rejected} rows did not fit the schema and were not scored; see {rejects}", err=True)
    for line in _skew_warnings(input_path, model_dir, delimiter, decimal):
        click.echo(line, err=True)


def _skew_warnings(input_path: str, model_dir: str, delimiter: str = ",", decimal: str = ".") -> list:
    """Serving skew: warning lines when the scored rows drifted from the model's training data.
    Never an error: a check that cannot run says so in one line."""
    from pipeline import logs
    try:
        with logs.captured(os.devnull):
            from components.trainer import constants
            from components.trainer.features import load_schema
            from pipeline.serving import predict, skew
            schema = load_schema(os.path.join(model_dir, constants.ASSETS_EXTRA, constants.SCHEMA_FILE))
            lines = skew.skew_warnings(predict._input_files(input_path), model_dir, schema, delimiter, decimal)
    except Exception as exc:  # pylint: disable=broad-except  # scoring is done; the check only informs
        return [f"warning: serving skew not checked: {type(exc).__name__}: {exc}"]
    if not lines:
        return []
    return ([f"warning: serving skew: these rows differ from the data {model_dir} was trained on "
             "(they were scored all the same):"] + lines)


@cli.command("serve")
@click.option("--output-dir", type=click.Path(), default=_DEFAULTS.output_dir, show_default=True,
              help="Serves the newest whole version under OUTPUT_DIR/serving_model (what the Pusher wrote).")
@click.option("--model-name", default=config_lib.PIPELINE_NAME, show_default=True,
              help="The NAME in /v1/models/NAME (on KServe: the InferenceService's name).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 serves other machines too.")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True,
              help="TF Serving's REST port by default.")
@click.option("--max-body-mb", type=click.FloatRange(min=0, min_open=True), default=10, show_default=True,
              help="Larger request bodies get 413.")
@click.option("--poll-seconds", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="How often to look for a newly pushed version (TF Serving's default: 1 s).")
def serve_command(output_dir, model_name, host, port, max_body_mb, poll_seconds) -> None:
    """Serve the pushed model with TF Serving's REST API (KServe, in its own environment)."""
    from pipeline.serving import serve_env
    serving_dir = os.path.join(output_dir, "serving_model")
    if not os.path.isdir(serving_dir):
        _fail(f"no pushed model: {serving_dir} does not exist. Run the pipeline first (`make run`), or point "
              "--output-dir at the --output-dir of a run that pushed a model.")
    try:
        python = serve_env.ensure(echo=lambda line: click.echo(line, err=True))
    except config_lib.ConfigError as exc:
        _fail(str(exc), code=1)
    command = serve_env.server_command(python, serving_dir, model_name, host, port, max_body_mb, poll_seconds)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, command)  # the server takes this process over: Ctrl-C and signals reach it directly


@cli.command("infer-schema")
@click.option("--data-root", type=click.Path(), required=True, help="Folder of CSV files.")
@click.option("--output", type=click.Path(), required=True, help="Schema file to write (text proto).")
@click.option("--label", default=None, help="Label column: its task (and classes) are written into the schema.")
@click.option("--task", type=click.Choice(["classification", "regression"]), default=None,
              help="The label's task; without it, guessed: strings, or whole numbers with at most 20 "
                   "distinct values, are classes; other numbers are regression.")
@click.option("--output-dir", type=click.Path(), default=_DEFAULTS.output_dir, show_default=True,
              help="Its TensorFlow / Beam / TFDV log goes to OUTPUT_DIR/logs/infer-schema-<time>.log.")
@click.option("--verbose", is_flag=True, help="Show TensorFlow, Beam and TFDV logs on the terminal "
              "instead of only in the log file.")
@click.option("--delimiter", default=",", show_default=True, callback=lambda _c, _p, v: _one_char("--delimiter", v),
              help="The character between fields (pandas' sep/delimiter), e.g. ';' for a European export.")
@click.option("--decimal", default=".", show_default=True, callback=lambda _c, _p, v: _one_char("--decimal", v),
              help="The numbers' decimal mark (pandas' decimal), e.g. ','.")
def infer_schema(data_root, output, label, task, output_dir, verbose, delimiter, decimal) -> None:
    """Infer a schema from a CSV folder, to review and check in."""
    from pipeline import logs
    from pipeline.data import schema_tools
    log_path = schema_tools.log_path(output_dir)
    try:
        with logs.captured(log_path, enabled=not verbose):  # TF's C++ logs at import too
            schema, task_line = schema_tools.infer_schema(data_root, output, label, task=task,
                                                          delimiter=delimiter, decimal=decimal)
    except config_lib.ConfigError as exc:
        _fail(str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        _fail(f"infer-schema failed: {type(exc).__name__}: {exc}\nThe full log, with the traceback, "
              f"is in {log_path} (rerun with --verbose to see it on the terminal).", code=1)
    text = schema_tools.text_features(schema)
    click.echo(f"wrote {output}: {len(schema.feature)} features"
               + (f"; text features (natural_language_domain): {', '.join(text)}" if text else
                  "; no free-text feature found") + ".")
    if task_line:
        click.echo(task_line)
    note = schema_tools.identifiers_note(schema, label)
    if note:
        click.echo(note)
    if (delimiter, decimal) != (",", "."):
        click.echo("`run` reads comma-separated files only (TFX 1.15's CsvExampleGen); convert the data once:\n  "
                   + dialect_command(data_root, delimiter, decimal))
    click.echo("Review it (see the comments at the top), then pass it with --schema."
               + ("" if verbose else f" (log: {log_path})"))


def dialect_command(source: str, delimiter: str, decimal: str) -> str:
    from pipeline.data import dialect
    return dialect.conversion_command(source, delimiter, decimal)


def _one_char(option: str, value: str) -> str:
    """A --delimiter/--decimal value: one character ('\\t' for a tab)."""
    value = "\t" if value in ("\\t", "tab") else value
    if len(value) != 1 or value in "\r\n\"":
        raise click.BadParameter(f"{value!r}: give one character, e.g. {option} ';'", param_hint=option)
    return value


@cli.command("convert-csv")
@click.option("--input", "input_path", type=click.Path(exists=True), required=True,
              help="A CSV file, or a folder of them.")
@click.option("--output", type=click.Path(), required=True, help="The file (or folder) to write.")
@click.option("--delimiter", required=True, callback=lambda _c, _p, v: _one_char("--delimiter", v),
              help="The input's field separator (pandas' sep), e.g. ';'.")
@click.option("--decimal", default=".", show_default=True, callback=lambda _c, _p, v: _one_char("--decimal", v),
              help="The input's decimal mark (pandas' decimal), e.g. ','.")
def convert_csv(input_path, output, delimiter, decimal) -> None:
    """Write a comma-separated, '.'-decimal copy of a CSV export (what `run` reads)."""
    from pipeline.data import dialect
    if os.path.abspath(input_path) == os.path.abspath(output):
        _fail("--output must differ from --input: the copy is written beside the original")
    for path, rows in dialect.convert(input_path, output, delimiter, decimal):
        click.echo(f"wrote {path}: {rows} rows")


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", category=FutureWarning)
    cli(prog_name="python -m pipeline")


if __name__ == "__main__":
    main()
