"""The virtual environment is installed the way the Makefile says: with compiled bytecode.

Where PYTHONDONTWRITEBYTECODE is set, Python never writes .pyc files, so a venv installed
without `uv pip install --compile-bytecode` recompiles TensorFlow, TFX and TFMA from source in
every process (importing TensorFlow took 12 s instead of 3 s). Checked without importing them.
"""
import importlib.util
import os

import pytest

HEAVY_MODULES = ["tensorflow", "tfx.components", "tensorflow_model_analysis", "apache_beam"]


@pytest.mark.parametrize("name", HEAVY_MODULES)
def test_heavy_packages_carry_compiled_bytecode(name):
    spec = importlib.util.find_spec(name.split(".")[0])
    root = os.path.dirname(spec.origin)
    module_file = os.path.join(root, *name.split(".")[1:], "__init__.py")
    cached = importlib.util.cache_from_source(module_file)
    assert os.path.exists(cached), (
        f"{name} has no compiled bytecode ({cached} is missing): the venv was not installed with "
        "`uv pip install --compile-bytecode`; rebuild it with `make clean venv`")
