"""One run at a time per output dir: a second run is refused before it touches anything."""
from __future__ import annotations

import contextlib
import fcntl
import os
import time

LOCK_NAME = ".run.lock"


class RunInProgress(RuntimeError):
    """Another run holds the output dir."""


@contextlib.contextmanager
def exclusive(output_dir: str):
    """Holds an flock on `<output_dir>/.run.lock` for the block; the OS drops it if we die."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, LOCK_NAME)
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunInProgress(
                f"another run is using {output_dir} ({holder}); nothing was changed. Wait for it to "
                "finish, or use another --output-dir.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        yield
    finally:
        handle.close()
