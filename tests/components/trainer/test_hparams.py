import pytest

from components.trainer.hparams import HParams


def test_defaults_and_json_values_are_accepted():
    assert HParams.from_dict(None) == HParams()
    hparams = HParams.from_dict({"hidden_units": [32], "dropout": 0, "learning_rate": 0.01, "batch_size": 64})
    assert hparams.hidden_units == (32,) and hparams.batch_size == 64


@pytest.mark.parametrize("values, words", [
    ({"hidden_units": []}, "hidden_units must be a list of 1 to 16"),
    ({"hidden_units": [0]}, "hidden_units must be a list"),
    ({"hidden_units": ["64"]}, "hidden_units must be a list"),
    ({"hidden_units": 64}, "hidden_units must be a list"),
    ({"dropout": 1}, "dropout must be a number in [0, 1)"),
    ({"dropout": "0.1"}, "dropout must be a number"),
    ({"learning_rate": 0}, "learning_rate must be a number > 0"),
    ({"learning_rate": float("nan")}, "learning_rate must be a number > 0"),
    ({"batch_size": 12.5}, "batch_size must be a whole number"),
    ({"batch_size": True}, "batch_size must be a whole number"),
    ({"batch_size": 0}, "batch_size must be a whole number in 1..1000000"),
    ({"max_embedding_dim": 5000}, "max_embedding_dim must be a whole number in 1..1024"),
    ({"l2": -1}, "l2 must be a number >= 0"),
    ({"layers": 3}, "unknown hyperparameter(s) ['layers']"),
])
def test_values_out_of_type_or_bounds_are_refused_by_name(values, words):
    with pytest.raises(ValueError) as error:
        HParams.from_dict(values)
    assert words in str(error.value)


def test_every_hyperparameter_has_a_type_for_the_hparam_parser():
    import dataclasses
    from pipeline import pairs
    assert set(HParams.TYPES) == {f.name for f in dataclasses.fields(HParams)}
    assert set(HParams.TYPES.values()) <= set(pairs.TYPES)
