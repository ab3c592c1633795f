"""A user's own Keras prototype: found, called, checked, with errors that point at their code.

`--model MODULE:FUNCTION` names a function that returns a compiled `tf.keras.Model`; MODULE is a
.py file, a dotted module, or a Jupyter notebook (`notebook.py`: its definitions only). It is
called with those of these keyword arguments it declares (`AVAILABLE_ARGUMENTS`):
`train_dataset` (the training split's raw features, batched: a dict from column name to a
`(batch, 1)` tensor, float32 with NaN for missing numbers, tf.string for strings; no label),
`num_classes`, `class_names` (in the label's id order) and `hparams` (the `--hparam` values).

Everything that goes wrong in the user's code is raised as `UserModelError`, whose message
shows the lines of *their* files from the traceback and their exception's message, not
TensorFlow's internals. Importing this module does not import TensorFlow.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import sysconfig
import traceback
import types
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from components.trainer import notebook as notebook_lib

AVAILABLE_ARGUMENTS = ("train_dataset", "num_classes", "class_names", "hparams")
NOTEBOOK_SUFFIX = ".ipynb"

_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_NOT_USER_CODE = tuple(os.path.realpath(p) + os.sep for p in {
    sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
    os.path.join(_PROJECT_ROOT, "components"), os.path.join(_PROJECT_ROOT, "pipeline")})


class UserModelError(ValueError):
    """The user's model function cannot give the pipeline a model (what, where, fix)."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Where the user's model function lives; travels in the Trainer's custom_config."""
    module: str           # a dotted module name, or the path of a .py file
    function: str
    search_path: str      # folder a dotted module is imported from (the working directory)
    source_sha256: str    # of the module's file and the user's modules it imports (user_sources):
                          # an edited prototype, or an edited helper of it, is trained again

    @property
    def is_file(self) -> bool:
        return self.module.endswith((".py", NOTEBOOK_SUFFIX)) or os.sep in self.module

    @property
    def is_notebook(self) -> bool:
        return self.module.endswith(NOTEBOOK_SUFFIX)

    def to_dict(self) -> Dict[str, str]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, str]) -> "ModelSpec":
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls)})

    def __str__(self) -> str:
        return f"{self.module}:{self.function}"


def parse_spec(text: str, search_path: Optional[str] = None) -> ModelSpec:
    """`MODULE:FUNCTION` -> ModelSpec, checking the module's file exists (not importing it)."""
    search_path = os.path.abspath(search_path or os.getcwd())
    module, sep, function = text.rpartition(":")
    if not sep or not module or not function.isidentifier():
        raise UserModelError(
            f"--model {text!r}: expected MODULE:FUNCTION, e.g. --model examples/text_classifier.py:build_model "
            "or --model examples.text_classifier:build_model (or a notebook: proto.ipynb:build_model)")
    if module.endswith((".py", NOTEBOOK_SUFFIX)) or "/" in module or os.sep in module:
        path = os.path.abspath(os.path.join(search_path, module))
        if not os.path.isfile(path):
            raise UserModelError(f"--model {text!r}: file {path} does not exist. Give the path of "
                                 "your .py file or notebook (relative to the working directory), or a "
                                 "dotted module")
        folders = [os.path.dirname(path), search_path]
        if path.endswith(NOTEBOOK_SUFFIX):
            return ModelSpec(path, function, os.path.dirname(path),
                             notebook_sha256(read_notebook(path, text), folders))
        return ModelSpec(path, function, os.path.dirname(path), sources_sha256(path, folders))
    if not all(part.isidentifier() for part in module.split(".")):
        raise UserModelError(f"--model {text!r}: {module!r} is neither a .py file nor a dotted module name")
    origin = module_file(module, search_path, text)
    return ModelSpec(module, function, search_path, sources_sha256(origin, [search_path]))


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
                     if _is_user_frame(origin)]
    return sorted(found)


def sources_sha256(path: str, folders: Sequence[str]) -> str:
    """sha256 over the user's module and its own imported modules (`user_sources`), by content and
    path relative to the module's folder: the Trainer's cache key for a user's prototype."""
    root = os.path.dirname(os.path.realpath(path))
    total = hashlib.sha256()
    for source in user_sources(path, folders):
        total.update(f"{os.path.relpath(source, root)}\0{_sha256(source)}\n".encode())
    return total.hexdigest()


