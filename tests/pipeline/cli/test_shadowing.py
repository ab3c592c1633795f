"""A user's file in the working directory that hid a library's module is named after the failure."""
from __future__ import annotations

import csv
import importlib.metadata
import os
import subprocess
import sys
import types

import pytest

from pipeline import config as config_lib
from pipeline.cli import shadowing

PROTOTYPE = "import tensorflow as tf\n\n\ndef build():\n    return tf.keras.Sequential([tf.keras.layers.Dense(1)])\n"


def _installed(distribution: str, relative: str) -> str:
    """Where pip put a distribution's file, by its own metadata (not by our lookup)."""
    return os.path.realpath(str(importlib.metadata.distribution(distribution).locate_file(relative)))


def test_only_modules_loaded_from_the_folder_count(tmp_path):
    (tmp_path / "proto.py").write_text(PROTOTYPE)
    modules = {"proto": types.SimpleNamespace(__file__=str(tmp_path / "proto.py")),
               "proto.sub": types.SimpleNamespace(__file__=str(tmp_path / "proto.py")),
               "os": os, "builtin": types.SimpleNamespace()}
    assert shadowing.loaded_from(str(tmp_path), modules) == ["proto"]


def test_a_file_named_like_an_installed_package_or_the_projects_own_is_found_with_what_it_hid(tmp_path):
    for name in ("proto.py", "components.py", "my_model.py"):
        (tmp_path / name).write_text(PROTOTYPE)
    (tmp_path / "six").mkdir()
    (tmp_path / "six" / "__init__.py").write_text("")
    hidden = shadowing.hidden_by(str(tmp_path), ["components", "my_model", "proto", "six"],
                                 sys.path + [config_lib.PROJECT_ROOT])
    assert [(path, name) for path, name, _ in hidden] == [
        (str(tmp_path / "components.py"), "components"), (str(tmp_path / "proto.py"), "proto"),
        (str(tmp_path / "six"), "six")]
    origins = {name: os.path.realpath(origin) for _, name, origin in hidden}
    assert origins["proto"] == _installed("proto-plus", "proto/__init__.py")
    assert origins["six"] == _installed("six", "six.py")
    assert origins["components"] == os.path.join(os.path.realpath(config_lib.PROJECT_ROOT), "components",
                                                 "__init__.py")


def test_the_projects_own_folder_hides_nothing(tmp_path):
    # `tests` is this suite's package, which the CLI never imports; once a test has imported
    # IPython (nbformat's notebooks do), IPython/extensions is on sys.path, and holds a `tests`.
    names = [n for n in shadowing.loaded_from(config_lib.PROJECT_ROOT, sys.modules) if n != "tests"]
    assert "pipeline" in names
    assert shadowing.hidden_by(config_lib.PROJECT_ROOT, names, sys.path + [config_lib.PROJECT_ROOT]) == []


def _cli(cwd, *args):
    env = dict(os.environ, PYTHONPATH=config_lib.PROJECT_ROOT)
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240)


def _tiny_csv(folder) -> str:
    os.makedirs(folder)
    with open(os.path.join(folder, "data.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x", "y"])
        writer.writerows([[i, i % 2] for i in range(40)])
    return folder


@pytest.mark.timeout(300)
def test_a_prototype_saved_as_proto_py_beside_the_user_is_named_instead_of_a_library_traceback(tmp_path):
    """Beam imports proto-plus's `proto`; `python -m pipeline` searches the working directory first."""
    (tmp_path / "proto.py").write_text(PROTOTYPE)
    data = _tiny_csv(str(tmp_path / "data"))
    done = _cli(str(tmp_path), "infer-schema", "--data-root", data, "--output", str(tmp_path / "s.pbtxt"),
                "--label", "y")
    assert done.returncode == 1, done.stderr[-3000:]
    said = f"{tmp_path / 'proto.py'} was imported as 'proto' in place of "
    (line,) = [line for line in done.stderr.splitlines() if said in line]
    assert os.path.realpath(line.split(said)[1].strip()) == _installed("proto-plus", "proto/__init__.py")
    assert "Rename it (and the --model or imports that name it), or run from another directory." in done.stderr
    assert not (tmp_path / "s.pbtxt").exists()


@pytest.mark.timeout(300)
def test_files_no_library_imports_are_left_alone(tmp_path):
    """A `test.py` or `notebook.py` beside the user hides stdlib's `test` and jupyter's `notebook`,
    which nothing in a command imports: the command runs and says nothing of them."""
    (tmp_path / "test.py").write_text(PROTOTYPE)
    (tmp_path / "notebook.py").write_text(PROTOTYPE)
    data = _tiny_csv(str(tmp_path / "data"))
    done = _cli(str(tmp_path), "infer-schema", "--data-root", data, "--output", str(tmp_path / "s.pbtxt"),
                "--label", "y")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "hid a module" not in done.stderr and (tmp_path / "s.pbtxt").is_file()


@pytest.mark.timeout(300)
def test_a_run_that_dies_in_a_library_still_tells_the_webhook_it_failed(tmp_path):
    """Nightly runs: a run broken before any component (here by a proto.py beside the user) posts
    `failed` to --notify and names the file, like any failure."""
    from tests.pipeline.test_notify import _Hook
    (tmp_path / "proto.py").write_text(PROTOTYPE)
    hook = _Hook()
    try:
        done = _cli(str(tmp_path), "run", "--data-root", os.path.join(config_lib.PROJECT_ROOT, "data", "taxi"),
                    "--output-dir", str(tmp_path / "out"), "--notify", hook.url)
    finally:
        hook.close()
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"{tmp_path / 'proto.py'} was imported as 'proto'" in done.stderr
    (body,) = [body for _, body in hook.bodies]
    assert body["status"] == "failed" and "proto" in body["reason"], body
    assert not os.path.exists(tmp_path / "out" / "serving_model")
