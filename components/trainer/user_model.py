"""A user's own Keras prototype: found, imported and called, with errors that point at their code.

`--model MODULE:FUNCTION` names a function that returns a compiled `tf.keras.Model`; MODULE is a
.py file, a dotted module, or a Jupyter notebook (`notebook.py`: its definitions only). It is
called with those of these keyword arguments it declares (`AVAILABLE_ARGUMENTS`):
`train_dataset` (the training split's raw features, batched: a dict from column name to a
`(batch, 1)` tensor, float32 with NaN for missing numbers, tf.string for strings; no label),
`num_classes`, `class_names` (in the label's id order) and `hparams` (the `--hparam` values).

Everything that goes wrong in the user's code is raised as `UserModelError`, whose message
shows the lines of *their* files from the traceback and their exception's message, not
TensorFlow's internals. What the function returns is checked in `user_model_checks.py`; which
files are the user's (and their hash) is `user_sources.py`'s. Importing this module does not
import TensorFlow.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import os
import re
import sys
import traceback
import types
from typing import Any, Callable, Dict, List, Mapping, Optional

from components.trainer import notebook as notebook_lib
from components.trainer import user_sources

AVAILABLE_ARGUMENTS = ("train_dataset", "num_classes", "class_names", "hparams")
NOTEBOOK_SUFFIX = ".ipynb"


class UserModelError(ValueError):
    """The user's model function cannot give the pipeline a model (what, where, fix)."""


def names_a_file(module: str) -> bool:
    """Whether --model's MODULE is a file's path (a .py file or a notebook), not a dotted module."""
    return module.endswith((".py", NOTEBOOK_SUFFIX)) or "/" in module or os.sep in module


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Where the user's model function lives; travels in the Trainer's custom_config."""
    module: str           # a dotted module name, or the path of a .py file
    function: str
    search_path: str      # folder a dotted module is imported from (the working directory)
    source_sha256: str    # of the module's file and the user's modules it imports (user_sources):
                          # an edited prototype, or an edited helper of it, is trained again
    # The file `parse_spec` found the module in (a file's own path), on the machine that parsed
    # it; not part of the spec that travels (`to_dict`), so not of the Trainer's cache key.
    origin: str = dataclasses.field(default="", compare=False)

    _TRAVELS = ("module", "function", "search_path", "source_sha256")

    @property
    def is_file(self) -> bool:
        return names_a_file(self.module)

    @property
    def is_notebook(self) -> bool:
        return self.module.endswith(NOTEBOOK_SUFFIX)

    def to_dict(self) -> Dict[str, str]:
        return {name: getattr(self, name) for name in self._TRAVELS}

    @classmethod
    def from_dict(cls, values: Mapping[str, str]) -> "ModelSpec":
        return cls(**{name: values[name] for name in cls._TRAVELS})

    def __str__(self) -> str:
        return f"{self.module}:{self.function}"


def parse_spec(text: str, search_path: Optional[str] = None) -> ModelSpec:
    """`MODULE:FUNCTION` -> ModelSpec, with the file the module is in (`origin`), checking it
    exists (not importing it)."""
    search_path = os.path.abspath(search_path or os.getcwd())
    module, sep, function = text.rpartition(":")
    if not sep or not module or not function.isidentifier():
        raise UserModelError(
            f"--model {text!r}: expected MODULE:FUNCTION, e.g. --model examples/text_classifier.py:build_model "
            "or --model examples.text_classifier:build_model (or a notebook: proto.ipynb:build_model)")
    if names_a_file(module):
        path = os.path.abspath(os.path.join(search_path, module))
        if not os.path.isfile(path):
            raise UserModelError(f"--model {text!r}: file {path} does not exist. Give the path of "
                                 "your .py file or notebook (relative to the working directory), or a "
                                 "dotted module")
        folders = [os.path.dirname(path), search_path]
        if path.endswith(NOTEBOOK_SUFFIX):
            source_sha256 = user_sources.notebook_sha256(read_notebook(path, text), folders)
        else:
            source_sha256 = user_sources.sources_sha256(path, folders)
        return ModelSpec(path, function, os.path.dirname(path), source_sha256, origin=path)
    if not all(part.isidentifier() for part in module.split(".")):
        raise UserModelError(f"--model {text!r}: {module!r} is neither a .py file nor a dotted module name")
    origin = module_file(module, search_path, text)
    return ModelSpec(module, function, search_path, user_sources.sources_sha256(origin, [search_path]),
                     origin=origin)


def module_file(module: str, search_path: str, text: str) -> str:
    """The file of a dotted module as imported from `search_path`, without running it (its
    parent packages run); `text` is the --model value the errors quote."""
    with _on_path(search_path):
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        except Exception as exc:  # a parent package's __init__ raised
            raise UserModelError(f"--model {text!r}: importing the package of {module!r} failed:\n"
                                 + user_traceback(exc)) from None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        raise UserModelError(
            f"--model {text!r}: no module {module!r} importable from {search_path}. Run from the folder "
            "that holds it (a dotted module is imported from the working directory), or give the "
            "path of the .py file instead")
    return spec.origin


def read_notebook(path: str, text: str) -> notebook_lib.NotebookCode:
    """The notebook's kept code (`notebook.read`); `text` is the --model value errors quote."""
    try:
        return notebook_lib.read(path)
    except notebook_lib.NotebookError as exc:
        raise UserModelError(f"--model {text!r}: {exc}") from None


