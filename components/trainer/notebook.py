"""A Jupyter notebook as a prototype: the code that defines the model, without what the notebook
does at the top level.

A notebook reads its own data, adapts layers, trains, plots and displays at the top level; the
pipeline wants only its definitions. `read` keeps, cell by cell, the import statements, function
and class definitions, and assignments of constants (a value with no call in it, from literals and
names already kept: `LABEL = "tips"`, `FEATURES = NUMERIC + CATEGORICAL`). Everything else is
skipped, and so are magics (`%...`, `%%...`) and shell lines (`!...`). A kept cell keeps its line
numbers (what is skipped becomes blank lines), and is compiled under the name
`<notebook> [cell N]`, so a traceback names the notebook's cell and line.

Importable without TensorFlow.
"""
from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib.abc
import linecache
import os
import textwrap
from typing import Dict, List, Optional, Set, Tuple

# A model built at the top level: calls whose presence says "this cell builds or compiles a model".
_MODEL_BUILDING = ("Sequential", "Model", "compile")


class NotebookError(ValueError):
    """The notebook cannot be read, or a kept cell does not parse (message names cell and line)."""


@dataclasses.dataclass(frozen=True)
class Skipped:
    cell: int     # 1-based position among all the notebook's cells, as they appear
    line: int     # 1-based line in the cell
    text: str     # that line
    more: int     # further statements of the same cell skipped
    whole: bool   # nothing of the cell kept

    def describe(self) -> str:
        what = "cell" if self.whole else f"line {self.line} of cell"
        extra = f" (and {self.more} more statement{'s' if self.more > 1 else ''})" if self.more else ""
        return f"skipped {what} {self.cell}: {_shorten(self.text)}{extra}"


@dataclasses.dataclass(frozen=True)
class KeptCell:
    number: int
    source: str   # the cell's code with skipped lines blanked (same line numbers)


@dataclasses.dataclass(frozen=True)
class NotebookCode:
    path: str
    cells: List[KeptCell]
    skipped: List[Skipped]
    defined: List[str]               # functions and classes the kept code defines, in order
    skipped_names: Dict[str, int]    # a name only skipped code assigns -> its cell
    top_level_model: List[int]       # cells whose skipped code builds or compiles a model
    used_names: Set[str]             # names the kept functions, classes and constants read
    model_name: str                  # what the skipped top-level code calls .compile() on
    sources: Dict[int, str]          # every code cell's source as written, by number
    # function name -> (cell, line, arguments' source) of each call of it in skipped code
    top_level_calls: Dict[str, List[Tuple[int, str, Tuple[str, ...]]]] = dataclasses.field(
        default_factory=dict)

    def filename(self, cell: KeptCell) -> str:
        return f"{self.path} [cell {cell.number}]"

    @property
    def text(self) -> str:
        """The kept code, cell by cell (what the cache key hashes)."""
        return "".join(f"# [cell {c.number}]\n{c.source}\n" for c in self.cells)

    def skipped_cells_source(self, cells: List[int], limit: int = 24) -> str:
        """Those cells' code, indented as a function body would be (for the wrapping hint)."""
        lines: List[str] = []
        for number in cells:
            lines.append(f"# cell {number}")
            lines += self.sources.get(number, "").rstrip().splitlines()
        body = [l for l in lines if l.strip()]
        if len(body) > limit:
            body = body[:limit] + ["..."]
        return textwrap.indent("\n".join(body), "    ")


def _shorten(text: str, width: int = 90) -> str:
    text = text.strip()
    return text if len(text) <= width else text[:width - 3] + "..."


def _is_magic(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(("%", "!"))


def _loaded_names(node: ast.AST) -> Set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _has_call(node: ast.AST) -> bool:
    return any(isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr))
               for n in ast.walk(node))


