"""`python -m pipeline predict | serve`: score CSV rows with a pushed model (with a serving-skew
check), or serve it with TF Serving's REST API.

Exit codes: 2 an option is wrong or no model was pushed, 1 the model cannot run (predict) or the
serving environment cannot be made (serve).
"""
from __future__ import annotations

import os
import sys

import click

from pipeline import config as config_lib
from pipeline.cli.errors import fail
from pipeline.cli.options import DEFAULTS, one_char


@click.command("predict")
@click.option("--input", "input_path", type=click.Path(), required=True, help="A CSV file or a folder of them.")
@click.option("--output", type=click.Path(dir_okay=False), required=True,
              help="CSV to write: the input rows plus predicted_class and probability_<class> columns.")
@click.option("--model", "model_dir", type=click.Path(), default=None,
              help="A pushed model version folder. Default: the newest under <output-dir>/serving_model.")
@click.option("--output-dir", type=click.Path(), default=DEFAULTS.output_dir, show_default=True)
@click.option("--beam-arg", "beam_args", multiple=True, metavar="ARG",
              help="Score as a Beam job (tfx_bsl RunInference) with these pipeline args (repeatable), "
                   "e.g. --beam-arg=--runner=DirectRunner. Default: in this process, streaming.")
@click.option("--delimiter", default=",", show_default=True, callback=lambda _c, _p, v: one_char("--delimiter", v),
              help="The character between fields (pandas' sep/delimiter), e.g. ';' for a European export.")
@click.option("--decimal", default=".", show_default=True, callback=lambda _c, _p, v: one_char("--decimal", v),
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
        fail(str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        if type(exc).__name__ != "ModelCannotRun":  # pipeline.serving.predict's, imported late (TensorFlow)
            raise
        fail(f"{exc}\nNothing was scored.", code=1)
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
        if type(exc).__name__ == "TooFewRows":  # pipeline.serving.skew's, imported late (TensorFlow)
            return [f"note: serving skew not checked: {exc}"]
        return [f"warning: serving skew not checked: {type(exc).__name__}: {exc}"]
    if not lines:
        return []
    return ([f"warning: serving skew: these rows differ from the data {model_dir} was trained on "
             "(they were scored all the same):"] + lines)


def _model_name(name: str) -> str:
    """TF Serving's rule for the NAME in /v1/models/NAME[:predict]: no '/' or ':' (its route is [^/:]+)."""
    bad = sorted({c for c in name if c in "/:" or c.isspace()})
    if not name or bad:
        raise click.BadParameter(f"{name!r} cannot be the NAME in /v1/models/NAME:predict"
                                 + (f" (it holds {' '.join(map(repr, bad))})" if bad else "")
                                 + "; use letters, digits, '-', '_' or '.', e.g. keras-tfx")
    return name


@click.command("serve")
@click.option("--output-dir", type=click.Path(), default=DEFAULTS.output_dir, show_default=True,
              help="Serves the newest whole version under OUTPUT_DIR/serving_model (what the Pusher wrote).")
@click.option("--model-name", default=config_lib.PIPELINE_NAME, show_default=True,
              callback=lambda _c, _p, v: _model_name(v),
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
        fail(f"no pushed model: {serving_dir} does not exist. Run the pipeline first (`make run`), or point "
             "--output-dir at the --output-dir of a run that pushed a model.")
    try:
        python = serve_env.ensure(echo=lambda line: click.echo(line, err=True))
    except config_lib.ConfigError as exc:
        fail(str(exc), code=1)
    command = serve_env.server_command(python, serving_dir, model_name, host, port, max_body_mb, poll_seconds)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, command)  # the server takes this process over: Ctrl-C and signals reach it directly
