"""Which source files are the user's, and the hash of them that is the Trainer's cache key.

A user's prototype is one file (a .py module or a notebook) that may import helper modules of
their own; an edit to any of them must train again, an upgrade of a library must not count.
The user's modules are found from the import statements, without importing anything.
Importable without TensorFlow.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import os
import sys
import sysconfig
from typing import List, Optional, Sequence

from components.trainer import notebook as notebook_lib

# Code that is not the user's: the standard library, installed packages, and this project's
# components (the folder above this module's; the image installs them in site-packages).
_COMPONENTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NOT_USERS = tuple(os.path.realpath(p) + os.sep for p in {
    sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
    _COMPONENTS})


# tf.function's autograph writes each converted function to a temporary file of this name:
# TensorFlow's code, wherever the temporary folder is.
_AUTOGRAPH_FILE = "__autograph_generated_file"


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _locate(dotted: str, folders: Sequence[str]) -> List[str]:
    """The files importing a dotted module name runs (each package's __init__ on the way, then
    the module), searching `folders` first and then sys.path, without importing anything."""
    locations: Optional[List[str]] = list(folders) + sys.path
    files = []
    for part in dotted.split("."):
        if locations is None:  # `part` is an attribute of a module, not a module
            break
        spec = importlib.machinery.PathFinder.find_spec(part, locations)
        if spec is None:
            break
        if spec.origin and os.path.isfile(spec.origin):
            files.append(spec.origin)
        locations = spec.submodule_search_locations
    return files


def _imported_names(path: str, source: Optional[str] = None) -> List[tuple]:
    """(dotted name, folder to search first) for every import statement in the file at `path`
    (or in `source`, code that `path` holds, e.g. a notebook's kept cells)."""
    try:
        if source is None:
            with open(path, "rb") as f:
                source = f.read()
        tree = ast.parse(source, path)
    except (SyntaxError, ValueError, OSError):
        return []  # importing the module reports it, with the user's line
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            folder = None
            if node.level:  # relative: from the file's package, `level - 1` folders up
                folder = os.path.dirname(path)
                for _ in range(node.level - 1):
                    folder = os.path.dirname(folder)
            if node.module:
                names.append((node.module, folder))
            names += [(f"{node.module}.{alias.name}" if node.module else alias.name, folder)
                      for alias in node.names]
    return names


def user_sources(path: str, folders: Sequence[str]) -> List[str]:
    """The user's module at `path` and every module of the user's it imports, directly or through
    another of theirs: files outside the standard library, site-packages and this project, found
    from the import statements (an import made by a string at run time is not seen)."""
    found, todo = set(), [os.path.realpath(path)]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        here = [os.path.dirname(current)] + list(folders)
        for name, folder in _imported_names(current):
            todo += [os.path.realpath(origin) for origin in _locate(name, [folder] if folder else here)
                     if is_users_file(origin)]
    return sorted(found)


def sources_sha256(path: str, folders: Sequence[str]) -> str:
    """sha256 over the user's module and its own imported modules (`user_sources`), by content and
    path relative to the module's folder: the Trainer's cache key for a user's prototype."""
    root = os.path.dirname(os.path.realpath(path))
    total = hashlib.sha256()
    for source in user_sources(path, folders):
        total.update(f"{os.path.relpath(source, root)}\0{_sha256(source)}\n".encode())
    return total.hexdigest()


def notebook_sha256(code: notebook_lib.NotebookCode, folders: Sequence[str]) -> str:
    """sha256 over a notebook's kept code (not its outputs, nor the top-level code skipped) and
    the user's modules that code imports, as `sources_sha256` hashes a .py prototype."""
    root = os.path.dirname(code.path)
    total = hashlib.sha256()
    total.update(f"{os.path.basename(code.path)}\0{hashlib.sha256(code.text.encode()).hexdigest()}\n".encode())
    here = [root] + list(folders)
    modules = set()
    for name, folder in _imported_names(code.path, code.text):
        for origin in _locate(name, [folder] if folder else here):
            if is_users_file(origin):
                modules.update(user_sources(origin, folders))
    for source in sorted(modules):
        total.update(f"{os.path.relpath(source, root)}\0{_sha256(source)}\n".encode())
    return total.hexdigest()


def is_users_file(filename: str) -> bool:
    """A file of the user's: not the standard library's, an installed package's or this
    project's components' (nor Python's own `<frozen ...>`, `<string>`)."""
    if filename.startswith("<") or os.path.basename(filename).startswith(_AUTOGRAPH_FILE):
        return False
    return not os.path.realpath(filename).startswith(_NOT_USERS)