class _on_path:
    def __init__(self, folder: str):
        self.folder = folder

    def __enter__(self):
        self.added = self.folder not in sys.path
        if self.added:
            sys.path.insert(0, self.folder)

    def __exit__(self, *exc):
        if self.added and self.folder in sys.path:
            sys.path.remove(self.folder)


def user_traceback(exc: BaseException, max_frames: int = 8, max_message_lines: int = 12) -> str:
    """The user's own frames of `exc`'s traceback, and its message; none of the libraries'."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if user_sources.is_users_file(f.filename)]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append(traceback.FrameSummary(exc.filename, exc.lineno or 0, "<module>",
                                             line=(exc.text or "").strip()))
    lines = []
    for frame in frames[-max_frames:]:
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    message = _without_library_frames(str(exc).strip().splitlines()) or [""]
    if message[0].startswith(f"{type(exc).__name__}: "):  # what was under "in user code:"
        message[0] = message[0][len(type(exc).__name__) + 2:]
    if len(message) > max_message_lines:
        message = message[:max_message_lines] + ["  ..."]
    lines.append(f"{type(exc).__name__}: " + "\n  ".join(m for m in message if m.strip() or m == message[0]))
    return "\n".join(lines)


_FRAME = re.compile(r'^(\s*)File "([^"]+)", line \d+')


def _without_library_frames(lines: List[str]) -> List[str]:
    """A message's lines without the library frames that TensorFlow writes into some of its
    messages (tf.function's "in user code:" list): each `File "..."` line of a file not the
    user's, and the lines indented under it."""
    kept: List[str] = []
    skipping_under = None  # the indentation of a dropped frame line
    for line in lines:
        if skipping_under is not None:
            indent = len(line) - len(line.lstrip())
            if line.strip() and indent > skipping_under:
                continue
            skipping_under = None
        frame = _FRAME.match(line)
        if frame and not user_sources.is_users_file(frame.group(2)):
            skipping_under = len(frame.group(1))
            continue
        kept.append(line)
    if kept and kept[0].strip() == "in user code:" and not any(_FRAME.match(k) for k in kept):
        return [k.strip() for k in kept[1:] if k.strip()]  # none of the frames was the user's
    return kept


_LOADED: Dict[tuple, Any] = {}
_NOTEBOOKS: Dict[tuple, notebook_lib.NotebookCode] = {}
_NOTEBOOK_NOTES: Dict[tuple, List[str]] = {}  # optional imports that failed, per notebook version


def notebook_code(spec: ModelSpec) -> notebook_lib.NotebookCode:
    """The kept code of the notebook `spec` names (read once per version)."""
    key = (spec.module, spec.source_sha256)
    if key not in _NOTEBOOKS:
        _NOTEBOOKS[key] = read_notebook(spec.module, str(spec))
    return _NOTEBOOKS[key]


def skipped_cells(spec: ModelSpec) -> List[str]:
    """One line per notebook cell whose top-level code the pipeline skips (none for a .py)."""
    if not spec.is_notebook:
        return []
    return ([s.describe() for s in notebook_code(spec).skipped]
            + _NOTEBOOK_NOTES.get((spec.module, spec.source_sha256), []))


def _import_notebook(spec: ModelSpec, name: str) -> types.ModuleType:
    code = notebook_code(spec)
    module = types.ModuleType(name)
    module.__file__ = spec.module
    sys.modules[name] = module
    notes = _NOTEBOOK_NOTES.setdefault((spec.module, spec.source_sha256), [])
    with _on_path(os.path.dirname(spec.module)):
        for statement in notebook_lib.compile_cells(code):
            try:
                notebook_lib.StatementLoader(statement).exec_module(module)
            except ImportError as exc:
                if statement.optional is None:
                    raise
                line = (f"skipped line {statement.line} of cell {statement.cell}: {statement.optional} "
                        f"({type(exc).__name__}: {exc}; nothing the model needs uses it)")
                if line not in notes:
                    notes.append(line)
    return module


def load_function(spec: ModelSpec) -> Callable:
    """Imports the user's module and returns the function (each file version imported once)."""
    key = (spec.module, spec.source_sha256)
    if key not in _LOADED:
        try:
            if spec.is_notebook:
                module = _import_notebook(spec, "keras_tfx_user_model_" + spec.source_sha256[:12])
            elif spec.is_file:
                name = "keras_tfx_user_model_" + spec.source_sha256[:12]
                module_spec = importlib.util.spec_from_file_location(name, spec.module)
                module = importlib.util.module_from_spec(module_spec)
                with _on_path(os.path.dirname(spec.module)):
                    sys.modules[name] = module
                    module_spec.loader.exec_module(module)
            else:
                with _on_path(spec.search_path):
                    module = importlib.import_module(spec.module)
        except Exception as exc:  # their module's own error: show their lines
            raise UserModelError(f"--model {spec}: importing {spec.module} failed:\n"
                                 + user_traceback(exc) + _hint(exc, spec)) from None
        _LOADED[key] = module
    module = _LOADED[key]
    function = getattr(module, spec.function, None)
    if function is None and spec.is_notebook:
        code = notebook_code(spec)
        if code.top_level_model:
            raise UserModelError(
                f"--model {spec}: the notebook builds its model at the top level, with no function "
                f"{spec.function!r}; the pipeline keeps only the notebook's imports, functions, classes "
                f"and constants, and calls the function to build the model. "
                + notebook_lib.wrap_hint(code, spec.function))
        raise UserModelError(f"--model {spec}: the notebook defines no function {spec.function!r}. "
                             f"Functions and classes it defines: {code.defined or 'none'}. Name the "
                             "function that returns your compiled Keras model after the ':'")
    if function is None:
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                        and getattr(v, "__module__", None) == module.__name__)
        raise UserModelError(f"--model {spec}: {spec.module} has no {spec.function!r}. Functions "
                             f"defined there: {public or 'none'}. Name the function that returns "
                             "your compiled Keras model after the ':'")
    if not callable(function):
        raise UserModelError(f"--model {spec}: {spec.function!r} in {spec.module} is a "
                             f"{type(function).__name__}, not a function")
    check_signature(function, spec)
    return function


