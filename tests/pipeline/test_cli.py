"""The CLI refuses bad options before anything runs (no TFX execution here)."""
import os

import pytest
from click.testing import CliRunner

from pipeline.__main__ import cli, explain
from pipeline.config import ConfigError


@pytest.mark.parametrize("args, words", [
    (["--train-steps", "0"], "Invalid value for '--train-steps'"),
    (["--eval-steps", "-3"], "Invalid value for '--eval-steps'"),
    (["--min-accuracy", "1.5"], "Invalid value for '--min-accuracy'"),
    (["--hparam", "dropout"], "--hparam 'dropout': expected NAME=VALUE"),
    (["--hparam", "dropout=__import__('os')"], "the value must be a number or a JSON list"),
    (["--hparam", "learnin_rate=0.1"], "unknown hyperparameter(s) ['learnin_rate']"),
    (["--split", "2-1"], "--split '2-1': expected TRAIN:EVAL"),
    (["--split", "0:1"], "--split '0:1': expected TRAIN:EVAL"),
])
def test_bad_options_exit_2_with_the_option_named(tmp_path, args, words):
    result = CliRunner().invoke(cli, ["run", "--output-dir", str(tmp_path / "out")] + args)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not os.path.exists(tmp_path / "out")  # nothing was written


def test_missing_data_root_and_schema_are_reported(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--data-root", str(tmp_path / "nope"),
                                      "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert f"--data-root {str(tmp_path / 'nope')!r} is not a folder" in result.output
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("x,y\n1,0\n")
    result = CliRunner().invoke(cli, ["run", "--data-root", str(tmp_path / "d"), "--schema",
                                      str(tmp_path / "s.pbtxt"), "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 1 and "infer-schema" in result.output


def test_explain_finds_the_users_error_inside_a_wrapped_exception():
    try:
        try:
            raise ConfigError("--slice ['x']: not model features")
        except ConfigError as inner:
            raise RuntimeError("launcher failed") from inner
    except RuntimeError as outer:
        assert explain(outer) == "--slice ['x']: not model features"
    assert explain(RuntimeError("a bug")) is None


def test_a_nan_loss_is_explained_not_traced():
    import tensorflow as tf
    try:
        raise RuntimeError("executor failed") from tf.compat.v1.train.NanLossDuringTrainingError()
    except RuntimeError as exc:
        message = explain(exc)
    assert message.startswith("Trainer: the training loss became NaN") and "learning_rate" in message
