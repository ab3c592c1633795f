"""DriftGuard: compares the new data's statistics with those the served model was trained on.

It sits between StatisticsGen and the Trainer, and finds the served model's training statistics
through the baseline step's output (LatestPushedModel copies the push record, which names the
statistics the Pusher was given): no resolver, so compiled pipelines run it the same way. Its
output is a standard ExampleAnomalies artifact holding TFDV's drift anomalies and `drift.json`,
the per-feature distances and thresholds, for the report.
"""
from typing import Union

from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import channel, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.drift_guard import executor

STATISTICS_KEY = executor.STATISTICS_KEY
SCHEMA_KEY = executor.SCHEMA_KEY
BASELINE_KEY = executor.BASELINE_KEY
ACCEPT_DRIFT_KEY = executor.ACCEPT_DRIFT_KEY
DRIFT_KEY = executor.DRIFT_KEY


class DriftGuardSpec(ComponentSpec):
    PARAMETERS = {ACCEPT_DRIFT_KEY: ExecutionParameter(type=int)}
    INPUTS = {STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
              SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
              BASELINE_KEY: ChannelParameter(type=standard_artifacts.Model)}
    OUTPUTS = {DRIFT_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies)}


class DriftGuard(base_component.BaseComponent):
    """Fails the run (DriftError) when the train split drifted past the schema's thresholds,
    unless `accept_drift` is 1 (an int, so a Kubeflow run parameter can set it)."""

    SPEC_CLASS = DriftGuardSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, statistics: channel.BaseChannel, schema: channel.BaseChannel,
                 baseline: channel.BaseChannel,
                 accept_drift: Union[int, data_types.RuntimeParameter] = 0):
        super().__init__(spec=DriftGuardSpec(
            statistics=statistics, schema=schema, baseline=baseline, accept_drift=accept_drift,
            drift=channel.Channel(type=standard_artifacts.ExampleAnomalies)))
