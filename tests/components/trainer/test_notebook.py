"""A notebook as the prototype: its definitions kept, its top-level work skipped, errors naming
its cells, the cache key over what was kept."""
from __future__ import annotations

import nbformat
import pytest

from components.trainer import notebook, user_model

MODEL_CELL = '''\
def build_model(train_dataset):
    inputs = tf.keras.Input(shape=(1,), name="fare")
    model = tf.keras.Sequential([inputs, tf.keras.layers.Dense(WIDTH, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    return model
'''


def write_notebook(path, *cells):
    """Cells as (kind, source): 'md' or 'code'."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(s) if kind == "md" else nbformat.v4.new_code_cell(s)
                for kind, s in cells]
    nbformat.write(nb, str(path))
    return path


def a_notebook(tmp_path, model_cell=MODEL_CELL, width="WIDTH = 1"):
    return write_notebook(
        tmp_path / "proto.ipynb",
        ("md", "# A prototype"),
        ("code", "%matplotlib inline\nimport tensorflow as tf\nimport pandas as pd"),
        ("code", "!ls data\ndf = pd.read_csv('no-such-file.csv')\ndf.head()"),
        ("code", f"{width}\nNAMES = ['fare']\nCOLUMNS = NAMES + ['tips']\nsmall = df[df.fare < 3]"),
        ("code", model_cell),
        ("code", "model = build_model(None)\nhistory = model.fit(df, epochs=3)\ndisplay(history)"),
    )


def test_definitions_and_constants_are_kept_and_top_level_work_is_skipped(tmp_path):
    code = notebook.read(str(a_notebook(tmp_path)))
    assert [c.number for c in code.cells] == [2, 4, 5]
    assert "import tensorflow as tf" in code.text and "def build_model" in code.text
    assert "COLUMNS = NAMES + ['tips']" in code.text
    for skipped in ("%matplotlib", "read_csv", "df.head", "small =", "model.fit", "display"):
        assert skipped not in code.text
    assert [s.describe() for s in code.skipped] == [
        "skipped line 1 of cell 2: %matplotlib inline",
        "skipped cell 3: !ls data (and 2 more statements)",
        "skipped line 4 of cell 4: small = df[df.fare < 3]",
        "skipped cell 6: model = build_model(None) (and 2 more statements)",
    ]
    # Kept cells keep their line numbers: line 2 of cell 2 is still line 2.
    assert code.cells[0].source.splitlines()[1] == "import tensorflow as tf"


def test_the_function_of_a_notebook_builds_the_model_and_skipped_cells_are_listed(tmp_path):
    spec = user_model.parse_spec(f"{a_notebook(tmp_path)}:build_model")
    assert spec.is_file and spec.is_notebook
    function = user_model.load_function(spec)
    model = user_model.call(function, spec, train_dataset=None)
    assert model.output_shape == (None, 1)
    assert len(user_model.skipped_cells(spec)) == 4


def test_a_relative_notebook_path_is_a_file_not_a_dotted_module(tmp_path, monkeypatch):
    """The reported failure: 'importing proto.ipynb failed: AttributeError: 'NoneType' object
    has no attribute 'loader''."""
    a_notebook(tmp_path)
    monkeypatch.chdir(tmp_path)
    spec = user_model.parse_spec("proto.ipynb:build_model")
    assert spec.module == str(tmp_path / "proto.ipynb")
    assert callable(user_model.load_function(spec))


def test_an_error_names_the_notebooks_cell_and_line(tmp_path):
    broken = MODEL_CELL.replace("    return model\n", "    return model.no_such_thing\n")
    spec = user_model.parse_spec(f"{a_notebook(tmp_path, broken)}:build_model")
    with pytest.raises(user_model.UserModelError) as error:
        user_model.call(user_model.load_function(spec), spec, train_dataset=None)
    message = str(error.value)
    assert f'File "{tmp_path / "proto.ipynb"} [cell 5]", line 5, in build_model' in message
    assert "return model.no_such_thing" in message and "AttributeError" in message


def test_a_name_only_skipped_code_sets_is_explained(tmp_path):
    uses_df = MODEL_CELL.replace("WIDTH, ", "len(small), ")
    spec = user_model.parse_spec(f"{a_notebook(tmp_path, uses_df)}:build_model")
    with pytest.raises(user_model.UserModelError, match=r"'small' is set by top-level code in cell 4"):
        user_model.call(user_model.load_function(spec), spec, train_dataset=None)
    # The same when a kept definition needs it as the notebook is read.
    subclass = MODEL_CELL + "\n\nclass Layer(small):\n    pass\n"
    spec = user_model.parse_spec(f"{a_notebook(tmp_path, subclass)}:build_model")
    with pytest.raises(user_model.UserModelError, match=r"(?s)\[cell 5\]\", line 8.*'small' is set by "
                                                        r"top-level code in cell 4"):
        user_model.load_function(spec)


