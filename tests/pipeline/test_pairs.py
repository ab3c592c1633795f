"""The one NAME=VALUE rule (pipeline/pairs.py): typing, names, and errors that name option and pair."""
import pytest

from pipeline import pairs
from pipeline.config import ConfigError

PARAMS = pairs.Receiver(
    option="--param", noun="parameter", owner="this package",
    types={"data_root": pairs.STRING, "train_steps": pairs.INTEGER, "min_accuracy": pairs.FLOAT,
           "warm": pairs.BOOLEAN, "units": pairs.LIST, "extra": pairs.STRUCT},
    examples={"data_root": "/data", "train_steps": "500", "min_accuracy": "0.6"})
OPEN = pairs.Receiver(option="--hparam", noun="hyperparameter", owner="your model",
                      types={"batch_size": pairs.INTEGER}, takes_other_names=True)


@pytest.mark.parametrize("pair, value", [
    ("data_root=2024", "2024"),                      # a string keeps the text exactly as typed
    ("data_root= /a b=c ", " /a b=c "),              # split at the first '=' only; spaces kept
    ("data_root=", ""),
    ('data_root="quoted"', '"quoted"'),
    ("train_steps=500", 500),
    ("train_steps=-3", -3),
    ("min_accuracy=1", 1.0),                         # a float takes ints, as floats
    ("min_accuracy=0.75", 0.75),
    ("min_accuracy=1e-3", 0.001),
    ("warm=true", True),
    ("warm=false", False),
    ("units=[128, 64]", [128, 64]),
    ('extra={"a": [1]}', {"a": [1]}),
])
def test_each_declared_type_takes_its_values(pair, value):
    parsed = pairs.parse([pair], PARAMS)
    assert list(parsed.values()) == [value]
    assert type(list(parsed.values())[0]) is type(value)


@pytest.mark.parametrize("pair, message", [
    ("train_steps=abc", "--param train_steps=abc: train_steps is an integer parameter; give a whole number, "
                        "e.g. --param train_steps=500"),
    ("train_steps=5e2", "--param train_steps=5e2: train_steps is an integer parameter; give a whole number"),
    ("train_steps=1.5", "--param train_steps=1.5: train_steps is an integer parameter"),
    ("train_steps=500.0", "--param train_steps=500.0: train_steps is an integer parameter"),
    ("train_steps=true", "--param train_steps=true: train_steps is an integer parameter"),
    ("train_steps=", "--param train_steps=: train_steps is an integer parameter"),
    ("min_accuracy=high", "--param min_accuracy=high: min_accuracy is a float parameter; give a number, "
                          "e.g. --param min_accuracy=0.6"),
    ("min_accuracy=NaN", "--param min_accuracy=NaN: min_accuracy is a float parameter"),
    ("min_accuracy=Infinity", "--param min_accuracy=Infinity: min_accuracy is a float parameter"),
    ("min_accuracy=1e999", "--param min_accuracy=1e999: min_accuracy is a float parameter"),
    ("warm=yes", "--param warm=yes: warm is a boolean parameter; give true or false, e.g. --param warm=true"),
    ("warm=1", "--param warm=1: warm is a boolean parameter"),
    ("units=64", "--param units=64: units is a list parameter; give a JSON list, e.g. --param units=[1,2]"),
    ("units=[1,", "--param units=[1,: units is a list parameter"),
    ("extra=[]", "--param extra=[]: extra is a struct parameter; give a JSON object, e.g. "
                 '--param extra={"key":"value"}'),
])
def test_a_value_of_the_wrong_type_is_refused_naming_option_pair_type_and_an_example(pair, message):
    with pytest.raises(pairs.PairError) as error:
        pairs.parse([pair], PARAMS)
    assert str(error.value).startswith(message)


