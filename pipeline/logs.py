"""Keeps TensorFlow, Beam and TFX logs in a file under the output dir instead of the terminal."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

from components.drift_guard import DRIFT_LOG
from components.latest_pushed_model import NO_BASELINE_LOG
from components.serving_check import SERVING_CHECK_LOG
from components.trainer.constants import PROGRESS_LOGGER


LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def new_log_path(output_dir: str) -> str:
    return os.path.join(os.path.abspath(output_dir), "logs", time.strftime("run-%Y%m%d-%H%M%S.log"))


@contextlib.contextmanager
def captured(path: str, enabled: bool = True):
    """Sends everything written to stdout/stderr (Python and native code) to `path`."""
    if not enabled:
        yield
        return
    if path != os.devnull:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.INFO)
        # Every record once, with its time: one handler on the root logger. TensorFlow's logger
        # has a handler of its own (added when the root had none at its first use) and also
        # passes its records on to the root, which wrote each TensorFlow line twice.
        saved_handlers = {name: list(logging.getLogger(name).handlers) for name in ("", "tensorflow")}
        for name in saved_handlers:
            for handler in saved_handlers[name]:
                logging.getLogger(name).removeHandler(handler)
        # On the log file itself (fd 2 now), not on `sys.stderr`, which a caller may have replaced
        # (click's CliRunner does): the records then land in the log whoever holds sys.stderr.
        log_stream = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
        one = logging.StreamHandler(log_stream)
        one.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))
        root.addHandler(one)
        from absl import logging as absl_logging
        absl_level = absl_logging.get_verbosity()
        absl_logging.set_verbosity(absl_logging.INFO)
        try:
            yield
        except BaseException:
            logging.exception("run failed")
            raise
        finally:
            root.removeHandler(one)
            log_stream.close()
            for name, handlers in saved_handlers.items():
                for handler in handlers:
                    logging.getLogger(name).addHandler(handler)
            root.setLevel(level)
            absl_logging.set_verbosity(absl_level)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


SLICES_LOG = "Slices: %s"  # logged by the local runner before the components run

NO_BASELINE = "no blessed model yet: this run's model is compared against the thresholds only"


def step_counter(index: int, total: int) -> str:
    """`[1/10]` padded as wide as `[10/10]`, so the step names line up (and split() still works)."""
    return f"[{index}/{total}]".ljust(2 * len(str(total)) + 3)


class Progress(logging.Handler):
    """Turns the local runner's log records into one terminal line per component.

    `[4/8] ExampleValidator         ran      0.1 s` (or cached / skipped); the failing
    component is named by `failed_node` for the error message. While the Trainer runs, its
    progress records (step, loss, examples/s) are shown indented; when the baseline step
    (LatestPushedModel) finds no pushed model, a plain note says so, as does the drift guard's
    finding (compared, accepted, nothing to compare with); the ServingCheck's result
    (passed, with load time and latencies, or failed, with the reason) is a note too.
    """

    def __init__(self, stream, total: int):
        super().__init__(level=logging.INFO)
        self.stream = stream
        self.total = total
        self.index = 0
        self.node = None
        self.started = 0.0
        self.state = "ran"
        self.notes = []

    def emit(self, record: logging.LogRecord) -> None:
        message = str(record.msg)
        if record.name == PROGRESS_LOGGER:
            self.stream.write(f"      {self.node or 'Trainer'}: {record.getMessage()}\n")
            self.stream.flush()
        elif message == SLICES_LOG:
            self.stream.write(f"      {record.args[0] if record.args else ''}\n")
            self.stream.flush()
        elif message == NO_BASELINE_LOG:
            self.notes.append(NO_BASELINE)
        elif message == DRIFT_LOG and record.levelno < logging.ERROR:
            self.notes.append(f"drift: {record.args[0] if record.args else ''}")
        elif message == SERVING_CHECK_LOG:
            self.notes.append("serving check: " + record.getMessage()[len(SERVING_CHECK_LOG % ""):])
        elif message.startswith("Component %s is running."):
            self.index += 1
            self.node, self.started, self.state = record.args[0], time.time(), "ran"
        elif message.startswith("A cached execution"):
            self.state = "cached"
        elif message.startswith("Skipping execution for"):
            self.state = "skipped"
        elif message.startswith("Component %s is finished.") and self.node:
            self._line(self.state)
            self.node = None
            for note in self.notes:
                self.stream.write(f"      {note}\n")
            self.stream.flush()
            self.notes = []

    def _line(self, state: str) -> None:
        self.stream.write(f"{step_counter(self.index, self.total)} {self.node:<28} {state:<7} "
                          f"{time.time() - self.started:6.1f} s\n")
        self.stream.flush()

    @property
    def failed_node(self):
        return self.node

    def fail(self) -> None:
        if self.node:
            self._line("failed")


@contextlib.contextmanager
def progress(total: int, show_training: bool = True):
    """Installs a Progress handler writing to the terminal as it was before any capture.

    `show_training=False` leaves the Trainer's lines to the log handlers (with --verbose they
    reach the terminal that way already; echoing them too would print each twice).
    """
    stream = os.fdopen(os.dup(1), "w")
    handler = Progress(stream, total)
    absl_logger = logging.getLogger("absl")
    training_logger = logging.getLogger(PROGRESS_LOGGER)
    training_level = training_logger.level
    training_logger.setLevel(logging.INFO)
    absl_logger.addHandler(handler)
    if show_training:
        training_logger.addHandler(handler)
    try:
        yield handler
    finally:
        absl_logger.removeHandler(handler)
        training_logger.removeHandler(handler)
        training_logger.setLevel(training_level)
        stream.close()
