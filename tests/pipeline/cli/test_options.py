"""pipeline/cli/options.py: the parsers of the options click cannot type alone."""
import click
import pytest

from pipeline.cli.options import one_char, parse_hparams, parse_input_map, parse_split
from pipeline.config import ConfigError


def test_a_users_model_takes_its_own_hparams_typed_by_the_one_rule():
    assert parse_hparams(("units=8", "activation=relu", "sizes=[4,2]", "batch_size=64"), users_model=True) == (
        ("units", 8), ("activation", "relu"), ("sizes", [4, 2]), ("batch_size", 64))
    assert parse_hparams(("dropout=0", "hidden_units=[32]"), users_model=False) == (
        ("dropout", 0.0), ("hidden_units", [32]))
    # Input names and features are strings, kept as typed.
    assert parse_input_map(("input_1=text", "year=2024")) == (("input_1", "text"), ("year", "2024"))


def test_split_is_two_whole_bucket_counts():
    assert parse_split("4:1") == (4, 1)
    for bad in ("2-1", "0:1", "2:", "90:20", "a:b"):
        with pytest.raises(ConfigError, match="expected TRAIN:EVAL"):
            parse_split(bad)


def test_one_char_takes_one_character_or_a_named_tab():
    assert one_char("--delimiter", ";") == ";"
    assert one_char("--delimiter", "\\t") == one_char("--delimiter", "tab") == "\t"
    for bad in (";;", "", "\n", '"'):
        with pytest.raises(click.BadParameter, match="give one character, e.g. --delimiter ';'"):
            one_char("--delimiter", bad)
