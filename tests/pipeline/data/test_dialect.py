"""CSV dialects: the delimiter and decimal mark found, and the comma-separated copy."""
import csv

import pytest

from pipeline.data import dialect

EXPORT = ('mean radius;mean texture;Pays;weight\n'
          '14,2;20,1;"Paris, France";1,5 kg\n'
          '-0,5;;Lyon;2 kg\n'
          '1e3;7;"a ""quoted"" ; field";\n')


@pytest.mark.parametrize("header, found", [
    ("a;b;c", ";"), ("a,b,c", ","), ("a\tb\tc", "\t"), ("a|b", "|"), ('"x;y",b,c', ","), ("one", None)])
def test_the_delimiter_is_the_candidate_found_most_outside_quotes(header, found):
    assert dialect.sniff_delimiter(header) == found


def test_describe_finds_semicolons_and_decimal_commas(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(EXPORT, encoding="utf-8")
    assert dialect.describe(str(path)) == (";", ",")
    assert dialect.describe(str(path), ";") is None
    (tmp_path / "c.csv").write_text("a,b\n1.5,2\n")
    assert dialect.describe(str(tmp_path / "c.csv")) is None


def test_the_copy_converts_only_columns_of_numbers_and_keeps_text_as_written(tmp_path):
    source = tmp_path / "in" / "e.csv"
    source.parent.mkdir()
    source.write_text(EXPORT, encoding="utf-8")
    written = dialect.convert(str(tmp_path / "in"), str(tmp_path / "out"), ";", ",")
    assert written == [(str(tmp_path / "out" / "e.csv"), 3)]
    with open(tmp_path / "out" / "e.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [["mean radius", "mean texture", "Pays", "weight"],
                    ["14.2", "20.1", "Paris, France", "1,5 kg"],
                    ["-0.5", "", "Lyon", "2 kg"],
                    ["1e3", "7", 'a "quoted" ; field', ""]]
    assert not list((tmp_path / "out").glob("*.partial"))


def test_the_conversion_command_quotes_what_the_shell_needs():
    assert dialect.conversion_command("my data/", ";", ",") == (
        "python -m pipeline convert-csv --input 'my data/' --output 'my data_comma' --delimiter ';' --decimal ','")


def test_the_copy_drops_a_byte_order_mark_quoted_names_and_blank_lines(tmp_path):
    # What CsvExampleGen would misread (it splits the header line at commas) or has no row for.
    (tmp_path / "in.csv").write_bytes('\ufeff"x","note"\r\n1.5,"a, b"\r\n\r\n'.encode("utf-8"))
    assert dialect.convert(str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), ",") == [
        (str(tmp_path / "out.csv"), 1)]
    assert (tmp_path / "out.csv").read_bytes() == b'x,note\r\n1.5,"a, b"\r\n'


def test_the_copy_writes_the_na_values_as_empty_cells_and_then_converts_the_numbers(tmp_path):
    (tmp_path / "in.csv").write_text("hours;kind\n12,5;N/A\n?;b\n 7 ;?\n", encoding="utf-8")
    dialect.convert(str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), ";", ",", ["N/A", "?"])
    assert (tmp_path / "out.csv").read_bytes() == b"hours,kind\r\n12.5,\r\n,b\r\n7,\r\n"


def test_placeholders_are_the_few_non_numbers_of_a_column_of_numbers(tmp_path):
    rows = [str(i) for i in range(30)] + ["N/A", "?", "", "N/A"]
    text = "hours,city,code\n" + "".join(f"{h},{'Paris' if i % 2 else 'Lyon'},{'A' if i % 3 else '?'}\n"
                                         for i, h in enumerate(rows))
    (tmp_path / "d.csv").write_text(text)
    assert dialect.placeholders(str(tmp_path / "d.csv"), ["hours", "city", "code"]) == {
        "hours": {"N/A": 2, "?": 1}}
    # More than a tenth of the filled cells is data, not a placeholder.
    (tmp_path / "d.csv").write_text("hours\n1\n2\nN/A\nN/A\n3\n")
    assert dialect.placeholders(str(tmp_path / "d.csv"), ["hours"]) == {}
