"""LatestPushedModel: a plain container step whose output is the last pushed model, if any.

It replaces TFX's LatestBlessedModel resolver, which open-source KFP 2.x cannot run (its backend
compiles container and importer tasks only). It has no inputs, so a cache keyed on inputs and
parameters would answer it forever with its first result: a runner that reads the push records
before the run passes `last_pushed_model` (the model URI the newest record names), so the step
is served from the cache exactly until another model is pushed; compiled pipelines switch
caching off for it instead.
"""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.latest_pushed_model import executor

SERVING_DIR_KEY = executor.SERVING_DIR_KEY
MODEL_KEY = executor.MODEL_KEY
LAST_PUSHED_MODEL_KEY = "last_pushed_model"


class LatestPushedModelSpec(ComponentSpec):
    PARAMETERS = {SERVING_DIR_KEY: ExecutionParameter(type=str),
                  LAST_PUSHED_MODEL_KEY: ExecutionParameter(type=str, optional=True)}
    INPUTS = {}
    OUTPUTS = {MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}


class LatestPushedModel(base_component.BaseComponent):
    """Outputs a Model: a copy of the newest version pushed to `serving_dir`, or an empty one."""

    SPEC_CLASS = LatestPushedModelSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, serving_dir: str, last_pushed_model: Optional[str] = None):
        values = {SERVING_DIR_KEY: serving_dir, MODEL_KEY: types.Channel(type=standard_artifacts.Model)}
        if last_pushed_model is not None:
            values[LAST_PUSHED_MODEL_KEY] = last_pushed_model
        super().__init__(spec=LatestPushedModelSpec(**values))
