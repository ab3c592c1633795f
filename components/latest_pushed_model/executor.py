"""Finds the last pushed model from the Pusher's push records and outputs it as a Model artifact.

Every orchestrator passes an output artifact downstream (KFP 2.x always creates one), so "no
baseline" is an artifact without a model in it: `has_model` tells, and the Evaluator and Trainer
executors (components/run_parameters) then run as with no baseline at all.
"""
from __future__ import annotations

import json
import posixpath
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.latest_pushed_model import (FOUND_PROPERTY, NO_BASELINE_LOG, SOURCE_ID_PROPERTY, SOURCE_URI_PROPERTY,
                                            VERSION_PROPERTY, records)

SERVING_DIR_KEY = "serving_dir"
MODEL_KEY = "model"
RECORD_FILE = "push_record.json"


def has_model(artifact: types.Artifact) -> bool:
    """True when a LatestPushedModel output (or any Model artifact) holds a serving model."""
    return records.is_whole(path_utils.serving_model_path(artifact.uri))


def without_empty_baseline(input_dict: Dict[str, List[types.Artifact]], key: str
                           ) -> Dict[str, List[types.Artifact]]:
    """input_dict without `key` when its artifacts hold no model (the first run's baseline)."""
    if key in input_dict and not any(has_model(a) for a in input_dict[key]):
        return {k: v for k, v in input_dict.items() if k != key}
    return input_dict


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        serving_dir = exec_properties[SERVING_DIR_KEY]
        model = artifact_utils.get_single_instance(output_dict[MODEL_KEY])
        record = records.latest_pushed(serving_dir)
        fileio.makedirs(model.uri)
        if record is None:
            logging.info(NO_BASELINE_LOG, serving_dir)
            model.set_int_custom_property(FOUND_PROPERTY, 0)
            record = {"found": False, "serving_dir": serving_dir}
        else:
            # The pushed version is the Trainer's serving export, byte for byte; copied so the
            # artifact is self-contained wherever the orchestrator keeps it.
            io_utils.copy_dir(str(record["pushed_destination"]), path_utils.serving_model_dir(model.uri))
            model.set_int_custom_property(FOUND_PROPERTY, 1)
            model.set_string_custom_property(VERSION_PROPERTY, str(record["version"]))
            model.set_string_custom_property(SOURCE_URI_PROPERTY, str(record.get("model_uri", "")))
            model.set_string_custom_property(SOURCE_ID_PROPERTY, str(record.get("model_id", "")))
            logging.info("LatestPushedModel: baseline is version %s pushed to %s (Trainer model %s)",
                         record["version"], record["pushed_destination"], record.get("model_uri"))
            record = {"found": True, **record}
        with fileio.open(posixpath.join(model.uri, RECORD_FILE), "w") as f:
            f.write(json.dumps(record, indent=1, sort_keys=True))