def read_notebook(path: str, text: str) -> notebook_lib.NotebookCode:
    """The notebook's kept code (`notebook.read`); `text` is the --model value errors quote."""
    try:
        return notebook_lib.read(path)
    except notebook_lib.NotebookError as exc:
        raise UserModelError(f"--model {text!r}: {exc}") from None


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
            if _is_user_frame(origin):
                modules.update(user_sources(origin, folders))
    for source in sorted(modules):
        total.update(f"{os.path.relpath(source, root)}\0{_sha256(source)}\n".encode())
    return total.hexdigest()


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


def _is_user_frame(filename: str) -> bool:
    if filename.startswith("<"):
        return False
    return not os.path.realpath(filename).startswith(_NOT_USER_CODE)


def user_traceback(exc: BaseException, max_frames: int = 8, max_message_lines: int = 12) -> str:
    """The user's own frames of `exc`'s traceback, and its message; none of the libraries'."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_user_frame(f.filename)]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append(traceback.FrameSummary(exc.filename, exc.lineno or 0, "<module>",
                                             line=(exc.text or "").strip()))
    lines = []
    for frame in frames[-max_frames:]:
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    message = str(exc).strip().splitlines() or [""]
    if len(message) > max_message_lines:
        message = message[:max_message_lines] + ["  ..."]
    lines.append(f"{type(exc).__name__}: " + "\n  ".join(m for m in message if m.strip() or m == message[0]))
    return "\n".join(lines)


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
            "declares: rename the parameters, or give the others defaults")


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


def _hint(exc: BaseException, spec: Optional[ModelSpec] = None) -> str:
    text = str(exc)
    if isinstance(exc, NameError) and spec is not None and spec.is_notebook:
        cell = notebook_code(spec).skipped_names.get(getattr(exc, "name", None) or "")
        if cell is not None:
            return (f"\nHint: {exc.name!r} is set by top-level code in cell {cell}, which the pipeline "
                    "skips (it keeps imports, functions, classes and constants). Compute it inside "
                    "the function, e.g. from train_dataset, or pass it as a constant.")
    if "TextVectorization" in text and "rank must be 1 or the last shape dimension must be 1" in text:
        return ("\nHint: train_dataset's columns are (batch, 1) tensors, so a TextVectorization "
                "adapted on one takes inputs of shape (None, None). Start the Sequential with "
                "tf.keras.Input(shape=(1,), dtype=tf.string), or adapt on the column squeezed "
                "to one dimension: train_dataset.map(lambda x: x['COLUMN'][:, 0]).")
    return ""


@dataclasses.dataclass(frozen=True)
class Head:
    """How the model's output becomes the served probabilities."""
    units: int
    from_logits: bool
    regression: bool = False  # one linear unit: the predicted number, served as it is


def check_model(model: Any, spec: ModelSpec) -> None:
    """A compiled Sequential or functional Keras model; else UserModelError."""
    import tensorflow as tf

    if not isinstance(model, tf.keras.Model):
        got = "None (no `return model`?)" if model is None else f"a {type(model).__module__}.{type(model).__name__}"
        raise UserModelError(f"--model {spec}: {spec.function}() returned {got}; it must return a "
                             "compiled tf.keras.Model")
    if getattr(model, "optimizer", None) is None or not getattr(model, "_is_compiled", True):
        raise UserModelError(
            f"--model {spec}: the model {model.name!r} is not compiled. Call model.compile(optimizer=..., "
            "loss=..., metrics=['accuracy']) in the function before returning it: its optimizer and "
            "loss are what the Estimator trains with")
    if not getattr(model, "_is_graph_network", False) and not isinstance(model, tf.keras.Sequential):
        raise UserModelError(
            f"--model {spec}: {type(model).__name__} is a subclassed Keras model; model_to_estimator "
            "rebuilds a model from its layer graph, which a subclassed model does not have. Build it with "
            "tf.keras.Sequential or the functional API (tf.keras.Input ... tf.keras.Model(inputs, outputs))")


def check_trainable(model, spec: ModelSpec) -> None:
    """A model with weights to train; else UserModelError (Keras's Estimator train op advances the
    global step only when it applies gradients, so a fully frozen model would train forever)."""
    if model.trainable_weights:
        return
    frozen = [layer.name for layer in model.layers if layer.weights and not layer.trainable]
    which = (f"every layer with weights is frozen (trainable=False: {frozen[:8]}"
             + (" ..." if len(frozen) > 8 else "") + ")") if frozen else "it has no weights at all"
    raise UserModelError(
        f"--model {spec}: the model {model.name!r} has nothing to train: {which}. The Estimator's train "
        "op advances its step only when it applies gradients, so training would never end. Make at "
        "least one layer trainable (e.g. a new Dense head on a frozen pretrained base), as you would "
        "before model.fit")


