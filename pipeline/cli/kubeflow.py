"""`python -m pipeline compile | run-compiled | submit`: the pipeline for Kubeflow Pipelines 2.x,
Vertex AI Pipelines or KFP 1.8, compiled offline, run here step by step, or sent to a KFP endpoint.

Exit codes: 2 an option, setting or spec is wrong (nothing ran), 1 a step failed or the
ServingCheck refused the model.
"""
from __future__ import annotations

import os
import time

import click

from pipeline import config as config_lib
from pipeline.kubeflow import targets
from pipeline.cli.errors import explain, fail
from pipeline.cli.options import DEFAULTS, parse_hparams, parse_input_map, parse_model


@click.command("compile")
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
@click.option("--schema", "schema_path", type=click.Path(), default=DEFAULTS.schema_path, show_default=True,
              help="Schema file under the project (baked into the image).")
@click.option("--schema-uri", default=None, help="Schema URI the steps read, if not the image's copy.")
@click.option("--label", default=DEFAULTS.label, show_default=True)
@click.option("--train-steps", type=click.IntRange(min=1), default=DEFAULTS.train_steps, show_default=True,
              help="Default of the train_steps run parameter.")
@click.option("--eval-steps", type=click.IntRange(min=0), default=DEFAULTS.eval_steps, show_default=True,
              help="Default of the eval_steps run parameter.")
@click.option("--min-accuracy", type=click.FloatRange(0, 1), default=None,
              help="Default of the min_accuracy run parameter (as for `run`; not given: -1, meaning the "
                   "eval split's majority-class rate + --min-lift).")
@click.option("--min-auc", type=click.FloatRange(0, 1), default=None,
              help="Binary classification: minimum eval AUC, as for `run` (default: 0.5 + --min-lift).")
@click.option("--min-lift", type=click.FloatRange(0, 1, max_open=True), default=DEFAULTS.min_lift,
              show_default=True, help="How far a model must beat the data's own baseline, as for `run`.")
@click.option("--max-accuracy-drop", type=click.FloatRange(0, 1), default=DEFAULTS.max_accuracy_drop,
              show_default=True, help="How far below the last blessed model's accuracy, as for `run`.")
@click.option("--max-mae", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Regression: maximum eval mean absolute error, as for `run`.")
@click.option("--max-mae-rise", type=click.FloatRange(min=0), default=DEFAULTS.max_mae_rise,
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
                                           hparams=parse_hparams(hparams, users_model=model is not None),
                                           model=parse_model(model, input_map),
                                           input_map=parse_input_map(input_map))
    except (config_lib.ConfigError, ValueError, TypeError) as exc:
        fail(str(exc))
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
        fail(message)
    click.echo(f"wrote {path} ({target}: {kubeflow_runner.TARGET_BACKENDS[target]}); "
               "run parameters: data_root, train_steps, eval_steps, min_accuracy, accept_drift, notify_urls")


@click.command("run-compiled")
@click.argument("spec_path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--pipeline-root", required=True, type=click.Path(file_okay=False),
              help="Local folder for the steps' outputs, logs and run records (replaces the compiled root).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Run parameter (repeatable): data_root, train_steps, eval_steps, min_accuracy, "
                   "accept_drift (1 lets a reviewed, drifted span through), notify_urls (webhooks the exit "
                   "handler posts the outcome to, separated by commas).")
@click.option("--backend", type=click.Choice(list(targets.PIPELINE_JSON)), default=None,
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
    from pipeline.kubeflow.launcher.outcome import outcome, serving_check_failed
    from pipeline.kubeflow.launcher.run import execute, prepare_run
    from pipeline.kubeflow.launcher.task_handler import StepFailed
    started = time.time()
    try:
        run = prepare_run(spec_path, pipeline_root, params, form=parameter_form,
                          use_cache=not no_cache, backend=backend, image=image)
    except config_lib.ConfigError as exc:
        fail(str(exc))
    click.echo(f"running {spec_path} step by step by {run.backend}'s rules"
               + (f" in {run.image.describe()}" if run.image else "")
               + f" under {run.run_dir} (logs: {run.run_dir}/logs/)")

    def finished(index, total, result):
        from pipeline import logs
        click.echo(f"{logs.step_counter(index, total)} {result.task:<52} {result.state:<9} {result.seconds:6.1f} s")

    try:
        results = execute(run, on_step=finished)
    except StepFailed as exc:
        _run_exit_handler(run, exc)
        fail(str(exc), code=1)
    _run_exit_handler(run, None)
    click.echo(f"run-compiled finished in {time.time() - started:.1f} s ({len(results)} steps)")
    click.echo("\n".join(outcome(run)))
    reason = serving_check_failed(run)
    if reason:
        fail(f"ServingCheck: {reason}\nNothing was pushed; the versions already served are unchanged.", code=1)


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


@click.command("submit")
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
        fail(str(exc))
    what = (f"recurring run {result.recurring_run_id}" if result.recurring_run_id
            else f"run {result.run_id}")
    click.echo(f"uploaded pipeline {result.pipeline_id} (version {result.version_id}) and started {what} "
               f"in experiment {result.experiment_id} at {endpoint}")
