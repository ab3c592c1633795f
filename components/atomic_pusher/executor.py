"""Pusher executor that never leaves a partial model where a server would load it.

TFX's Pusher copies the model file by file into `<base>/<version>/`; a run killed mid-copy
leaves a half-written version that TF Serving may try to load. Here the copy goes to
`<base>/.partial-<version>/` (not a number, so servers ignore it) and is renamed to
`<base>/<version>/` in one step. Leftovers of a killed push are removed at the next push.
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
            return super().Do(input_dict, output_dict, exec_properties)  # remote: TFX's own copy

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
        return None