def test_a_syntax_error_names_cell_and_line(tmp_path):
    path = write_notebook(tmp_path / "bad.ipynb", ("code", "import tensorflow as tf"),
                          ("code", "x = 1\ndef build_model(:\n    pass"))
    with pytest.raises(user_model.UserModelError, match=r"bad.ipynb, cell 2, line 2"):
        user_model.parse_spec(f"{path}:build_model")


def test_a_model_built_at_the_top_level_is_refused_with_the_function_to_write(tmp_path):
    path = write_notebook(
        tmp_path / "top.ipynb",
        ("code", "import tensorflow as tf"),
        ("code", "ds = load_my_data()"),
        ("code", "net = tf.keras.Sequential([tf.keras.Input(shape=(1,), name='fare'), "
                 "tf.keras.layers.Dense(1)])\nnet.compile('adam', 'mse')"),
        ("code", "net.fit(ds)"))
    spec = user_model.parse_spec(f"{path}:build_model")
    with pytest.raises(user_model.UserModelError) as error:
        user_model.load_function(spec)
    message = str(error.value)
    assert "builds its model at the top level" in message
    assert "(cell 3)" in message
    assert "def build_model(train_dataset):\n    # cell 3\n    net = tf.keras.Sequential(" in message
    assert "    return net" in message


def test_a_function_the_notebook_passes_a_top_level_object_gets_the_wrapper_to_write(tmp_path):
    """TensorFlow's "Basic regression": the normalizer is adapted at the top level on the notebook's
    own DataFrame and passed to build_and_compile_model(norm)."""
    path = write_notebook(
        tmp_path / "regression.ipynb",
        ("code", "import numpy as np\nimport tensorflow as tf"),
        ("code", "train_features = load_my_data()"),
        ("code", "normalizer = tf.keras.layers.Normalization(axis=-1)\nnormalizer.adapt(np.array(train_features))"),
        ("code", "def build_and_compile_model(norm, units=64):\n"
                 "    model = tf.keras.Sequential([norm, tf.keras.layers.Dense(1)])\n"
                 "    model.compile(loss='mean_absolute_error')\n    return model"),
        ("code", "%%time\nprint(1)"),
        ("code", "dnn_model = build_and_compile_model(normalizer, units=8)\ndnn_model.summary()"))
    spec = user_model.parse_spec(f"{path}:build_and_compile_model")
    with pytest.raises(user_model.UserModelError) as error:
        user_model.load_function(spec)
    message = str(error.value)
    assert "build_and_compile_model() requires ['norm']" in message
    assert ("in cell 6: dnn_model = build_and_compile_model(normalizer, units=8), with 'normalizer' "
            "made by top-level code in cell 3") in message
    assert ("def build_model(train_dataset):\n    # cell 3\n    normalizer = tf.keras.layers.Normalization("
            "axis=-1)\n    normalizer.adapt(np.array(train_features))\n"
            "    return build_and_compile_model(normalizer, units=8)\n") in message
    assert "--model regression.ipynb:build_model" in message


def test_the_cache_key_covers_the_kept_code_and_the_helpers_it_imports(tmp_path):
    (tmp_path / "helper.py").write_text("WIDTH = 1\n")
    path = a_notebook(tmp_path, width="from helper import WIDTH")
    key = lambda: user_model.parse_spec(f"{path}:build_model").source_sha256  # noqa: E731
    first = key()
    # Top-level code that is skipped, and outputs, do not change what is trained.
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[2].source += "\ndf.describe()"
    nb.cells[5].outputs = [nbformat.v4.new_output("stream", text="epoch 1/3")]
    nbformat.write(nb, str(path))
    assert key() == first
    (tmp_path / "helper.py").write_text("WIDTH = 2\n")
    second = key()
    assert second != first
    nb.cells[4].source = nb.cells[4].source.replace("sigmoid", "relu")
    nbformat.write(nb, str(path))
    assert key() not in (first, second)


def test_an_import_the_kept_code_does_not_use_may_be_missing(tmp_path):
    path = write_notebook(tmp_path / "plots.ipynb",
                          ("code", "import tensorflow as tf\nimport no_such_plotting_library as plt"),
                          ("code", "WIDTH = 1"), ("code", MODEL_CELL))
    spec = user_model.parse_spec(f"{path}:build_model")
    user_model.load_function(spec)
    assert any("import no_such_plotting_library as plt (ModuleNotFoundError" in line
               for line in user_model.skipped_cells(spec))
    used = write_notebook(tmp_path / "used.ipynb", ("code", "import no_such_library as tf"),
                          ("code", "WIDTH = 1"), ("code", MODEL_CELL))
    with pytest.raises(user_model.UserModelError, match=r"used.ipynb \[cell 1\]"):
        user_model.load_function(user_model.parse_spec(f"{used}:build_model"))
