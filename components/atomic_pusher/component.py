"""AtomicPusher: TFX's Pusher whose local pushes appear all at once (see executor).

One addition to TFX's PusherSpec: an optional `statistics` input (ExampleStatistics), the
statistics of the data the model was trained on. The Pusher names it in the push record
(`statistics_uri`), so the next run's drift guard finds what the served model learned from.
"""
from typing import Any, Optional

from tfx import types
from tfx.components import Pusher
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter

from components.atomic_pusher import executor

STATISTICS_KEY = executor.STATISTICS_KEY


class AtomicPusherSpec(standard_component_specs.PusherSpec):
    INPUTS = {
        **standard_component_specs.PusherSpec.INPUTS,
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics, optional=True),
    }


class AtomicPusher(Pusher):
    """Same inputs (plus optional `statistics`), outputs and PushedModel artifact as Pusher;
    no partial version on disk."""

    SPEC_CLASS = AtomicPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, statistics: Optional[types.BaseChannel] = None, **pusher_kwargs: Any):
        stock = Pusher(**pusher_kwargs)  # TFX's own argument checks and defaults
        values = {**stock.exec_properties, **stock.inputs,
                  **{key: types.Channel(type=c.type) for key, c in stock.outputs.items()}}
        if statistics is not None:
            values[STATISTICS_KEY] = statistics
        # BaseComponent's, not Pusher's, __init__: the spec is built here.
        base_component.BaseComponent.__init__(  # pylint: disable=non-parent-init-called
            self, spec=AtomicPusherSpec(**{k: v for k, v in values.items() if v is not None}))
