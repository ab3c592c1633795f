"""Bad CSV input is named precisely (file, line, column) before any component runs."""
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.data import csv_check, dialect
from pipeline.data.csv_check import DataError

SCHEMA = text_format.Parse("""
  feature { name: "fare" type: FLOAT }
  feature { name: "hour" type: INT }
  feature { name: "company" type: BYTES }
  feature { name: "tipped" type: INT int_domain { min: 0 max: 1 } }""", schema_pb2.Schema())
GOOD = "fare,hour,company,tipped\n7.5,3,Acme,1\n,4,,0\n"


def _check(tmp_path, content, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return csv_check.check_data(str(tmp_path), SCHEMA, "tipped")


def test_good_file_passes_and_counts_rows(tmp_path):
    assert _check(tmp_path, GOOD) == 2


@pytest.mark.parametrize("content, words", [
    ("", "data.csv is empty"),
    ("fare,hour,company,tipped\n", "has a header but no data rows"),
    ("fare,hour,company,tipped\n7.5,3,Acme,1,extra\n", "line 2: 5 values for 4 columns (an unquoted comma"),
    ("fare,hour,company,tipped\n7.5,3\n", "line 2: 2 values for 4 columns"),
    ("fare,hour,company,tipped\nseven,3,Acme,1\n", "line 2, column 'fare': 'seven' is not a number"),
    ("fare,hour,company,tipped\n7.5,3.5,Acme,1\n", "column 'hour': '3.5' is not an integer"),
    ("fare,hour,company,tipped\n7.5,3,Acme,\n", "line 2: the label 'tipped' is empty"),
    ("fare,hour,firm,tipped\n7.5,3,Acme,1\n", "the schema lists but the file lacks: ['company']"),
    ("fare,hour,company\n7.5,3,Acme\n", "no label column 'tipped'"),
    ("fare,hour,company,tipped,extra\n7.5,3,Acme,1,x\n", "the schema does not list: ['extra']"),
    (b"fare,hour,company,tipped\n7.5,3,Caf\xe9,1\n", "line 2: not UTF-8 text (byte 0xe9"),
])
def test_each_problem_names_file_line_and_fix(tmp_path, content, words):
    with pytest.raises(DataError) as error:
        _check(tmp_path, content)
    assert words in str(error.value)
    assert str(tmp_path / "data.csv") in str(error.value)


def test_a_huge_line_is_read_not_crashed_on(tmp_path):
    assert _check(tmp_path, GOOD + f"1.0,1,{'x' * 200_000},1\n") == 3


def test_only_the_newest_span_is_checked(tmp_path):
    (tmp_path / "span-1").mkdir()
    (tmp_path / "span-1" / "a.csv").write_text("broken\n")
    (tmp_path / "span-2").mkdir()
    (tmp_path / "span-2" / "a.csv").write_text(GOOD)
    assert csv_check.check_data(str(tmp_path), SCHEMA, "tipped") == 2


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_a_non_finite_number_is_refused_with_line_and_column(tmp_path, value):
    with pytest.raises(DataError) as error:
        _check(tmp_path, f"fare,hour,company,tipped\n7.5,3,Acme,1\n{value},3,Acme,0\n")
    assert f"line 3, column 'fare': {value!r} is not a finite number" in str(error.value)
    assert "leave the cell empty" in str(error.value)


def test_a_label_class_the_schema_does_not_list_is_refused(tmp_path):
    (tmp_path / "data.csv").write_text("fare,hour,company,tipped\n7.5,3,Acme,1\n7.5,3,Acme,2\n")
    with pytest.raises(DataError) as error:
        csv_check.check_data(str(tmp_path), SCHEMA, "tipped", classes=(0, 1))
    assert "line 3: the label 'tipped' is '2', not one of the schema's classes ['0', '1']" in str(error.value)
    assert csv_check.check_data(str(tmp_path), SCHEMA, "tipped") == 2  # without classes: not checked


def test_a_feature_empty_in_every_file_is_refused_by_name(tmp_path):
    (tmp_path / "a.csv").write_text("fare,hour,company,tipped\n7.5,,Acme,1\n")
    (tmp_path / "b.csv").write_text("fare,hour,company,tipped\n,,,0\n")
    with pytest.raises(DataError) as error:
        csv_check.check_data(str(tmp_path), SCHEMA, "tipped", used=("fare", "hour", "company"))
    message = str(error.value)
    assert "feature(s) ['hour'] have no value in any of the 2 rows of 2 files under" in message
    assert "lifecycle_stage: DEPRECATED" in message
    # A feature the model does not use (deprecated in the schema) may be empty.
    assert csv_check.check_data(str(tmp_path), SCHEMA, "tipped", used=("fare", "company")) == 2


def test_a_line_over_the_field_limit_is_named_not_traced(tmp_path):
    huge = "x" * (csv_check.FIELD_LIMIT + 10)
    with pytest.raises(DataError) as error:
        _check(tmp_path, GOOD + f"1.0,1,{huge},1\n")
    assert "data.csv, line 4: cannot be read as CSV" in str(error.value)
    assert "quote that is never closed" in str(error.value)


def test_a_semicolon_export_with_decimal_commas_is_refused_with_what_was_found_and_the_command(tmp_path):
    with pytest.raises(DataError) as error:
        _check(tmp_path, 'fare;hour;company;tipped\n7,5;3;"Acme; Co";1\n;4;;0\n')
    message = str(error.value)
    assert f"{tmp_path / 'data.csv'}: its fields are separated by ';', not commas, and its numbers use ',' " \
           "as the decimal mark" in message
    assert f"python -m pipeline convert-csv --input {tmp_path} --output {tmp_path}_comma --delimiter ';' " \
           "--decimal ','" in message


def test_a_blank_line_is_skipped_as_csv_example_gen_skips_it(tmp_path):
    # Many editors and exports end a file with an empty line; CsvExampleGen reads no row from it.
    assert _check(tmp_path, GOOD + "\n") == 2
    assert _check(tmp_path, GOOD.replace("\n", "\r\n") + "\r\n") == 2


@pytest.mark.parametrize("content, words", [
    ("\ufefffare,hour,company,tipped\n7.5,3,Acme,1\n", "starts with a byte-order mark"),
    ('"fare","hour","company","tipped"\n7.5,3,"Acme",1\n', "quotes column names"),
])
def test_a_header_csv_example_gen_would_name_otherwise_is_refused_with_the_copy_command(tmp_path, content, words):
    # CsvExampleGen splits the header line at commas: '\ufefffare' and '"fare"' would be its features.
    with pytest.raises(DataError) as error:
        _check(tmp_path, content)
    message = str(error.value)
    assert words in message and str(tmp_path / "data.csv") in message
    command = f"python -m pipeline convert-csv --input {tmp_path} --output {tmp_path}_comma --delimiter ','"
    assert command in message
    # The command's copy is what CsvExampleGen reads as the schema's names.
    dialect.convert(str(tmp_path), f"{tmp_path}_comma", ",")
    assert open(f"{tmp_path}_comma/data.csv", encoding="utf-8").readline() == "fare,hour,company,tipped\n"
    assert csv_check.check_data(f"{tmp_path}_comma", SCHEMA, "tipped") == 1


def test_a_column_name_with_a_comma_is_refused_with_the_rename(tmp_path):
    with pytest.raises(DataError, match=r"column name\(s\) \['fare, EUR'\] hold a comma"):
        _check(tmp_path, '"fare, EUR",hour,company,tipped\n7.5,3,Acme,1\n')


def test_files_with_the_same_columns_in_another_order_are_refused_by_name(tmp_path):
    # Each file has the schema's columns, but CsvExampleGen wants one header for all of them.
    (tmp_path / "a.csv").write_text("fare,hour,company,tipped\n7.5,3,Acme,1\n")
    (tmp_path / "b.csv").write_text("hour,fare,company,tipped\n3,7.5,Acme,1\n")
    with pytest.raises(DataError) as error:
        csv_check.check_data(str(tmp_path), SCHEMA, "tipped")
    assert (f"{tmp_path / 'b.csv'}: its header differs from {tmp_path / 'a.csv'}'s (same columns, another "
            "order)") in str(error.value)


def test_a_header_difference_is_said_in_columns():
    message = csv_check.different_header_message("b.csv", ["x", "colour", "y"], "a.csv", ["x", "color", "y"])
    assert message.startswith("b.csv: its header differs from a.csv's (it lacks ['color'] and it has "
                              "['colour'] instead)")


@pytest.mark.parametrize("other", ["README.txt", ".DS_Store", "old/"])
def test_a_file_that_is_not_csv_beside_the_data_is_refused_by_name(tmp_path, other):
    # CsvExampleGen's pattern is '*': it read README.txt as CSV and stopped on "different header".
    (tmp_path / "data.csv").write_text(GOOD)
    (tmp_path / other.rstrip("/")).mkdir() if other.endswith("/") else (tmp_path / other).write_text("notes\n")
    with pytest.raises(DataError) as error:
        csv_check.check_data(str(tmp_path), SCHEMA, "tipped")
    assert str(error.value).startswith(f"{tmp_path} holds ['{other.rstrip('/')}'] beside its CSV files")


def test_files_beside_span_folders_are_not_read(tmp_path):
    (tmp_path / "span-1").mkdir()
    (tmp_path / "span-1" / "data.csv").write_text(GOOD)
    (tmp_path / "README.txt").write_text("notes\n")
    assert csv_check.check_data(str(tmp_path), SCHEMA, "tipped") == 2
