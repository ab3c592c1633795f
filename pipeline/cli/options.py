"""What several commands share: the settings' defaults (shown in `--help`) and the parsers of the
options click cannot type alone (--hparam, --input-map, --model, --split, --delimiter/--decimal).

A parser raises config.ConfigError (click.BadParameter for a callback), which the command reports
with exit code 2 before anything runs.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Optional, Tuple

import click

from pipeline import config as config_lib
from pipeline import pairs

DEFAULTS = config_lib.PipelineConfig()


def parse_hparams(values: Tuple[str, ...], users_model: bool) -> Tuple[Tuple[str, object], ...]:
    """--hparam pairs, typed as the built-in model declares them and bounded as the Trainer reads
    them; a user's model takes any names (untyped but batch_size, which the pipeline reads)."""
    from components.trainer.hparams import HParams, batch_size_of
    defaults = dataclasses.asdict(HParams())
    types = {"batch_size": pairs.INTEGER} if users_model else HParams.TYPES
    receiver = pairs.Receiver(
        option="--hparam", noun="hyperparameter", owner="your model" if users_model else "the built-in model",
        types=types, takes_other_names=users_model,
        unknown_hint="" if users_model else "a model of your own (--model MODULE:FUNCTION) takes any name",
        examples={name: json.dumps(value, separators=(",", ":")) for name, value in defaults.items()})
    parsed = pairs.parse(values, receiver)
    batch_size_of(parsed, users_model)
    return tuple(parsed.items())


def parse_input_map(values: Tuple[str, ...]) -> Tuple[Tuple[str, str], ...]:
    """--input-map pairs: any model input, each to a feature name (the binding checks both exist)."""
    receiver = pairs.Receiver(option="--input-map", noun="model input", owner="your model",
                              takes_other_names=True, other_names_type=pairs.STRING,
                              examples={"input_1": "text"})
    parsed = pairs.parse(values, receiver)
    for name, feature in parsed.items():
        if not feature:
            raise config_lib.ConfigError(f"--input-map {name}=: give the feature that feeds {name}, e.g. "
                                         f"--input-map {name}=text")
    return tuple(parsed.items())


def parse_model(value: Optional[str], input_map: Tuple[str, ...]):
    """--model MODULE:FUNCTION as a user_model spec; None (the built-in model) without it."""
    if value is None:
        if input_map:
            raise config_lib.ConfigError("--input-map binds the inputs of your own model: give it with "
                                         "--model MODULE:FUNCTION")
        return None
    from components.trainer import user_model
    try:
        return user_model.parse_spec(value)
    except user_model.UserModelError as exc:
        raise config_lib.ConfigError(f"{exc}\nNothing was run.") from None


def parse_split(value: str) -> Tuple[int, int]:
    """--split TRAIN:EVAL as (train buckets, eval buckets)."""
    train, sep, evaluation = value.partition(":")
    if not (sep and train.isdigit() and evaluation.isdigit() and int(train) > 0 and int(evaluation) > 0
            and int(train) + int(evaluation) <= 100):
        raise config_lib.ConfigError(f"--split {value!r}: expected TRAIN:EVAL, two whole numbers > 0 "
                                     "(at most 100 buckets in all), e.g. 2:1 or 4:1")
    return int(train), int(evaluation)


def one_char(option: str, value: str) -> str:
    """A --delimiter/--decimal value: one character ('\\t' for a tab)."""
    value = "\t" if value in ("\\t", "tab") else value
    if len(value) != 1 or value in "\r\n\"":
        raise click.BadParameter(f"{value!r}: give one character, e.g. {option} ';'", param_hint=option)
    return value
