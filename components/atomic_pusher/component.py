"""AtomicPusher: TFX's Pusher whose local pushes appear all at once (see executor)."""
from tfx.components import Pusher
from tfx.dsl.components.base import executor_spec

from components.atomic_pusher import executor


class AtomicPusher(Pusher):
    """Same inputs, outputs and PushedModel artifact as Pusher; no partial version on disk."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
