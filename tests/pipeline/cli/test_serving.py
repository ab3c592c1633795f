"""`predict`'s serving-skew lines as the CLI prints them: a warning per drifted feature, a one-line
note when the rows are too few to compare, nothing when the rows look like the training data."""
import os

from google.protobuf import text_format

from components.trainer import constants
from pipeline.cli import serving
from pipeline.serving import skew
from tests.pipeline.serving.test_skew import _rows, served  # noqa: F401  (the fixture)


def _with_schema(model_dir, schema):
    """The pushed version folder as the Trainer writes it: the schema beside the model."""
    os.makedirs(os.path.join(model_dir, constants.ASSETS_EXTRA), exist_ok=True)
    with open(os.path.join(model_dir, constants.ASSETS_EXTRA, constants.SCHEMA_FILE), "w") as f:
        f.write(text_format.MessageToString(schema))
    return model_dir


def test_shifted_rows_get_a_warning_headline_and_a_line_per_feature(served, tmp_path):  # noqa: F811
    model_dir = _with_schema(*served)
    lines = serving._skew_warnings(_rows(tmp_path / "shifted.csv", fare_shift=10.0), model_dir)
    assert lines[0].startswith(f"warning: serving skew: these rows differ from the data {model_dir} was trained on")
    assert len(lines) == 2 and "'fare'" in lines[1]


def test_a_few_rows_get_one_note_and_no_verdict(served, tmp_path):  # noqa: F811
    model_dir = _with_schema(*served)
    lines = serving._skew_warnings(_rows(tmp_path / "few.csv", fare_shift=10.0, count=12), model_dir)
    assert lines == [f"note: serving skew not checked: 12 rows are too few to compare with the training "
                     f"data (it takes {skew.MIN_ROWS})"]


def test_rows_like_the_training_data_print_nothing(served, tmp_path):  # noqa: F811
    model_dir = _with_schema(*served)
    assert serving._skew_warnings(_rows(tmp_path / "same.csv"), model_dir) == []
