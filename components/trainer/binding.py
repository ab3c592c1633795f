"""Which feature feeds which input of a user's Keras model: decided once, used everywhere.

`model_to_estimator` feeds a Keras model from a dict whose keys must equal
`model.input_names`; a Sequential model's input is named by Keras (`<first layer>_input`, or
`input_1`, `input_2`, ... depending on what the process built before). Instead of asking the
user to guess that name, `bind` reads the names of the model actually built and maps each
input to schema features by these rules:

1. `--input-map INPUT=FEATURE` (the user said so; it wins for the inputs it names);
2. an input named after a model feature (its CSV name, or the identifier derived from it,
   `Feature.key`: `sepal_length_cm` for `Sepal length (cm)`) gets it;
3. an input named `XYZ_input` gets feature `XYZ` (Keras's name for a layer `XYZ`'s input; `XYZ`
   is either name too);
4. a model with a single input gets the one model feature, or, when every model feature is
   numeric, all of them stacked in the schema's order (width checked against the input).

The result is data (`Binding`). What a model is fed is decided once, by `feeds_raw` and
`model_feed`, which the training input_fn and the serving signature both call, so the two cannot
drift; the serving signature keeps the schema's feature names whatever the model calls its
inputs.
"""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from components.trainer.features import FeatureSet

RULE_MAP = "--input-map"
RULE_NAME = "named after the feature"
RULE_KERAS_NAME = "Keras's '<layer>_input' name for a layer named after the feature"
RULE_SINGLE = "the model's single input, the one model feature"
RULE_STACKED = "the model's single input, every model feature stacked (all numeric)"


class BindingError(ValueError):
    """The model's inputs cannot be fed from the schema's features (what, why, fix)."""


@dataclasses.dataclass(frozen=True)
class ModelInput:
    """What binding needs to know of a Keras input: name, dtype name and shape."""
    name: str
    dtype: str                    # e.g. "string", "float32", "int64"
    shape: Tuple[Optional[int], ...]  # with the batch dimension first
    # Class names of the layers that take this input directly (looking into nested models):
    # only for the hints of a refusal, not part of what binds.
    consumers: Tuple[str, ...] = dataclasses.field(default=(), compare=False)

    @property
    def takes_token_ids(self) -> bool:
        """Whether the input goes straight into an Embedding (token ids, made outside the model)."""
        return "Embedding" in self.consumers

    @property
    def is_string(self) -> bool:
        return self.dtype == "string"

    @property
    def is_integer(self) -> bool:
        return self.dtype.startswith(("int", "uint"))

    @property
    def width(self) -> Optional[int]:
        return self.shape[-1] if len(self.shape) >= 2 else 1


@dataclasses.dataclass(frozen=True)
class InputBinding:
    input: ModelInput
    features: Tuple[str, ...]
    rule: str


