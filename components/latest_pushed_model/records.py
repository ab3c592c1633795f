"""Push records: what the Pusher writes beside the serving dir for each version it publishes.

`<serving_dir>-records/<version>.json` names the pushed version, the artifact the model came from
(URI, id, type: the Trainer's Model, or an InfraBlessing carrying it), and the blessings that let
it through. The serving dir itself keeps only
numeric version folders, as model servers expect. Written with TFX's fileio, so a `gs://`
serving dir works the same as a local one.
"""
from __future__ import annotations

import json
import posixpath
import re
import time
from typing import Dict, List, Optional, Tuple

from tfx.dsl.io import fileio

RECORDS_SUFFIX = "-records"
_RECORD_NAME = re.compile(r"^([0-9]+)\.json$")
# The files a version is loaded from (SavedModel's loader takes either): a numeric folder that
# holds one is a version a server can load.
SERVED_FILES = ("saved_model.pb", "saved_model.pbtxt")


def children(folder: str) -> List[str]:
    """The names in `folder` (none if it does not exist), without the '/' object stores add."""
    return [name.rstrip("/") for name in fileio.listdir(folder)] if fileio.isdir(folder) else []


def is_whole(version_dir: str) -> bool:
    """True when `version_dir` holds the file a server loads a version from."""
    return any(fileio.exists(posixpath.join(version_dir, name)) for name in SERVED_FILES)


def serving_version(serving_dir: str) -> Optional[Tuple[str, str]]:
    """(version, path) of the newest whole numeric version: what a server serves, or None."""
    for version in sorted((int(n) for n in children(serving_dir) if n.isdigit()), reverse=True):
        path = posixpath.join(serving_dir, str(version))
        if is_whole(path):
            return str(version), path
    return None


def records_dir(serving_dir: str) -> str:
    """Where the push records of `serving_dir` live: a sibling folder, never inside it."""
    return serving_dir.rstrip("/") + RECORDS_SUFFIX


# What a record says of the model it published: the artifact it came from (URI, id, name, type: the
# Trainer's Model, or an InfraBlessing carrying it) and the blessings that let it through.
MODEL_FIELDS = ("model_uri", "model_id", "model_name", "model_type", "model_blessing_uri",
                "infra_blessing_uri")


def new_record(version: str, pushed_destination: str, model: Dict[str, object], *, pushed_model_uri: str,
               model_digest: Optional[str], statistics_uri: Optional[str],
               rollback: Optional[Dict[str, str]] = None) -> Dict[str, object]:
    """One push record, as the Pusher and `rollback` both write it.

    Args:
      version, pushed_destination: the version folder's name and path.
      model: MODEL_FIELDS of the model published (others are ignored).
      pushed_model_uri: the Pusher's PushedModel artifact ('' for a rollback).
      model_digest: the SavedModel's digest (the no-duplicate check).
      statistics_uri: the training statistics of the model (the drift guard's reference).
      rollback: {"from_version", "to_version"} for a rollback.
    """
    record: Dict[str, object] = {"version": str(version), "pushed_destination": pushed_destination,
                                 "pushed_at": time.time(), **{name: model.get(name) for name in MODEL_FIELDS},
                                 "pushed_model_uri": pushed_model_uri, "model_digest": model_digest,
                                 "statistics_uri": statistics_uri}
    if rollback is not None:
        record["rollback"] = rollback
    return record


def write_record(serving_dir: str, record: Dict[str, object]) -> str:
    """Writes `<records_dir>/<version>.json` whole or not at all; returns its path."""
    version = str(record["version"])
    if not version.isdigit():
        raise ValueError(f"push record version {version!r} is not a number")
    folder = records_dir(serving_dir)
    fileio.makedirs(folder)
    path = posixpath.join(folder, f"{version}.json")
    tmp = posixpath.join(folder, f".{version}.json.tmp")
    with fileio.open(tmp, "w") as f:
        f.write(json.dumps(record, indent=1, sort_keys=True))
    fileio.rename(tmp, path, overwrite=True)
    return path


def read_records(serving_dir: str) -> List[Dict[str, object]]:
    """Every readable push record, newest version first."""
    folder = records_dir(serving_dir)
    if not fileio.isdir(folder):
        return []
    versions = sorted((int(m.group(1)) for m in map(_RECORD_NAME.match, fileio.listdir(folder)) if m),
                      reverse=True)
    found = []
    for version in versions:
        try:
            with fileio.open(posixpath.join(folder, f"{version}.json")) as f:
                found.append(json.loads(f.read()))
        except (ValueError, OSError):
            continue  # unreadable: not a baseline candidate
    return found


def read_record(serving_dir: str, version: str) -> Optional[Dict[str, object]]:
    """The push record of one version, or None when there is none or it cannot be read."""
    path = posixpath.join(records_dir(serving_dir), f"{version}.json")
    if not fileio.exists(path):
        return None
    try:
        with fileio.open(path) as f:
            return json.loads(f.read())
    except (ValueError, OSError, fileio.NotFoundError):
        return None


def latest_pushed(serving_dir: str) -> Optional[Dict[str, object]]:
    """The newest record whose pushed version is still whole where it was pushed, or None."""
    for record in read_records(serving_dir):
        destination = str(record.get("pushed_destination") or "")
        if destination and is_whole(destination):
            return record
    return None


def last_pushed_model(serving_dir: str) -> str:
    """The Trainer model URI that the newest usable push record names, or "" (nothing pushed)."""
    record = latest_pushed(serving_dir)
    return str(record.get("model_uri") or "") if record else ""
