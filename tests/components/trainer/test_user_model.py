"""Finding, calling and checking a user's model function; errors that point at their code."""
from __future__ import annotations

import os
import textwrap

import pytest
import tensorflow as tf

from components.trainer import user_model
from components.trainer.user_model import UserModelError


def _module(tmp_path, body, name="proto.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_a_file_spec_resolves_to_the_absolute_file_and_its_hash(tmp_path):
    path = _module(tmp_path, "def build():\n    return 1\n")
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    assert spec.module == str(path) and spec.function == "build" and spec.is_file
    path.write_text("def build():\n    return 2\n")
    assert user_model.parse_spec(f"{path}:build").source_sha256 != spec.source_sha256


def test_the_hash_covers_the_users_helper_modules_and_nothing_else(tmp_path):
    """An edit to a helper the prototype imports (plainly, from a package, relatively, or two
    imports deep) changes the hash, so the Trainer runs again; library modules do not count."""
    (tmp_path / "helpers.py").write_text("import deeper\nWIDTH = 8\n")
    (tmp_path / "deeper.py").write_text("SCALE = 1.0\n")
    package = tmp_path / "mylib"
    (package / "text").mkdir(parents=True)
    (package / "__init__.py").write_text("raise SystemExit('imported while hashing')\n")
    (package / "text" / "__init__.py").write_text("")
    (package / "text" / "clean.py").write_text("from . import rules\n")
    (package / "text" / "rules.py").write_text("LOWER = True\n")
    _module(tmp_path, """
        import os, json
        import numpy as np
        import helpers
        from mylib.text import clean
        def build():
            return helpers.WIDTH
    """)
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    sources = user_model.user_sources(spec.module, [str(tmp_path)])
    assert sorted(os.path.relpath(s, os.path.realpath(tmp_path)) for s in sources) == sorted([
        "proto.py", "helpers.py", "deeper.py", "mylib/__init__.py", "mylib/text/__init__.py",
        "mylib/text/clean.py", "mylib/text/rules.py"])
    before = spec.source_sha256
    for helper, text in [("helpers.py", "import deeper\nWIDTH = 16\n"), ("deeper.py", "SCALE = 2.0\n"),
                         ("mylib/text/rules.py", "LOWER = False\n")]:
        (tmp_path / helper).write_text(text)
        after = user_model.parse_spec("proto.py:build", search_path=str(tmp_path)).source_sha256
        assert after != before, helper
        before = after
    # Unchanged files: the same hash (a rerun is served from the cache).
    assert user_model.parse_spec("proto.py:build", search_path=str(tmp_path)).source_sha256 == before


def test_a_dotted_spec_is_found_from_the_search_path_without_importing_it(tmp_path):
    package = tmp_path / "protos"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text("raise SystemExit('imported too early')\n")
    spec = user_model.parse_spec("protos.model:build", search_path=str(tmp_path))
    assert spec.module == "protos.model" and spec.search_path == str(tmp_path) and not spec.is_file


@pytest.mark.parametrize("text, words", [
    ("proto.py", "expected MODULE:FUNCTION"),
    ("proto.py:", "expected MODULE:FUNCTION"),
    ("missing.py:build", "does not exist"),
    ("no.such.module:build", "no module 'no.such.module' importable from"),
    ("1bad-name:build", "neither a .py file nor a dotted module"),
])
def test_bad_specs_are_refused_with_what_to_give(tmp_path, text, words):
    _module(tmp_path, "def build():\n    pass\n")
    with pytest.raises(UserModelError, match=words):
        user_model.parse_spec(text, search_path=str(tmp_path))


def test_a_missing_function_lists_the_functions_the_module_has(tmp_path):
    _module(tmp_path, "def build_model():\n    pass\ndef helper():\n    pass\n")
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    with pytest.raises(UserModelError, match=r"has no 'build'. Functions defined there: \['build_model', 'helper'\]"):
        user_model.load_function(spec)


def test_an_error_while_importing_shows_the_users_file_and_line(tmp_path):
    path = _module(tmp_path, """\
        import os
        VOCAB = int(os.environ.get("NOT_A_NUMBER_FOR_SURE", "ten"))
        def build():
            pass
        """)
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    with pytest.raises(UserModelError) as error:
        user_model.load_function(spec)
    message = str(error.value)
    assert f'File "{path}", line 2, in <module>' in message
    assert "ValueError: invalid literal for int() with base 10: 'ten'" in message


def test_a_syntax_error_shows_the_users_line(tmp_path):
    path = _module(tmp_path, "def build(:\n    pass\n")
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    with pytest.raises(UserModelError, match=rf'File "{path}", line 1'):
        user_model.load_function(spec)


def test_required_parameters_the_pipeline_cannot_give_are_refused(tmp_path):
    _module(tmp_path, "def build(train_dataset, vocab_file):\n    pass\n")
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    with pytest.raises(UserModelError, match=r"requires \['vocab_file'\]"):
        user_model.load_function(spec)


def test_the_function_gets_only_the_arguments_it_declares(tmp_path):
    _module(tmp_path, """\
        def only_classes(num_classes, extra=5):
            return ("only", num_classes, extra)
        def everything(**kwargs):
            return sorted(kwargs)
        """)
    available = dict(train_dataset=None, num_classes=3, class_names=["a", "b", "c"], hparams={})
    for function, expected in (("only_classes", ("only", 3, 5)),
                               ("everything", sorted(user_model.AVAILABLE_ARGUMENTS))):
        spec = user_model.parse_spec(f"proto.py:{function}", search_path=str(tmp_path))
        assert user_model.call(user_model.load_function(spec), spec, **available) == expected


def test_an_error_inside_keras_shows_the_users_lines_not_tensorflows(tmp_path):
    path = _module(tmp_path, """\
        import tensorflow as tf

        def build(num_classes):
            return tf.keras.Sequential([tf.keras.layers.Dense(-3)])
        """)
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    with pytest.raises(UserModelError) as error:
        user_model.call(user_model.load_function(spec), spec, num_classes=2)
    message = str(error.value)
    assert f'File "{path}", line 4, in build' in message
    assert "tf.keras.layers.Dense(-3)" in message
    assert "ValueError" in message and "site-packages" not in message


def _compiled(model):
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


@pytest.mark.parametrize("returned, words", [
    (None, r"returned None \(no `return model`\?\)"),
    ("a string", "returned a builtins.str"),
    (lambda: tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)]), "is not compiled"),
])
def test_what_is_not_a_compiled_keras_model_is_refused(tmp_path, returned, words):
    spec = user_model.ModelSpec("proto.py", "build", str(tmp_path), "0")
    value = returned() if callable(returned) else returned
    with pytest.raises(UserModelError, match=words):
        user_model.check_model(value, spec)