def check_signature(function: Callable, spec: ModelSpec) -> None:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return
    missing = [p.name for p in parameters
               if p.default is inspect.Parameter.empty and p.name not in AVAILABLE_ARGUMENTS
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)]
    if missing:
        raise UserModelError(
            f"--model {spec}: {spec.function}() requires {missing}, which the pipeline does not "
            f"provide. It passes, by keyword, those of {list(AVAILABLE_ARGUMENTS)} that the function "
            "declares: rename the parameters, give the others defaults, or name a function that "
            "makes them and calls this one"
            + (notebook_lib.arguments_hint(notebook_code(spec), spec.function, missing)
               if spec.is_notebook else ""))


def call(function: Callable, spec: ModelSpec, **available) -> Any:
    """Calls the user's function with the keyword arguments it declares."""
    parameters = inspect.signature(function).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    kwargs = {k: v for k, v in available.items() if takes_all or k in parameters}
    try:
        return function(**kwargs)
    except Exception as exc:
        raise UserModelError(f"--model {spec}: {spec.function}() raised an error:\n"
                             + user_traceback(exc) + _hint(exc, spec)) from None


# `layer.adapt(train_dataset)`, or of a conversion of it (`np.array(train_dataset)`, as the
# tutorials adapt on their DataFrame).
_FIT = re.compile(r"\.fit\(")
_ADAPT_ON_ALL = re.compile(r"\.adapt\((?:\s*[\w.]+\()?\s*train_dataset\s*[,)]")


