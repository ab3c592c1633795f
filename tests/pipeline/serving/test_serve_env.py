"""`serve`'s own checks, before any server runs, and when the serving environment is rebuilt."""
from __future__ import annotations

import os

from click.testing import CliRunner

from pipeline.__main__ import cli
from pipeline.serving import serve_env


def test_serve_without_a_pushed_model_says_what_to_do(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--output-dir", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "no pushed model" in result.output and "make run" in result.output


def test_serve_refuses_a_bad_port_and_body_limit(tmp_path):
    assert CliRunner().invoke(cli, ["serve", "--port", "70000"]).exit_code == 2
    assert CliRunner().invoke(cli, ["serve", "--max-body-mb", "0"]).exit_code == 2


def test_serve_refuses_a_model_name_that_no_url_can_hold():
    for name in ("a:b", "a/b", "", "my model"):
        result = CliRunner().invoke(cli, ["serve", "--model-name", name])
        assert result.exit_code == 2 and "cannot be the NAME in /v1/models/NAME:predict" in result.output, name


def test_the_environment_is_current_only_for_the_lock_it_was_built_from(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("kserve==0.21.0\n")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    assert not serve_env.is_current(str(venv), str(lock))  # no stamp: never built, or stopped halfway
    (venv / serve_env.STAMP).write_text(serve_env.lock_digest(str(lock)))
    assert serve_env.is_current(str(venv), str(lock))
    lock.write_text("kserve==0.21.0\ntensorflow-cpu==2.21.0\n")
    assert not serve_env.is_current(str(venv), str(lock))  # the lock changed: rebuilt


def test_the_server_gets_the_options():
    command = serve_env.server_command("/venv/bin/python", "out/serving_model", "m", "127.0.0.1", 8501, 10, 1)
    assert command[1] == serve_env.SERVER_SCRIPT and os.path.isabs(command[command.index("--serving-dir") + 1])
    assert command[command.index("--max-body-mb") + 1] == "10"