def test_a_pair_without_equals_is_refused_with_an_example_for_the_name_typed():
    with pytest.raises(pairs.PairError, match=r"^--param train_steps: expected NAME=VALUE \(no '=' in it\), "
                                              r"e\.g\. --param train_steps=500$"):
        pairs.parse(["train_steps"], PARAMS)
    with pytest.raises(pairs.PairError, match=r"^--param 500: expected NAME=VALUE"):
        pairs.parse(["500"], PARAMS)


@pytest.mark.parametrize("pair, words", [
    ("=5", "--param =5: NAME is empty; a name is letters, digits, '_', '-' and '.'"),
    ("train steps=5", "--param train steps=5: the name 'train steps' is not valid"),
    ("../x=5", "--param ../x=5: the name '../x' is not valid"),
])
def test_an_empty_or_invalid_name_is_refused(pair, words):
    with pytest.raises(pairs.PairError) as error:
        pairs.parse([pair], PARAMS)
    assert str(error.value).startswith(words)


def test_a_name_given_twice_is_refused_showing_both():
    with pytest.raises(pairs.PairError, match=r"^--param train_steps=6: train_steps is given twice "
                                              r"\(first as train_steps=5\); give each parameter once$"):
        pairs.parse(["train_steps=5", "data_root=/d", "train_steps=6"], PARAMS)


def test_an_unknown_name_is_refused_listing_the_known_ones():
    with pytest.raises(pairs.PairError, match=r"^--param train_stpes=5: train_stpes is not a parameter of this "
                                              r"package; known: data_root, extra, min_accuracy, train_steps, "
                                              r"units, warm$"):
        pairs.parse(["train_stpes=5"], PARAMS)


def test_undeclared_names_take_json_if_it_parses_else_the_text():
    parsed = pairs.parse(["units=8", "rate=0.5", "layers=[8,4]", "opts={\"a\":1}", "on=true", "none=null",
                          "activation=relu", "quoted=\"relu\"", "code=__import__('os')", "nan=NaN",
                          "big=1e999", "empty=", "batch_size=64"], OPEN)
    assert parsed == {"units": 8, "rate": 0.5, "layers": [8, 4], "opts": {"a": 1}, "on": True, "none": None,
                      "activation": "relu", "quoted": "relu", "code": "__import__('os')", "nan": "NaN",
                      "big": "1e999", "empty": "", "batch_size": 64}
    # A declared name keeps its type among open ones.
    with pytest.raises(pairs.PairError, match="--hparam batch_size=64.0: batch_size is an integer hyperparameter"):
        pairs.parse(["batch_size=64.0"], OPEN)


def test_a_receiver_may_give_every_other_name_one_type():
    inputs = pairs.Receiver(option="--input-map", noun="model input", owner="your model",
                            takes_other_names=True, other_names_type=pairs.STRING)
    assert pairs.parse(["input_1=text", "year=2024", "x=[1]"], inputs) == {
        "input_1": "text", "year": "2024", "x": "[1]"}


def test_errors_are_config_errors_so_the_cli_exits_2():
    assert issubclass(pairs.PairError, ConfigError)


def test_spec_types_of_both_schema_versions_map_to_the_rules_types():
    assert [pairs.spec_type(t) for t in ("STRING", "NUMBER_INTEGER", "INT", "NUMBER_DOUBLE", "DOUBLE",
                                         "BOOLEAN", "LIST", "STRUCT", "ENUM")] == [
        pairs.STRING, pairs.INTEGER, pairs.INTEGER, pairs.FLOAT, pairs.FLOAT, pairs.BOOLEAN, pairs.LIST,
        pairs.STRUCT, None]


def test_an_example_that_does_not_fit_its_type_is_replaced_by_a_generic_one():
    receiver = pairs.Receiver(option="--param", noun="parameter", owner="p", types={"n": pairs.INTEGER},
                              examples={"n": "many"})
    with pytest.raises(pairs.PairError, match=r"e\.g\. --param n=500$"):
        pairs.parse(["n=x"], receiver)