@dataclasses.dataclass(frozen=True)
class Binding:
    inputs: Tuple[InputBinding, ...]          # features by CSV name (the tf.Example keys)
    unused_features: Tuple[str, ...]
    # (CSV name, derived identifier) of every model feature whose two names differ.
    keys: Tuple[Tuple[str, str], ...] = ()
    keys_of_all: Tuple[Tuple[str, str], ...] = ()

    def _named(self, name: str) -> str:
        key = dict(self.keys).get(name)
        return f"{name} [{key}]" if key else name

    def input_shapes(self) -> Dict[str, Tuple[Optional[int], ...]]:
        """Each input's shape, an open last dimension set to the number of features fed."""
        return {b.input.name: tuple(b.input.shape) for b in self.inputs}

    def describe(self) -> List[str]:
        """One line per input, as printed once per run."""
        lines = []
        for b in self.inputs:
            named = [self._named(n) for n in b.features]
            source = named[0] if len(named) == 1 else f"[{', '.join(named)}]"
            lines.append(f"{b.input.name} ({b.input.dtype}, shape {_shape(b.input.shape)}) "
                         f"<- {source}   ({b.rule})")
        if self.unused_features:
            lines.append("features not used by the model: "
                         + ", ".join(self._named(n) for n in self.unused_features))
        return lines

    def to_json(self) -> str:
        return json.dumps({
            "inputs": [{"input": b.input.name, "dtype": b.input.dtype, "shape": list(b.input.shape),
                        "features": list(b.features), "rule": b.rule} for b in self.inputs],
            "unused_features": list(self.unused_features),
            # every model feature's CSV name (tf.Example key) -> its derived identifier
            "feature_keys": dict(self.keys_of_all)}, indent=1, ensure_ascii=False)

    def apply(self, parsed: Mapping) -> Dict:
        """Model inputs from parsed raw features ([batch, 1] tensors keyed by feature name)."""
        import tensorflow as tf  # the rules above are pure Python, testable without TF

        fed = {}
        for b in self.inputs:
            if len(b.features) == 1:
                tensor = parsed[b.features[0]]
            else:
                tensor = tf.concat([parsed[name] for name in b.features], axis=-1)
            if b.input.is_integer:  # raw numbers are float32 with NaN for missing: -1 then
                tensor = tf.where(tf.math.is_nan(tensor), tf.fill(tf.shape(tensor), -1.0), tensor)
                tensor = tf.cast(tensor, tf.as_dtype(b.input.dtype))
            elif not b.input.is_string and b.input.dtype != "float32":
                tensor = tf.cast(tensor, tf.as_dtype(b.input.dtype))
            if len(b.input.shape) == 1:  # an input of shape (batch,): one value per row
                tensor = tf.reshape(tensor, [-1])
            fed[b.input.name] = tensor
        return fed


def feeds_raw(binding: Optional[Binding]) -> bool:
    """Whether the model is fed raw values (`FeatureSet.parse(raw=True)`): a user's model, which
    has a binding; the built-in model (none) gets the features under their identifiers."""
    return binding is not None


def model_feed(values: Mapping, features: FeatureSet, binding: Optional[Binding]) -> Dict:
    """The model's inputs from the features' [batch] values (`FeatureSet.parse_values`, parsed
    with `raw=feeds_raw(binding)`, or fed to the raw signature): a user's model through its
    binding, the built-in model keyed by `Feature.key`."""
    raw = feeds_raw(binding)
    parsed = features.for_model(values, raw=raw)
    return binding.apply(parsed) if raw else parsed


