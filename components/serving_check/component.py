"""ServingCheck: TFX's InfraValidator's job without Docker or Kubernetes, between Evaluator and Pusher.

Input: the Trainer's Model. Output: a standard InfraBlessing (custom property `blessed` 1/0 as
InfraValidator sets it), which the Pusher takes as `infra_blessing=`: its stock CheckBlessing then
refuses a model that did not pass. See executor.py for what is checked.
"""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.serving_check import executor

MODEL_KEY = executor.MODEL_KEY
BLESSING_KEY = executor.BLESSING_KEY
TIMEOUT_KEY = executor.TIMEOUT_KEY


class ServingCheckSpec(ComponentSpec):
    PARAMETERS = {TIMEOUT_KEY: ExecutionParameter(type=int, optional=True)}
    INPUTS = {MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}
    OUTPUTS = {BLESSING_KEY: ChannelParameter(type=standard_artifacts.InfraBlessing)}


class ServingCheck(base_component.BaseComponent):
    """Loads the model in a fresh TensorFlow-only process and replays its warm-up requests."""

    SPEC_CLASS = ServingCheckSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, timeout_seconds: Optional[int] = None):
        values = {MODEL_KEY: model, BLESSING_KEY: types.Channel(type=standard_artifacts.InfraBlessing)}
        if timeout_seconds is not None:
            values[TIMEOUT_KEY] = timeout_seconds
        super().__init__(spec=ServingCheckSpec(**values))