def _hint(exc: BaseException, spec: Optional[ModelSpec] = None) -> str:
    text = str(exc)
    if isinstance(exc, NameError) and spec is not None and spec.is_notebook:
        cell = notebook_code(spec).skipped_names.get(getattr(exc, "name", None) or "")
        if cell is not None:
            return (f"\nHint: {exc.name!r} is set by top-level code in cell {cell}, which the pipeline "
                    "skips (it keeps imports, functions, classes and constants). Compute it inside "
                    "the function, e.g. from train_dataset, or pass it as a constant.")
    frames = traceback.extract_tb(exc.__traceback__)
    if any(_FIT.search(frame.line or "") for frame in frames if user_sources.is_users_file(frame.filename)):
        return ("\nHint: the function should return the model compiled and untrained: the pipeline "
                "trains it (model_to_estimator, train_and_evaluate on --train-steps), and "
                "train_dataset has no label to fit on. Leave model.fit(...) out of the function "
                "(a notebook can keep it in a top-level cell, which the pipeline skips).")
    if any(_ADAPT_ON_ALL.search(frame.line or "") for frame in frames):
        return ("\nHint: train_dataset is a tf.data.Dataset, not a table: its elements are dicts (CSV "
                "column name -> (batch, 1) tensor), and a preprocessing layer adapts on tensors: map it to what the layer takes, e.g. one column, "
                "train_dataset.map(lambda x: x['COLUMN']), or numeric columns side by side, "
                "train_dataset.map(lambda x: tf.concat([x[c] for c in COLUMNS], axis=1)).")
    if "TextVectorization" in text and "rank must be 1 or the last shape dimension must be 1" in text:
        return ("\nHint: train_dataset's columns are (batch, 1) tensors, so a TextVectorization "
                "adapted on one takes inputs of shape (None, None). Start the Sequential with "
                "tf.keras.Input(shape=(1,), dtype=tf.string), or adapt on the column squeezed "
                "to one dimension: train_dataset.map(lambda x: x['COLUMN'][:, 0]).")
    if isinstance(exc, TypeError) and "in user code" in text and "missing 1 required positional argument" in text:
        # The tutorials adapt on (features, label) pairs: dataset.map(lambda x, y: x[name]).
        return ("\nHint: train_dataset holds the features only, no label: each element is one dict "
                "(CSV column name -> (batch, 1) tensor). Where a tutorial maps over (features, label) "
                "pairs, as in dataset.map(lambda x, y: x[name]), map with one argument: "
                "train_dataset.map(lambda x: x[name]).")
    return ""