_REGRESSION_LOSSES = {
    "mse", "mae", "mape", "msle", "huber", "huber_loss", "log_cosh", "logcosh",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "meansquarederror", "meanabsoluteerror",
    "meanabsolutepercentageerror", "meansquaredlogarithmicerror", "logcosh", "huber"}
_CLASSIFICATION_WORDS = ("crossentropy", "hinge", "kl_divergence", "kld", "poisson", "focal")


def _loss_name(loss) -> str:
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or (loss if isinstance(loss, str) else "")
    return str(name or type(loss).__name__)


def _output_activation(model) -> str:
    """The name of the activation that makes the model's output ('' when none is known)."""
    layer = getattr(model.outputs[0], "_keras_history", None)
    layer = layer.layer if layer is not None else (model.layers[-1] if model.layers else None)
    activation = getattr(layer, "activation", None)
    if activation is None:
        return ""
    return getattr(activation, "__name__", str(activation))


def output_head(model, spec: ModelSpec, num_classes: int, regression: bool = False) -> Head:
    """One output whose width fits the label, and whether it gives logits; else UserModelError.

    A regression label (a number to predict) needs one linear unit and a regression loss; a
    label with classes refuses a regression loss.
    """
    outputs = model.outputs or []
    if len(outputs) != 1:
        what = ("one regression output (one linear unit)" if regression else
                "one classifier output (probabilities or logits of the label's classes)")
        raise UserModelError(f"--model {spec}: the model has {len(outputs)} outputs; the pipeline trains {what}")
    units = outputs[0].shape[-1] if outputs[0].shape.rank == 2 else None
    loss_name = _loss_name(model.loss)
    is_regression_loss = loss_name.lower() in _REGRESSION_LOSSES
    if regression:
        return _regression_head(model, spec, units, loss_name)
    if is_regression_loss:
        raise UserModelError(
            f"--model {spec}: the loss is {loss_name}, a regression loss, but the label has "
            f"{num_classes} classes (the schema gives it a categorical domain). Use "
            + ("binary_crossentropy with 1 sigmoid unit" if num_classes == 2 else
               f"sparse_categorical_crossentropy with {num_classes} softmax units")
            + "; or, to predict a number, make the label FLOAT (or INT without `is_categorical`) "
            "in the schema")
    fits = (1, num_classes) if num_classes == 2 else (num_classes,)
    if units not in fits:
        want = ("1 unit (sigmoid, with binary_crossentropy) or 2 units (softmax, with "
                "sparse_categorical_crossentropy)") if num_classes == 2 else (
                f"{num_classes} units (softmax, with sparse_categorical_crossentropy)")
        raise UserModelError(
            f"--model {spec}: the model's output has shape {tuple(outputs[0].shape)}, which does not fit "
            f"the label's {num_classes} classes: the last layer needs {want}")
    loss = model.loss
    if loss_name in ("categorical_crossentropy", "CategoricalCrossentropy"):
        raise UserModelError(
            f"--model {spec}: the loss is categorical_crossentropy, which expects one-hot labels; the "
            "pipeline feeds class ids (0..N-1), as model.fit on integer labels would. Use "
            "sparse_categorical_crossentropy (or tf.keras.losses.SparseCategoricalCrossentropy)")
    from_logits = bool(loss.get_config().get("from_logits", False)) if hasattr(loss, "get_config") else False
    return Head(units=int(units), from_logits=from_logits)


def _regression_head(model, spec: ModelSpec, units, loss_name: str) -> Head:
    fix = ("the label is a number to predict (the schema gives it type FLOAT, or INT without a "
           "categorical domain): end the model with tf.keras.layers.Dense(1) (no activation) and "
           "compile it with a regression loss ('mse', 'mae', 'huber' or a tf.keras.losses object)")
    other = ("; or, if the label holds classes, give it a categorical domain in the schema "
             "(`int_domain { min: 0 max: N-1 is_categorical: true }` or a string_domain)")
    if units != 1:
        raise UserModelError(
            f"--model {spec}: the model's output has shape {tuple(model.outputs[0].shape)}, but {fix}{other}")
    activation = _output_activation(model)
    if activation in ("softmax", "sigmoid"):
        raise UserModelError(
            f"--model {spec}: the model's output layer has a {activation} activation, which squashes "
            f"every prediction into [0, 1], but {fix}{other}")
    if any(word in loss_name.lower() for word in _CLASSIFICATION_WORDS):
        raise UserModelError(f"--model {spec}: the loss is {loss_name}, a classification loss, but {fix}{other}")
    return Head(units=1, from_logits=False, regression=True)
