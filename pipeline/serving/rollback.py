"""Rollback: serve an earlier pushed version again, without retraining.

TF Serving's default version policy serves the highest version number, so a rollback pushes the
earlier version's files again as a new, highest version: the same atomic write as any push (a
local rename, or the staged copy with `saved_model.pb` last on an object store; see
components/atomic_pusher/executor.py), then a push record that names what it rolled back from and
to. That record names the target's own Trainer model, so the next run's baseline step
(LatestPushedModel) takes the rolled-back model, as it would after a push.
"""
from __future__ import annotations

import dataclasses
import posixpath
from typing import Dict, List, Optional

from components.atomic_pusher import executor as pusher
from components.latest_pushed_model import records


class RollbackError(ValueError):
    """The rollback cannot be done as asked; nothing was changed."""


@dataclasses.dataclass(frozen=True)
class Rollback:
    from_version: str
    to_version: str
    new_version: str
    path: str


def versions(serving_dir: str) -> List[str]:
    """Every numeric version under `serving_dir`, oldest first, whole or not."""
    return sorted((n for n in records.children(serving_dir) if n.isdigit()), key=int)


def _describe(serving_dir: str, served: str) -> str:
    listed = []
    for version in versions(serving_dir):
        notes = []
        if version == served:
            notes.append("served now")
        if not records.is_whole(posixpath.join(serving_dir, version)):
            notes.append("incomplete: no saved_model.pb")
        record = records.read_record(serving_dir, version) or {}
        if record.get("rollback"):
            notes.append(f"a rollback to {record['rollback'].get('to_version')}")
        listed.append(version + (f" ({', '.join(notes)})" if notes else ""))
    return ", ".join(listed) or "none"


def choose_target(serving_dir: str, to_version: Optional[str]) -> tuple:
    """(served version, target version); RollbackError (nothing changed) when there is none."""
    served = records.serving_version(serving_dir)
    if served is None:
        raise RollbackError(f"nothing is served from {serving_dir}: no whole numeric version there "
                            f"(versions: {_describe(serving_dir, '')})")
    served_version, served_path = served
    if to_version is not None:
        to_version = str(to_version).strip()
        path = posixpath.join(serving_dir, to_version)
        if not to_version.isdigit() or to_version not in versions(serving_dir):
            raise RollbackError(f"--to {to_version}: no such version in {serving_dir}. Versions: "
                                f"{_describe(serving_dir, served_version)}")
        if not records.is_whole(path):
            raise RollbackError(f"--to {to_version}: that version is incomplete (no saved_model.pb), so no "
                                f"server could load it. Versions: {_describe(serving_dir, served_version)}")
        if to_version == served_version:
            raise RollbackError(f"--to {to_version}: that version is the one served now. Versions: "
                                f"{_describe(serving_dir, served_version)}")
        return served_version, to_version
    # By default: the newest whole version below the served one whose files differ from it (after
    # a rollback, that undoes it).
    served_digest = _digest(serving_dir, served_version, served_path)
    for version in reversed(versions(serving_dir)):
        path = posixpath.join(serving_dir, version)
        if int(version) < int(served_version) and records.is_whole(path) \
                and _digest(serving_dir, version, path) != served_digest:
            return served_version, version
    raise RollbackError(f"no earlier version to roll back to in {serving_dir} (versions: "
                        f"{_describe(serving_dir, served_version)})")


def _digest(serving_dir: str, version: str, path: str) -> str:
    return str((records.read_record(serving_dir, version) or {}).get("model_digest") or pusher.model_digest(path))


def rollback(serving_dir: str, to_version: Optional[str] = None) -> Rollback:
    """Pushes version `to_version` (default: see choose_target) again as the newest version."""
    served_version, target = choose_target(serving_dir, to_version)
    source = posixpath.join(serving_dir, target)
    digest = _digest(serving_dir, target, source)
    path = (pusher.publish_remote(source, serving_dir) if "://" in serving_dir
            else pusher.publish(source, serving_dir))
    new_version = posixpath.basename(path.rstrip("/"))
    origin: Dict[str, object] = records.read_record(serving_dir, target) or {}
    # The model it came from, as the target's own record names it: the next baseline; and its
    # training statistics: the next run's drift guard compares with them.
    records.write_record(serving_dir, records.new_record(
        new_version, path, {**origin, "model_uri": origin.get("model_uri") or ""}, pushed_model_uri="",
        model_digest=digest, statistics_uri=origin.get("statistics_uri"),
        rollback={"from_version": served_version, "to_version": target}))
    return Rollback(served_version, target, new_version, path)


def history(serving_dir: str) -> List[Dict[str, object]]:
    """The rollback push records, newest first."""
    return [r for r in records.read_records(serving_dir) if r.get("rollback")]
