"""StrictExampleValidator: TFX's ExampleValidator that fails the run on anomalies."""
from tfx.components import ExampleValidator
from tfx.dsl.components.base import executor_spec

from components.strict_example_validator import executor


class StrictExampleValidator(ExampleValidator):
    """Same inputs, outputs and anomalies artifact as ExampleValidator; anomalies stop the run."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
