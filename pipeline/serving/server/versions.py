"""Which pushed version a server serves: stdlib only, so the server (another venv) can use it.

The rule is the Pusher's (components/latest_pushed_model/records.py: serving_version): the newest
numeric folder under the serving dir that holds saved_model.pb or saved_model.pbtxt. A folder
still being written (`.partial-*`, or a version folder whose saved_model.pb is not there yet) is
not a version. tests/pipeline/serving/test_versions.py checks that both rules agree.
"""
from __future__ import annotations

import os
from typing import Optional, Tuple

SERVED_FILES = ("saved_model.pb", "saved_model.pbtxt")


def is_whole(version_dir: str) -> bool:
    """True when `version_dir` holds the file a SavedModel is loaded from."""
    return any(os.path.isfile(os.path.join(version_dir, name)) for name in SERVED_FILES)


def serving_version(serving_dir: str) -> Optional[Tuple[str, str]]:
    """(version, path) of the newest whole numeric version under `serving_dir`, or None."""
    try:
        names = os.listdir(serving_dir)
    except (FileNotFoundError, NotADirectoryError):
        return None
    for version in sorted((int(name) for name in names if name.isdigit()), reverse=True):
        path = os.path.join(serving_dir, str(version))
        if is_whole(path):
            return str(version), path
    return None
