"""Finding, calling and checking a user's model function; errors that point at their code."""
from __future__ import annotations

import textwrap

import pytest

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


def test_a_dotted_spec_is_found_from_the_search_path_without_importing_it(tmp_path):
    package = tmp_path / "protos"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text("raise SystemExit('imported too early')\n")
    spec = user_model.parse_spec("protos.model:build", search_path=str(tmp_path))
    assert spec.module == "protos.model" and spec.search_path == str(tmp_path) and not spec.is_file


def test_the_spec_keeps_the_file_it_found_without_carrying_it_to_the_trainer(tmp_path):
    package = tmp_path / "found_protos"  # a package name no other test imports
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text("def build():\n    pass\n")
    path = _module(tmp_path, "def build():\n    pass\n")
    dotted = user_model.parse_spec("found_protos.model:build", search_path=str(tmp_path))
    assert dotted.origin == str(package / "model.py")
    assert user_model.parse_spec("proto.py:build", search_path=str(tmp_path)).origin == str(path)
    assert sorted(dotted.to_dict()) == ["function", "module", "search_path", "source_sha256"]
    assert user_model.ModelSpec.from_dict(dotted.to_dict()) == dotted


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


def test_a_tutorials_two_argument_map_over_train_dataset_gets_the_one_argument_fix(tmp_path):
    """Keras' structured-data tutorials adapt on (features, label) pairs; train_dataset has no label."""
    import tensorflow as tf
    path = _module(tmp_path, """\
        import tensorflow as tf

        def build(train_dataset):
            lookup = tf.keras.layers.StringLookup()
            lookup.adapt(train_dataset.map(lambda x, y: x["Plan"]))
            return lookup
        """)
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    features = tf.data.Dataset.from_tensor_slices({"Plan": [["basic"], ["pro"]]}).batch(2)
    with pytest.raises(UserModelError) as error:
        user_model.call(user_model.load_function(spec), spec, train_dataset=features)
    message = str(error.value)
    assert f'File "{path}", line 5, in build' in message
    assert "missing 1 required positional argument: 'y'" in message
    assert "map with one argument: train_dataset.map(lambda x: x[name])" in message


@pytest.mark.parametrize("adapted_on", ["train_dataset", "np.array(train_dataset)"])
def test_adapting_on_the_whole_train_dataset_shows_the_users_line_and_the_map_to_write(tmp_path, adapted_on):
    """A preprocessing layer adapted on train_dataset itself (dicts of columns; inside tf.function:
    TensorFlow's generated file and its own frames in the message are not shown), or on a numpy
    array of it, as the tutorials adapt on np.array(train_features)."""
    import tensorflow as tf
    path = _module(tmp_path, f"""\
        import numpy as np
        import tensorflow as tf

        def build(train_dataset):
            normalizer = tf.keras.layers.Normalization(axis=-1)
            normalizer.adapt({adapted_on})
            return normalizer
        """)
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    columns = tf.data.Dataset.from_tensor_slices({"age": [[50.0], [30.0]], "bmi": [[22.0], [30.0]]}).batch(2)
    with pytest.raises(UserModelError) as error:
        user_model.call(user_model.load_function(spec), spec, train_dataset=columns)
    message = str(error.value)
    assert f'File "{path}", line 6, in build' in message
    assert f"normalizer.adapt({adapted_on})" in message
    assert "__autograph_generated_file" not in message and "site-packages" not in message
    assert "in user code" not in message  # TensorFlow's heading of a list of none of their frames
    assert "train_dataset.map(lambda x: tf.concat([x[c] for c in COLUMNS], axis=1))" in message


def test_library_frames_written_into_a_message_are_dropped_and_the_users_kept(tmp_path):
    mine = str(tmp_path / "proto.py")
    lines = ["in user code:", "",
             f'    File "{mine}", line 9, in build  *', "        x = layer(x)",
             f'    File "{textwrap.__file__}", line 3, in wrap  **', "        return w.wrap(text)",
             "    ValueError: bad shape"]
    assert user_model._without_library_frames(lines) == [
        "in user code:", "", f'    File "{mine}", line 9, in build  *', "        x = layer(x)",
        "    ValueError: bad shape"]


def test_a_function_that_fits_the_model_itself_is_told_the_pipeline_trains_it(tmp_path):
    import tensorflow as tf
    path = _module(tmp_path, """\
        import tensorflow as tf

        def build(train_dataset):
            inputs = tf.keras.Input(shape=(1,), name="age")
            model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(inputs))
            model.compile(optimizer="adam", loss="mse")
            model.fit(train_dataset, epochs=1)
            return model
        """)
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    columns = tf.data.Dataset.from_tensor_slices({"age": [[50.0], [30.0]]}).batch(2)
    with pytest.raises(UserModelError) as error:
        user_model.call(user_model.load_function(spec), spec, train_dataset=columns)
    message = str(error.value)
    assert f'File "{path}", line 7, in build' in message
    assert "ValueError: ValueError" not in message and "site-packages" not in message
    assert "Leave model.fit(...) out of the function" in message
