"""Files the code reads at run time are installed with it.

The image installs the project non-editable (`uv pip install .`), so a file that setup.py's
package_data does not name is missing there, though every test run from the source tree passes.
"""
import ast
import fnmatch
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Folders of data files the code loads: (package, folder inside it).
RUNTIME_DATA = [("pipeline.report", "templates")]


def _package_data() -> dict:
    with open(os.path.join(ROOT, "setup.py")) as f:
        tree = ast.parse(f.read())
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "setup")
    return ast.literal_eval(next(k.value for k in call.keywords if k.arg == "package_data"))


def test_setup_installs_every_runtime_data_file():
    package_data = _package_data()
    missing = []
    for package, folder in RUNTIME_DATA:
        package_dir = os.path.join(ROOT, *package.split("."))
        patterns = package_data.get(package, []) + package_data.get("", [])
        files = [os.path.relpath(os.path.join(here, name), package_dir)
                 for here, _, names in os.walk(os.path.join(package_dir, folder)) for name in names
                 if "__pycache__" not in here]
        assert files, f"nothing under {package}/{folder}"
        # setuptools globs each pattern relative to the package; '*' does not cross a '/'.
        missing += [f"{package}: {path}" for path in files
                    if not any(fnmatch.fnmatch(path, p) and path.count("/") == p.count("/") for p in patterns)]
    assert not missing, f"not in setup.py's package_data, so not installed: {missing}"
