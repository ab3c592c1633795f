"""How a command stops: `fail` prints `error: ...` and exits with the command's code; `explain`
turns an error a user can fix, wherever it sits in an exception's cause chain, into one paragraph.

Exit codes: 2 an option or setting is wrong (nothing ran), 1 the run or command failed, 3 another
run holds the output folder's lock.
"""
from __future__ import annotations

import sys
from typing import Iterator, NoReturn, Optional, Type, TypeVar

import click

from pipeline import config as config_lib

E = TypeVar("E", bound=BaseException)


def fail(message: str, code: int = 2) -> NoReturn:
    """Prints `error: <message>` on stderr and exits with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def causes(exc: Optional[BaseException]) -> Iterator[BaseException]:
    """`exc`, then what it was raised from (its __cause__, else its __context__), and so on; each once."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def first_cause(exc: Optional[BaseException], kind: Type[E]) -> Optional[E]:
    """The first exception in `exc`'s cause chain that is a `kind`, else None."""
    return next((cause for cause in causes(exc) if isinstance(cause, kind)), None)


def explain(exc: BaseException) -> Optional[str]:
    """A one-paragraph message for the errors a user can fix; None for real bugs."""
    from components.drift_guard import DriftError
    from components.strict_example_validator.executor import DataAnomaliesError
    from components.trainer.binding import BindingError
    from components.trainer.features import SchemaError
    from components.trainer.user_model import UserModelError

    for cause in causes(exc):
        if isinstance(cause, DataAnomaliesError):
            return f"ExampleValidator: {cause.report}"
        if isinstance(cause, DriftError):
            return f"DriftGuard: {cause.report}\nNothing was trained or pushed."
        if isinstance(cause, (UserModelError, BindingError)):
            return f"Trainer: {cause}\nNothing was trained or pushed."
        if isinstance(cause, (SchemaError, config_lib.ConfigError)):
            return str(cause)
        if type(cause).__name__ == "TrainingStalledError":
            return f"Trainer: {cause}\nNothing was pushed."
        if type(cause).__name__ == "NanLossDuringTrainingError":
            return ("Trainer: the training loss became NaN, so the run stopped and nothing was pushed. "
                    "Lower the learning rate (--hparam learning_rate=...) or look for extreme values "
                    "in the data.")
    return None
