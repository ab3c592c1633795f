"""Pusher executor that never leaves a partial model where a server would load it.

TFX's Pusher copies the model file by file into `<base>/<version>/`; a run killed mid-copy
leaves a half-written version that TF Serving may try to load. Here the copy goes to
`<base>/.partial-<version>/` (not a number, so servers ignore it) and is renamed to
`<base>/<version>/` in one step. Leftovers of a killed push are removed at the next push.

After each push (local or remote) a push record names the version and the Trainer's model
artifact it came from (components/latest_pushed_model/records.py): the next run's baseline.
"""
from __future__ import annotations

import os
import shutil
import time
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components.pusher import executor as stock_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.latest_pushed_model import records

PARTIAL_PREFIX = ".partial-"


def publish(model_path: str, base_directory: str) -> str:
    """Copies `model_path` to a new numeric version under `base_directory`, atomically."""
    os.makedirs(base_directory, exist_ok=True)
    for name in os.listdir(base_directory):
        if name.startswith(PARTIAL_PREFIX):
            shutil.rmtree(os.path.join(base_directory, name), ignore_errors=True)
    version = int(time.time())
    while os.path.exists(os.path.join(base_directory, str(version))):
        version += 1
    partial = os.path.join(base_directory, f"{PARTIAL_PREFIX}{version}")
    shutil.copytree(model_path, partial)
    final = os.path.join(base_directory, str(version))
    os.rename(partial, final)  # atomic on one filesystem; refuses to replace a version
    return final


class Executor(stock_executor.Executor):
    """Pushes a blessed model to a local filesystem destination atomically."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
                                  destination)
        base = destination.filesystem.base_directory
        if destination.WhichOneof("destination") != "filesystem" or "://" in base:
            super().Do(input_dict, output_dict, exec_properties)  # remote: TFX's own copy
            if destination.WhichOneof("destination") == "filesystem":
                self._record_push(input_dict, output_dict, base)
            return None

        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return None
        model_path = self.GetModelPath(input_dict)
        serving_path = publish(model_path, base)
        logging.info("Model written to serving path %s.", serving_path)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=os.path.basename(serving_path))
        self._record_push(input_dict, output_dict, base)
        return None

    def _record_push(self, input_dict, output_dict, base: str) -> None:
        """Writes the push record the next run's LatestPushedModel step reads."""
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not model_push.get_int_custom_property("pushed"):
            return
        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        blessing = input_dict.get(standard_component_specs.MODEL_BLESSING_KEY) or [None]
        records.write_record(base, push_record(
            version=model_push.get_string_custom_property("pushed_version"),
            pushed_destination=model_push.get_string_custom_property("pushed_destination"),
            model=model, blessing=blessing[0], pushed_model_uri=model_push.uri))


def push_record(*, version: str, pushed_destination: str, model, blessing,
                pushed_model_uri: str) -> dict:
    """What a push record holds: the version, where it went, and the artifacts it came from."""
    return {
        "version": str(version),
        "pushed_destination": pushed_destination,
        "pushed_at": time.time(),
        "model_uri": model.uri,
        "model_id": model.id or None,
        "model_name": model.name or None,
        "model_blessing_uri": blessing.uri if blessing is not None else None,
        "pushed_model_uri": pushed_model_uri,
    }
