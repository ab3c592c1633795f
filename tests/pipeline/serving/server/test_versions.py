"""The server's version rule (stdlib, for the serving venv) agrees with the Pusher's (records.py)."""
from __future__ import annotations

import os

import pytest

from components.latest_pushed_model import records
from pipeline.serving.server import versions


def make(root, layout):
    for name, kind in layout.items():
        path = os.path.join(root, name)
        if kind == "file":
            open(path, "w").close()
            continue
        os.makedirs(path)
        if kind in ("saved_model.pb", "saved_model.pbtxt"):
            open(os.path.join(path, kind), "w").close()
        elif kind == "variables-only":
            os.makedirs(os.path.join(path, "variables"))


LAYOUTS = {
    "empty": {},
    "one version": {"5": "saved_model.pb"},
    "newest wins, by number not by text": {"9": "saved_model.pb", "10": "saved_model.pb", "100": "saved_model.pb"},
    "a push in progress is no version": {"7": "saved_model.pb", ".partial-8": "saved_model.pb"},
    "a copy without saved_model.pb yet is not whole": {"7": "saved_model.pb", "8": "variables-only"},
    "pbtxt counts": {"7": "saved_model.pb", "8": "saved_model.pbtxt"},
    "other names are ignored": {"3": "saved_model.pb", "latest": "saved_model.pb", "12abc": "saved_model.pb",
                                "99": "file"},
    "nothing whole": {"4": "variables-only", ".partial-5": "saved_model.pb"},
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_the_server_and_the_pusher_pick_the_same_version(tmp_path, name):
    make(str(tmp_path), LAYOUTS[name])
    assert versions.serving_version(str(tmp_path)) == records.serving_version(str(tmp_path))


def test_a_missing_serving_dir_has_no_version(tmp_path):
    missing = str(tmp_path / "nothing")
    assert versions.serving_version(missing) is None is records.serving_version(missing)


def test_the_expected_versions(tmp_path):
    make(str(tmp_path), LAYOUTS["a copy without saved_model.pb yet is not whole"])
    assert versions.serving_version(str(tmp_path)) == ("7", os.path.join(str(tmp_path), "7"))
