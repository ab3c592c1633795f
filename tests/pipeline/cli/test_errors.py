"""pipeline/cli/errors.py: the cause walk, `explain` and `fail` (no TFX execution here)."""
import pytest

from pipeline.cli.errors import causes, explain, fail, first_cause
from pipeline.config import ConfigError


def test_causes_follow_the_cause_else_the_context_and_stop_at_a_cycle():
    try:
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("during")  # its __context__ is the KeyError
    except ValueError as during:
        outer = RuntimeError("outer")
        outer.__cause__ = during
    assert [type(exc) for exc in causes(outer)] == [RuntimeError, ValueError, KeyError]
    first, second = OSError("a"), OSError("b")
    first.__cause__, second.__cause__ = second, first
    assert list(causes(first)) == [first, second]
    assert list(causes(None)) == []


def test_first_cause_finds_the_first_of_a_kind_or_none():
    inner = ConfigError("inner")
    outer = ConfigError("outer")
    outer.__cause__ = inner
    wrapper = RuntimeError("wrapper")
    wrapper.__cause__ = outer
    assert first_cause(wrapper, ConfigError) is outer
    assert first_cause(wrapper, KeyError) is None


@pytest.mark.parametrize("code", [1, 2, 3])
def test_fail_prints_the_error_on_stderr_and_exits_with_the_code(capsys, code):
    with pytest.raises(SystemExit) as exited:
        fail("no runs recorded", code=code)
    assert exited.value.code == code
    assert capsys.readouterr().err == "error: no runs recorded\n"


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
