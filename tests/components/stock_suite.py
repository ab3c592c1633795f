"""Runs a TFX component's own executor tests, as shipped in the installed wheel, against an executor.

TFX ships `tfx/components/<name>/executor_test.py` in its wheel, without the `testdata/` tree the
tests read (they find it as `<dirname(dirname(__file__))>/testdata`). This runner loads the test
module from the wheel's own file, points its `__file__` into a folder where the caller built a
stand-in `testdata/`, and, when given one, swaps the module's `executor` for ours: our module laid
over the stock one, so the test finds our `Executor` and, for any other name it uses (constants,
helpers), the stock module's, as it would with a subclassing executor module.

    python tests/components/stock_suite.py STOCK_TEST_MODULE FAKE_TEST_FILE [OUR_EXECUTOR_MODULE ...]

runs the suite against the stock executor, then against each module given (a fresh load of the
test module each time), and prints one JSON object: {"file": the wheel's test file, "runs":
{"stock" | module: {test id: {"outcome": "passed" | "failed" | "error" | "skipped", "detail":
traceback or reason}}}}. It runs as its own process: each stock suite brings its own absl flags
and TensorFlow test setup, which must not meet pytest's.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import types
import unittest


def overlay(stock: types.ModuleType, ours: types.ModuleType) -> types.ModuleType:
    """A module holding the stock module's names, with ours laid over them."""
    module = types.ModuleType(f"{ours.__name__}+{stock.__name__}")
    module.__dict__.update({k: v for k, v in vars(stock).items() if not k.startswith("__")})
    module.__dict__.update({k: v for k, v in vars(ours).items() if not k.startswith("__")})
    return module


def load_stock_tests(test_module: str, fake_file: str, executor_module: str = "") -> types.ModuleType:
    spec = importlib.util.find_spec(test_module)
    if spec is None or not spec.origin:
        raise SystemExit(f"{test_module} is not installed")
    module_spec = importlib.util.spec_from_file_location(f"stock_{test_module.replace('.', '_')}",
                                                         spec.origin)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    module.__file__ = fake_file  # the tests read their testdata next to this
    if executor_module:
        stock = module.executor
        module.executor = overlay(stock, importlib.import_module(executor_module))
    module.__dict__["_loaded_from"] = spec.origin
    return module


def run(module: types.ModuleType) -> dict:
    outcomes = {}

    class Result(unittest.TestResult):
        def addSuccess(self, test):
            outcomes[test.id()] = {"outcome": "passed", "detail": ""}

        def addFailure(self, test, err):
            outcomes[test.id()] = {"outcome": "failed", "detail": self._exc_info_to_string(err, test)}

        def addError(self, test, err):
            outcomes[test.id()] = {"outcome": "error", "detail": self._exc_info_to_string(err, test)}

        def addSkip(self, test, reason):
            outcomes[test.id()] = {"outcome": "skipped", "detail": reason}

    unittest.defaultTestLoader.loadTestsFromModule(module).run(Result())
    return {test_id.split(".", 1)[1]: outcome for test_id, outcome in outcomes.items()}


def main(argv) -> None:
    from absl import flags
    flags.FLAGS(argv[:1])  # tf.test's temp dirs read absl flags
    test_module, fake_file = argv[1], argv[2]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    runs, origin = {}, ""
    for executor_module in [""] + list(argv[3:]):
        module = load_stock_tests(test_module, fake_file, executor_module)
        runs[executor_module or "stock"], origin = run(module), module._loaded_from
    print("STOCK-SUITE-RESULT " + json.dumps({"file": origin, "runs": runs}))


if __name__ == "__main__":
    main(sys.argv)
