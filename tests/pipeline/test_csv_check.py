"""Bad CSV input is named precisely (file, line, column) before any component runs."""
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline import csv_check
from pipeline.csv_check import DataError

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