def _targets(node: ast.stmt) -> Optional[List[str]]:
    """Names an Assign / AnnAssign binds, or None if it binds anything but plain names."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names: List[str] = []
    for target in targets:
        elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
        for element in elements:
            if not isinstance(element, ast.Name):
                return None
            names.append(element.id)
    return names


def _calls_model_building(node: ast.AST) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            func = n.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _MODEL_BUILDING:
                return True
    return False


def _compiled_name(node: ast.AST) -> Optional[str]:
    for n in ast.walk(node):
        if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "compile"
                and isinstance(n.func.value, ast.Name)):
            return n.func.value.id
    return None


def read(path: str) -> NotebookCode:
    """The notebook's kept code and what was skipped; NotebookError if it cannot be read."""
    import nbformat  # in the lock (TFX needs it)

    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as exc:  # not JSON, not a notebook
        raise NotebookError(f"{path} is not a readable Jupyter notebook: {type(exc).__name__}: {exc}") from None
    known: Set[str] = set(dir(builtins)) | {"__name__", "__file__"}
    cells: List[KeptCell] = []
    skipped: List[Skipped] = []
    defined: List[str] = []
    skipped_names: Dict[str, int] = {}
    top_level_model: List[int] = []
    model_name = "model"
    raw: Dict[int, str] = {}
    top_level_calls: Dict[str, List[Tuple[int, str, Tuple[str, ...]]]] = {}
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        raw[number] = cell.source
        lines = cell.source.splitlines()
        first = next(l for l in lines if l.strip())
        if first.lstrip().startswith("%%"):  # a cell magic: the whole cell is not Python
            skipped.append(Skipped(number, lines.index(first) + 1, first, 0, True))
            continue
        magic_lines = [i for i, line in enumerate(lines) if _is_magic(line)]
        python = [("" if i in magic_lines else line) for i, line in enumerate(lines)]
        try:
            tree = ast.parse("\n".join(python), f"{path} [cell {number}]")
        except SyntaxError as exc:
            raise NotebookError(
                f"{path}, cell {number}, line {exc.lineno}: {exc.msg}: {(exc.text or '').strip()}\n"
                "The pipeline reads the notebook's code cells as Python (IPython magics and ! shell "
                "lines are skipped); fix that line, or move it out of the cells your model needs") from None
        keep = [False] * len(python)
        skipped_here: List[tuple] = [(i + 1, lines[i]) for i in magic_lines]
        for node in tree.body:
            if _keeps(node, known):
                decorators = getattr(node, "decorator_list", [])
                start = min([node.lineno] + [d.lineno for d in decorators])
                for i in range(start - 1, node.end_lineno):
                    keep[i] = True
                known |= _bound_names(node)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    defined.append(node.name)
            else:
                if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                    continue  # a bare string or number: nothing to run, nothing to report
                skipped_here.append((node.lineno, lines[node.lineno - 1]))
                for name in _bound_names(node):
                    if name not in known:
                        skipped_names.setdefault(name, number)
                source = "\n".join(python)
                for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
                    if isinstance(call.func, ast.Name):
                        arguments = tuple(ast.get_source_segment(source, a) or "?" for a in call.args) + tuple(
                            f"{k.arg}={ast.get_source_segment(source, k.value) or '?'}" if k.arg else "**?"
                            for k in call.keywords)
                        top_level_calls.setdefault(call.func.id, []).append(
                            (number, lines[node.lineno - 1], arguments))
                if _calls_model_building(node) and number not in top_level_model:
                    top_level_model.append(number)
                model_name = _compiled_name(node) or model_name
        kept = [line if keep[i] else "" for i, line in enumerate(python)]
        if any(keep):
            cells.append(KeptCell(number, "\n".join(kept) + "\n"))
        if skipped_here:
            skipped_here.sort()
            line, text = skipped_here[0]
            skipped.append(Skipped(number, line, text, len(skipped_here) - 1, not any(keep)))
    used: Set[str] = set()
    for cell in cells:
        for node in ast.parse(cell.source).body:
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                used |= _loaded_names(node)
    code = NotebookCode(os.path.abspath(path), cells, skipped, defined, skipped_names,
                        top_level_model, used, model_name, raw, top_level_calls)
    return code


