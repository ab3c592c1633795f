"""A user's file that hid a module the pipeline's libraries import.

`python -m pipeline` puts the working directory first on `sys.path` (Python's rule for `-m`). A
prototype saved there as `proto.py`, `random.py` or `components.py` is then what `import proto`
loads, deep inside Beam or TensorFlow, and the command dies in a library's traceback that never
names the file (`AttributeError: module 'proto' has no attribute 'module'`). After a failure, the
CLI looks at what was actually imported from the working directory and names the file, what it hid
and how to fix it. Nothing is checked before: a file that no library imports (a `test.py`, a
`notebook.py`) is no one's business.
"""
from __future__ import annotations

import importlib.machinery
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from pipeline.config import PROJECT_ROOT


def _within(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


def loaded_from(folder: str, modules: Dict[str, object]) -> List[str]:
    """The top-level modules of `modules` (sys.modules) that Python found at the top of `folder`:
    `folder/NAME.py` or `folder/NAME/__init__.py` (not a module under a virtualenv inside it, nor an
    alias such as setuptools' `distutils`)."""
    real = os.path.realpath(folder)

    def at_top(name: str, module) -> bool:
        path = getattr(module, "__file__", None)
        return bool(path) and os.path.realpath(path) in (os.path.join(real, name + ".py"),
                                                        os.path.join(real, name, "__init__.py"))
    return sorted(name for name, module in list(modules.items()) if "." not in name and at_top(name, module))


def hidden_by(folder: str, names: Sequence[str], search_path: Sequence[str]) -> List[Tuple[str, str, str]]:
    """Of the modules `names` (loaded from `folder`), those that hide a module of the same name
    found elsewhere on `search_path`.

    Returns:
      (the user's file, the module name, where the hidden module lives), by name.
    """
    elsewhere = [p for p in search_path if not _within(p or os.curdir, folder)]
    found = []
    for name in names:
        spec = importlib.machinery.PathFinder.find_spec(name, elsewhere)
        if spec is None:
            continue
        origin = spec.origin if spec.has_location and spec.origin else \
            next(iter(spec.submodule_search_locations or []), None)
        if origin and not _within(origin, folder):
            users = os.path.join(folder, name)
            found.append((users if os.path.isdir(users) else users + ".py", name, origin))
    return found


def failure_note() -> Optional[str]:
    """After a command failed: the files of the working directory that Python loaded in place of a
    library's module (or the project's own), when `python -m pipeline` searched it first; else None."""
    folder = os.getcwd()
    if not sys.path or os.path.realpath(sys.path[0] or os.curdir) != os.path.realpath(folder):
        return None  # the console script: the working directory is not searched first
    names = loaded_from(folder, sys.modules)
    hidden = hidden_by(folder, names, list(sys.path[1:]) + [PROJECT_ROOT]) if names else []
    if not hidden:
        return None
    lines = [f"{path} was imported as {name!r} in place of {origin}" for path, name, origin in hidden]
    return ("a file of yours hid a module that the pipeline's libraries import:\n  " + "\n  ".join(lines)
            + f"\n`python -m pipeline` searches the working directory ({folder}) first, so `import "
            f"{hidden[0][1]}` loaded your file. Rename it (and the --model or imports that name it), or run "
            f"from another directory.")
