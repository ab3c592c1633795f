"""Pusher executor: never a partial model where a server looks, never the same model twice.

What a model server does with the push destination (TF Serving's FileSystemStoragePathSource,
and servers that copy its convention): it polls the folder, takes every child whose name is a
number as a version, and loads the highest. So:

* Local destinations: the copy goes to `<base>/.partial-<version>/` (not a number, so servers
  ignore it) and is renamed to `<base>/<version>/` in one step.
* Remote destinations (`gs://`, `s3://`, ...; any filesystem TFX's fileio knows): object stores
  have no atomic folder rename, and a "folder" exists as soon as its first object does. The model
  is first uploaded to `<base>/.partial-<version>/`, then copied inside the store to
  `<base>/<version>/` with `saved_model.pb` last: the file a server loads a version from
  (SavedModel's loader reads it first) appears only once every other file is whole. A server that
  polls in the short window before it appears sees a version it cannot load yet and keeps serving
  the one it has (TF Serving retries the load). A push killed during the upload leaves only the
  ignored `.partial-` folder; killed during the copy, a numeric folder without `saved_model.pb`;
  the next push removes both (a folder with `saved_model.pb` is whole and is kept).
* A blessed model whose files are byte for byte those of the version already served (the newest
  whole numeric version) is not pushed again: the PushedModel artifact in ML Metadata gets
  `pushed` 0 and says why (`not_pushed_reason`, `serving_version`, `serving_destination`). This is
  what a second run on unchanged data meets: the baseline changed, so the Evaluator reran and
  blessed an equal model.

The model comes from any input form TFX's Pusher takes (`GetModelPath`): a `Model`, or an
`InfraBlessing` that carries the model it checked, with or without a `ModelBlessing`; each
blessing given must be blessed. After each push a push record names the version and the artifact
the model came from (components/latest_pushed_model/records.py): the next run's baseline.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import time
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
from tfx import types
from tfx.components.pusher import executor as stock_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.atomic_pusher import NOT_PUSHED_REASON, SERVING_DESTINATION, SERVING_VERSION
from components.latest_pushed_model import records

PARTIAL_PREFIX = ".partial-"
# The optional input naming the training data's statistics, recorded as `statistics_uri`.
STATISTICS_KEY = "statistics"
_CHUNK = 1 << 20


def _is_remote(path: str) -> bool:
    return "://" in path


def _join(*parts: str) -> str:
    return posixpath.join(*parts) if _is_remote(parts[0]) else os.path.join(*parts)


def model_files(root: str) -> Tuple[List[str], List[str]]:
    """(folders, files) under `root`, as sorted '/'-separated paths relative to it."""
    root = root.rstrip("/")
    folders, files = [], []
    for folder, subdirs, names in fileio.walk(root):
        folder = str(folder).rstrip("/")
        rel = folder[len(root):].strip("/").replace(os.sep, "/")
        prefix = f"{rel}/" if rel else ""
        folders += [prefix + str(d).rstrip("/") for d in subdirs]
        files += [prefix + str(n) for n in names]
    return sorted(folders), sorted(files)


def model_digest(root: str) -> str:
    """sha256 over every file's relative path and bytes: equal digests, the same model."""
    total = hashlib.sha256()
    for rel in model_files(root)[1]:
        one = hashlib.sha256()
        with fileio.open(_join(root, *rel.split("/")), "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                one.update(chunk)
        total.update(f"{rel}\0{one.hexdigest()}\n".encode())
    return total.hexdigest()


def _new_version(base_directory: str) -> int:
    """Now in seconds, but above every existing version, so a server takes it as the newest."""
    existing = [int(n) for n in records.children(base_directory) if n.isdigit()]
    return max([int(time.time())] + [v + 1 for v in existing])


def publish(model_path: str, base_directory: str) -> str:
    """Copies `model_path` to a new numeric version under a local `base_directory`, atomically."""
    os.makedirs(base_directory, exist_ok=True)
    for name in os.listdir(base_directory):
        if name.startswith(PARTIAL_PREFIX):
            shutil.rmtree(os.path.join(base_directory, name), ignore_errors=True)
    version = _new_version(base_directory)
    partial = os.path.join(base_directory, f"{PARTIAL_PREFIX}{version}")
    shutil.copytree(model_path, partial)
    final = os.path.join(base_directory, str(version))
    os.rename(partial, final)  # atomic on one filesystem; refuses to replace a version
    return final


def _clear_interrupted_remote(base_directory: str) -> None:
    """Removes what a killed remote push left: its staging folder, and its version if not whole."""
    for name in records.children(base_directory):
        if not name.startswith(PARTIAL_PREFIX):
            continue
        version = name[len(PARTIAL_PREFIX):]
        final = _join(base_directory, version)
        if version.isdigit() and fileio.isdir(final) and not records.is_whole(final):
            logging.warning("AtomicPusher: removing %s, left incomplete by an interrupted push", final)
            fileio.rmtree(final)
        fileio.rmtree(_join(base_directory, name))


def _copy_tree(source: str, target: str, folders: List[str], files: List[str]) -> None:
    fileio.makedirs(target)
    for rel in folders:
        fileio.makedirs(_join(target, *rel.split("/")))
    for rel in files:
        fileio.copy(_join(source, *rel.split("/")), _join(target, *rel.split("/")), overwrite=False)


def publish_remote(model_path: str, base_directory: str) -> str:
    """Pushes `model_path` to a new version under a remote `base_directory` (see module doc)."""
    fileio.makedirs(base_directory)
    _clear_interrupted_remote(base_directory)
    version = _new_version(base_directory)
    staging = _join(base_directory, f"{PARTIAL_PREFIX}{version}")
    final = _join(base_directory, str(version))
    folders, files = model_files(model_path)
    _copy_tree(model_path, staging, folders, files)  # the upload: under a name no server takes
    last = [rel for rel in files if rel in records.SERVED_FILES]
    _copy_tree(staging, final, folders, [rel for rel in files if rel not in records.SERVED_FILES])
    _copy_tree(staging, final, [], last)  # now the version can be loaded, and it is whole
    fileio.rmtree(staging)
    return final


class Executor(stock_executor.Executor):
    """TFX's Pusher for filesystem destinations, local or remote (see the module doc)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
                                  destination)
        if destination.WhichOneof("destination") != "filesystem":
            return super().Do(input_dict, output_dict, exec_properties)
        base = destination.filesystem.base_directory

        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return None
        model_path = self.GetModelPath(input_dict)
        digest = model_digest(model_path)
        served = _served_with_digest(base, digest)
        if served is not None:
            version, path, recorded = served
            reason = (f"the same model (sha256 {digest[:12]}) is already served as version "
                      f"{version} at {path}; pushing it again would only make a server reload")
            logging.info("AtomicPusher: not pushed: %s", reason)
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(NOT_PUSHED_REASON, reason)
            model_push.set_string_custom_property(SERVING_VERSION, version)
            model_push.set_string_custom_property(SERVING_DESTINATION, path)
            if not recorded:
                # Served but never recorded (a push killed between its copy and its record, or
                # a version put there by hand): record it now, so it is the next baseline.
                _record_push(input_dict, base, version, path, pushed_model_uri="", digest=digest)
            return None
        serving_path = publish_remote(model_path, base) if _is_remote(base) else publish(model_path, base)
        logging.info("Model written to serving path %s.", serving_path)
        io_utils.copy_dir(model_path, model_push.uri)
        version = os.path.basename(serving_path.rstrip("/"))
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)
        _record_push(input_dict, base, version, serving_path, pushed_model_uri=model_push.uri, digest=digest)
        return None


def _served_with_digest(base: str, digest: str) -> Optional[Tuple[str, str, bool]]:
    """(version, path, has a push record) of the served version when its files have `digest`
    (its digest read from its push record when that has one, else computed from its files)."""
    served = records.serving_version(base)
    if served is None:
        return None
    version, path = served
    record = records.read_record(base, version)
    if ((record or {}).get("model_digest") or model_digest(path)) != digest:
        return None
    return version, path, record is not None


def pushed_artifact(input_dict: Dict[str, List[types.Artifact]]) -> types.Artifact:
    """The artifact the pushed model comes from, by TFX's Pusher rule (`GetModelPath`): the
    `Model` when there is one, else the `InfraBlessing` that carries the model it checked."""
    for key in (standard_component_specs.MODEL_KEY, standard_component_specs.INFRA_BLESSING_KEY):
        if input_dict.get(key):
            return artifact_utils.get_single_instance(input_dict[key])
    raise RuntimeError("Pusher has no model input.")


def _record_push(input_dict, base: str, version: str, destination: str, *, pushed_model_uri: str,
                 digest: str) -> None:
    """Writes the push record the next run's LatestPushedModel step reads."""
    def single(key):
        return (input_dict.get(key) or [None])[0]
    records.write_record(base, push_record(
        version=version, pushed_destination=destination,
        model=pushed_artifact(input_dict),
        blessing=single(standard_component_specs.MODEL_BLESSING_KEY),
        infra_blessing=single(standard_component_specs.INFRA_BLESSING_KEY),
        pushed_model_uri=pushed_model_uri, digest=digest,
        statistics=single(STATISTICS_KEY)))


def push_record(*, version: str, pushed_destination: str, model: types.Artifact, blessing,
                pushed_model_uri: str, digest: Optional[str] = None, infra_blessing=None,
                statistics=None) -> dict:
    """What a push record holds: the version, where it went, and the artifacts it came from.

    `model` is the artifact the model was pushed from (`pushed_artifact`): a `Model`, or an
    `InfraBlessing` carrying one; `model_type` says which. Either URI is unique to the run that
    made it, which is what the baseline step's cache key needs. `statistics`, when given, is
    the StatisticsGen output of the data the model was trained on: the drift guard's reference.
    """
    return records.new_record(version, pushed_destination, {
        "model_uri": model.uri,
        "model_id": model.id or None,
        "model_name": model.name or None,
        "model_type": model.type_name,
        "model_blessing_uri": blessing.uri if blessing is not None else None,
        "infra_blessing_uri": infra_blessing.uri if infra_blessing is not None else None,
    }, pushed_model_uri=pushed_model_uri, model_digest=digest,
        statistics_uri=statistics.uri if statistics is not None else None)