def _shape(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def model_inputs(model) -> List[ModelInput]:
    """The Keras model's inputs, in its own order, each with the layers that take it."""
    return [ModelInput(name, tensor.dtype.name, tuple(tensor.shape.as_list()), _consumers(model, tensor))
            for name, tensor in zip(model.input_names, model.inputs)]


def _consumers(model, tensor, depth: int = 0) -> Tuple[str, ...]:
    """Class names of `model`'s layers called on `tensor`; a nested model stands for the layers
    that take its own inputs."""
    import tensorflow as tf

    found: List[str] = []
    for layer in getattr(model, "layers", []):
        for node in getattr(layer, "_inbound_nodes", []):
            if any(t is tensor for t in tf.nest.flatten(getattr(node, "keras_inputs", []))):
                if isinstance(layer, tf.keras.Model) and layer.inputs and depth < 4:
                    found.extend(c for inner in layer.inputs for c in _consumers(layer, inner, depth + 1))
                else:
                    found.append(type(layer).__name__)
    return tuple(dict.fromkeys(found))


def _vectorized_outside(model_input: ModelInput, feature: str) -> Tuple[str, str]:
    """(what, fix) for an input that takes token ids where the data has raw text: a model that
    starts at its Embedding, its text turned into ids outside it (in a dataset.map)."""
    return (f"input {model_input.name!r} ({model_input.dtype}, shape {_shape(model_input.shape)}) goes "
            "straight into an Embedding, which takes token ids, but the pipeline feeds the model the "
            f"raw column ({feature!r}: text), in training and in serving alike; text turned into ids "
            "outside the model (a dataset.map(vectorize_text) before fit, as TensorFlow's \"Basic text "
            "classification\" does) is not done here",
            "put the TextVectorization layer you adapt in your function into the model, ahead of the "
            "Embedding, as that tutorial's export model does: tf.keras.Sequential([tf.keras.Input("
            "shape=(1,), dtype=tf.string), vectorize_layer, <your layers from the Embedding on>]); "
            f"then bind that input to the text with --input-map INPUT={feature} if the run asks")


def bind(inputs: Sequence[ModelInput], features: FeatureSet,
         input_map: Optional[Mapping[str, str]] = None) -> Binding:
    """Maps each model input to features by the rules in this module's docstring."""
    input_map = dict(input_map or {})
    names = features.names
    by_input = {i.name: i for i in inputs}
    for input_name, feature in list(input_map.items()):
        if input_name not in by_input:
            raise BindingError(_explain(
                inputs, features, f"--input-map {input_name}={feature}: the model has no input "
                f"{input_name!r}", "name one of the model's inputs listed above"))
        if features.resolve(feature) is not None:  # a CSV name or its derived identifier
            input_map[input_name] = features.resolve(feature)
        else:
            raise BindingError(_explain(
                inputs, features, f"--input-map {input_name}={feature}: {feature!r} is not a model "
                "feature of the schema (a column the schema lacks, the label, or one marked "
                "DEPRECATED)", "name one of the features listed above"))

    bound: List[InputBinding] = []
    unbound: List[ModelInput] = []
    for model_input in inputs:
        name = model_input.name
        if name in input_map:
            bound.append(InputBinding(model_input, (input_map[name],), RULE_MAP))
        elif features.resolve(name) is not None:
            bound.append(InputBinding(model_input, (features.resolve(name),), RULE_NAME))
        elif name.endswith("_input") and features.resolve(name[: -len("_input")]) is not None:
            bound.append(InputBinding(model_input, (features.resolve(name[: -len("_input")]),),
                                      RULE_KERAS_NAME))
        else:
            unbound.append(model_input)

    if unbound and len(inputs) == 1:
        model_input = unbound.pop()
        if len(names) == 1:
            bound.append(InputBinding(model_input, (names[0],), RULE_SINGLE))
        elif all(not f.is_string for f in features.features):
            bound.append(InputBinding(model_input, tuple(names), RULE_STACKED))
        else:
            strings = [f.name for f in features.features if f.is_string]
            texts = [f.name for f in features.features if f.kind.value == "text"]
            if model_input.takes_token_ids and not model_input.is_string and texts:
                raise BindingError(_explain(inputs, features, *_vectorized_outside(model_input, texts[0])))
            # A guess for the fix only (never bound by it): a TextVectorization reads text.
            text_guess = (len(texts) == 1 and model_input.is_string
                          and "TextVectorization" in model_input.consumers)
            raise BindingError(_explain(
                inputs, features,
                f"the model has one input, {model_input.name!r}, and the schema has "
                f"{len(names)} model features, not all numeric (strings: {strings}), so which one "
                "feeds it is not clear",
                f"say it with --input-map {model_input.name}="
                + (f"{texts[0]} (the schema's one text feature, as the input goes into a "
                   "TextVectorization)" if text_guess else "FEATURE")
                + ", or mark the features the model does not use `lifecycle_stage: DEPRECATED` in "
                "the schema"))
    if unbound:
        taken = {name for b in bound for name in b.features}
        guesses = _guesses(unbound, features, taken)
        flags = " ".join(f"--input-map {i.name}={guesses.get(i.name, 'FEATURE')}" for i in unbound)
        raise BindingError(_explain(
            inputs, features,
            f"no feature for the model input(s) {[i.name for i in unbound]}: not named after a "
            "feature (nor '<feature>_input'), and the model has more than one input",
            "name the inputs after features (tf.keras.Input(name=FEATURE)) or add " + flags
            + (" (the features named there are guessed from the inputs' names: check them)"
               if guesses else "")))

    for b in bound:
        _check_types(b, features, inputs)
    used = {name for b in bound for name in b.features}
    duplicates = sorted(n for n in used if sum(n in b.features for b in bound) > 1)
    if duplicates:
        raise BindingError(_explain(
            inputs, features, f"feature(s) {duplicates} would feed more than one input",
            "give each input its own feature with --input-map"))
    keys = tuple((f.name, f.key) for f in features.features)
    return Binding(tuple(_with_width(b) for b in bound), tuple(n for n in names if n not in used),
                   keys=tuple((n, k) for n, k in keys if n != k), keys_of_all=keys)


def _guesses(unbound: Sequence[ModelInput], features: FeatureSet, taken) -> Dict[str, str]:
    """For the --input-map fix only, never to bind: input -> the feature whose name is a whole part
    of the input's (`age_feature`, `in_age`, `Age` -> age; the longest such name), when no other
    input's guess or binding has it."""
    def words(name: str) -> str:
        return "_" + re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") + "_"

    guesses: Dict[str, str] = {}
    for model_input in unbound:
        matches = [(len(words(n)), f.name) for f in features.features for n in {f.name, f.key}
                   if words(n) != "__" and words(n) in words(model_input.name)]
        if matches:
            best = max(matches)[0]
            names = {name for length, name in matches if length == best}
            if len(names) == 1:
                guesses[model_input.name] = names.pop()
    chosen = list(guesses.values())
    return {i: f for i, f in guesses.items() if chosen.count(f) == 1 and f not in taken}


def _with_width(b: InputBinding) -> InputBinding:
    """An input whose last dimension the model left open gets the number of features fed."""
    shape = tuple(b.input.shape)
    if len(shape) == 2 and shape[-1] is None:
        return dataclasses.replace(b, input=dataclasses.replace(b.input, shape=(shape[0], len(b.features))))
    return b


def _check_types(b: InputBinding, features: FeatureSet, inputs) -> None:
    for name in b.features:
        feature = features.get(name)
        if feature.is_string != b.input.is_string:
            kind = "text" if feature.kind.value == "text" else ("string" if feature.is_string else "numeric")
            if feature.is_string and b.input.takes_token_ids and kind == "text":
                raise BindingError(_explain(inputs, features, *_vectorized_outside(b.input, name)))
            fix = ("bind it to a feature of its type with --input-map, or change the input's dtype "
                   f"(tf.keras.Input(..., dtype={'tf.string' if feature.is_string else 'tf.float32'}))")
            if feature.is_string:  # the model may expect ids or numbers made outside it
                fix += (", with the layer that turns the strings into numbers (StringLookup, "
                        "TextVectorization, Hashing) inside the model after it: the pipeline feeds "
                        "the raw column, so preprocessing done outside the model (a dataset.map) is "
                        "not done here")
            raise BindingError(_explain(
                inputs, features,
                f"input {b.input.name!r} takes {b.input.dtype} values but is bound to the {kind} "
                f"feature {name!r} ({b.rule})", fix))
    rank = len(b.input.shape)
    if rank > 2:
        raise BindingError(_explain(
            inputs, features, f"input {b.input.name!r} has shape {_shape(b.input.shape)}; a feature "
            "arrives as one value per row, shape (None, 1) or (None,)",
            "give the input shape=(1,) (or shape=(N,) for N stacked numeric features)"))
    width = b.input.width
    if rank == 1 and len(b.features) > 1 or width not in (None, len(b.features)):
        raise BindingError(_explain(
            inputs, features,
            f"input {b.input.name!r} has shape {_shape(b.input.shape)} but is fed "
            f"{len(b.features)} feature(s) {list(b.features)} ({b.rule})",
            f"give the input shape=({len(b.features)},), or map it to one feature with "
            f"--input-map {b.input.name}=FEATURE"))


def _explain(inputs, features: FeatureSet, what: str, fix: str) -> str:
    described = ", ".join(f"{i.name} ({i.dtype}, shape {_shape(i.shape)})" for i in inputs)
    feats = ", ".join(f"{f.name}{f' [{f.key}]' if f.key != f.name else ''} ({'text' if f.kind.value == 'text' else 'string' if f.is_string else 'number'})"
                      for f in features.features)
    return (f"the model's inputs cannot be fed from the data: {what}.\n"
            f"  model inputs (model.input_names): {described}\n"
            f"  model features (from the schema): {feats}\n"
            "  rules, in order: --input-map INPUT=FEATURE; an input named after a feature; an input "
            "'<feature>_input'; a single input takes the one feature, or all features stacked when "
            "all are numeric.\n"
            f"Fix: {fix}.")