def test_a_subclassed_model_is_refused_with_the_reason():
    class Mine(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    with pytest.raises(UserModelError, match="subclassed Keras model"):
        user_model.check_model(_compiled(Mine()), spec)


@pytest.mark.parametrize("units, classes, ok", [(1, 2, True), (2, 2, True), (3, 2, False),
                                                (4, 4, True), (1, 4, False)])
def test_the_output_width_must_fit_the_label(units, classes, ok):
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(units)])
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    if ok:
        head = user_model.output_head(model, spec, classes)
        assert head.units == units and head.from_logits
    else:
        with pytest.raises(UserModelError, match=f"does not fit the label's {classes} classes"):
            user_model.output_head(model, spec, classes)


def _head_model(units, activation=None, loss="mse"):
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss)
    return model


@pytest.mark.parametrize("loss", ["mse", "mae", "mean_absolute_error", "huber",
                                  tf.keras.losses.Huber(), tf.keras.losses.MeanSquaredError()])
def test_a_linear_unit_with_a_regression_loss_fits_a_regression_label(loss):
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    head = user_model.output_head(_head_model(1, loss=loss), spec, 0, regression=True)
    assert head.regression and head.units == 1 and not head.from_logits


@pytest.mark.parametrize("units, activation, loss, words", [
    (3, "softmax", "sparse_categorical_crossentropy", ["output has shape (None, 3)", "Dense(1)"]),
    (1, "softmax", "mse", ["softmax activation", "squashes", "Dense(1) (no activation)"]),
    (1, "sigmoid", "mse", ["sigmoid activation"]),
    (1, None, "binary_crossentropy", ["classification loss", "'mse', 'mae', 'huber'"]),
])
def test_a_classifier_head_or_loss_on_a_regression_label_is_refused_with_the_fix(units, activation, loss, words):
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    with pytest.raises(UserModelError) as error:
        user_model.output_head(_head_model(units, activation, loss), spec, 0, regression=True)
    for word in words + ["is_categorical"]:
        assert word in str(error.value)


@pytest.mark.parametrize("loss", ["mse", "mean_absolute_error", tf.keras.losses.Huber()])
def test_a_regression_loss_on_a_label_with_classes_is_refused_with_the_fix(loss):
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    with pytest.raises(UserModelError, match="a regression loss, but the label has 2 classes") as error:
        user_model.output_head(_head_model(1, "sigmoid", loss), spec, 2)
    assert "binary_crossentropy" in str(error.value) and "FLOAT" in str(error.value)


def test_one_hot_losses_are_refused_since_labels_are_class_ids():
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    with pytest.raises(UserModelError, match="sparse_categorical_crossentropy"):
        user_model.output_head(model, spec, 3)


def test_a_model_with_nothing_to_train_is_refused_naming_the_frozen_layers(tmp_path):
    spec = user_model.ModelSpec("proto.py", "build", str(tmp_path), "0")
    inputs = tf.keras.Input(shape=(3,), name="x")
    base = tf.keras.layers.Dense(4, name="pretrained_base")
    head = tf.keras.layers.Dense(1, activation="sigmoid", name="head")
    model = tf.keras.Model(inputs, head(base(inputs)))
    user_model.check_trainable(model, spec)  # trainable: fine
    base.trainable = False
    user_model.check_trainable(model, spec)  # a frozen base with a trainable head: fine
    head.trainable = False
    with pytest.raises(UserModelError, match=r"nothing to train: every layer with weights is frozen "
                                             r"\(trainable=False: \['pretrained_base', 'head'\]\)"):
        user_model.check_trainable(model, spec)
    no_weights = tf.keras.Model(inputs, tf.keras.layers.Lambda(lambda t: tf.reduce_mean(t, axis=1, keepdims=True))(inputs))
    with pytest.raises(UserModelError, match="it has no weights at all"):
        user_model.check_trainable(no_weights, spec)