def _bound_names(node: ast.stmt) -> Set[str]:
    names: Set[str] = set()
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            names.add(alias.asname or alias.name.split(".")[0])
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names.add(node.name)
    else:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
    return names


def _keeps(node: ast.stmt, known: Set[str]) -> bool:
    """Imports, definitions, and constants: no call, and only names already kept."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                         ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        value = node.value
        if value is None or _targets(node) is None or _has_call(value):
            return False
        return _loaded_names(value) <= known
    return False


@dataclasses.dataclass(frozen=True)
class Statement:
    cell: int
    line: int
    code: object                 # the compiled statement
    optional: Optional[str]      # an import nothing kept uses (e.g. matplotlib): its text


def compile_cells(code: NotebookCode) -> List[Statement]:
    """The kept statements, compiled one by one under `<notebook> [cell N]` with the cell's line
    numbers; the cells' lines are registered with linecache, so a traceback shows them.

    An import whose names no kept function, class or constant reads is `optional`: a notebook
    imports plotting libraries for its top-level plots, which the pipeline's environment may lack.
    """
    statements = []
    for cell in code.cells:
        filename = code.filename(cell)
        lines = cell.source.splitlines(keepends=True)
        linecache.cache[filename] = (len(cell.source), None, lines, filename)
        for node in ast.parse(cell.source, filename).body:
            optional = None
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not (_bound_names(node) & code.used_names):
                optional = lines[node.lineno - 1].strip()
            statements.append(Statement(cell.number, node.lineno,
                                        importlib.abc.InspectLoader.source_to_code(
                                            ast.Module([node], []), filename), optional))
    return statements


class StatementLoader(importlib.abc.InspectLoader):
    """Runs one kept statement in the notebook's module through the import system, as a .py
    prototype's module is run (`loader.exec_module`)."""

    def __init__(self, statement: Statement):
        self._statement = statement

    def get_code(self, fullname):
        return self._statement.code

    def get_source(self, fullname):
        return None


def wrap_hint(code: NotebookCode, function: str) -> str:
    """How to put the cells that build the model at the top level into the function asked for."""
    body = code.skipped_cells_source(code.top_level_model)
    cells = code.top_level_model
    which = f"cell {cells[0]}" if len(cells) == 1 else "cells " + ", ".join(map(str, cells))
    return (f"Wrap the cells that build it ({which}) in a function, adapting on train_dataset "
            f"instead of the notebook's own data:\n\n"
            f"def {function}(train_dataset):\n{body}\n    return {code.model_name}\n\n"
            "train_dataset is the training split (a dict of (batch, 1) columns, no label); the "
            "notebook can call it too, e.g. model = build_model(train_ds)")


def arguments_hint(code: NotebookCode, function: str, missing: List[str]) -> str:
    """How to give `function` the arguments (`missing`) the notebook's skipped top-level code
    passes it ("" when the notebook does not call it): a new function that makes them from
    train_dataset and calls it."""
    calls = code.top_level_calls.get(function)
    if not calls:
        return ""
    cell, line, arguments = calls[0]
    made = [a for a in arguments if a.isidentifier() and a in code.skipped_names]
    setters = sorted({code.skipped_names[a] for a in made})
    which = f"cell {setters[0]}" if len(setters) == 1 else "cells " + ", ".join(map(str, setters))
    wrapper = "build_model" if function != "build_model" else "build_model_for_pipeline"
    body = code.skipped_cells_source(setters) + "\n" if setters else ""
    return (f"\nThe notebook calls it at the top level, in cell {cell}: {_shorten(line)}"
            + (f", with {', '.join(repr(a) for a in made)} made by top-level code in {which}" if made else "")
            + ", which the pipeline skips. Add a cell with a function that makes those arguments, "
            "adapting on train_dataset instead of the notebook's own data, and calls it:\n\n"
            f"def {wrapper}(train_dataset):\n{body}    return {function}({', '.join(arguments)})\n\n"
            f"then pass --model {os.path.basename(code.path)}:{wrapper} (train_dataset is the training "
            "split: a dict of (batch, 1) columns, no label)")
