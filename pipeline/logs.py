"""Keeps TensorFlow, Beam and TFX logs in a file under the output dir instead of the terminal."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import time


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
        from absl import logging as absl_logging
        absl_level = absl_logging.get_verbosity()
        absl_logging.set_verbosity(absl_logging.INFO)
        try:
            yield
        except BaseException:
            logging.exception("run failed")
            raise
        finally:
            root.setLevel(level)
            absl_logging.set_verbosity(absl_level)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
