"""Trainer and Evaluator whose run settings are typed parameters, settable per Kubeflow run.

TFX's Trainer and Evaluator take steps and thresholds inside protos (TrainArgs, EvalConfig),
which a Kubeflow run cannot change without recompiling. These components add plain
`train_steps`, `eval_steps` (int) and `min_accuracy` (float) execution parameters, each
accepting a `RuntimeParameter`, and apply them before running TFX's own executors. Inputs,
outputs and artifacts are those of the stock components.
"""
from __future__ import annotations

from typing import Any, Dict, Union

from tfx import types
from tfx.components import Evaluator as StockEvaluator
from tfx.components import Trainer as StockTrainer
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from components.run_parameters import executor

IntParam = Union[int, data_types.RuntimeParameter]
FloatParam = Union[float, data_types.RuntimeParameter]


class TrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = {
        **standard_component_specs.TrainerSpec.PARAMETERS,
        executor.TRAIN_STEPS_KEY: ExecutionParameter(type=int),
        executor.EVAL_STEPS_KEY: ExecutionParameter(type=int),
    }


class EvaluatorSpec(standard_component_specs.EvaluatorSpec):
    PARAMETERS = {
        **standard_component_specs.EvaluatorSpec.PARAMETERS,
        executor.MIN_ACCURACY_KEY: ExecutionParameter(type=float),
        executor.ACCURACY_METRIC_KEY: ExecutionParameter(type=str),
        executor.GATES_KEY: ExecutionParameter(type=str, optional=True),
    }


class Trainer(base_component.BaseComponent):
    """TFX's Trainer (GenericExecutor, run_fn) with `train_steps` and `eval_steps` parameters."""

    SPEC_CLASS = TrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.TrainerExecutor)

    def __init__(self, *, train_steps: IntParam, eval_steps: IntParam, **trainer_kwargs: Any):
        stock = StockTrainer(**trainer_kwargs)  # TFX's own argument checks and defaults
        super().__init__(spec=_extend(TrainerSpec, stock.spec, {
            executor.TRAIN_STEPS_KEY: train_steps, executor.EVAL_STEPS_KEY: eval_steps}))


class Evaluator(base_component.BaseComponent):
    """TFX's Evaluator with a `min_accuracy` parameter applied to the named accuracy metric, and
    `gates` (components/run_parameters/gates.py): bounds computed from the run's data."""

    SPEC_CLASS = EvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.EvaluatorExecutor)

    def __init__(self, *, min_accuracy: FloatParam, accuracy_metric: str = "accuracy",
                 gates: str = None, **evaluator_kwargs: Any):
        stock = StockEvaluator(**evaluator_kwargs)
        super().__init__(spec=_extend(EvaluatorSpec, stock.spec, {
            executor.MIN_ACCURACY_KEY: min_accuracy, executor.ACCURACY_METRIC_KEY: accuracy_metric,
            executor.GATES_KEY: gates}))


def _extend(spec_class, stock: types.ComponentSpec, extra: Dict[str, Any]) -> types.ComponentSpec:
    """`spec_class` with the stock spec's inputs and parameters, fresh outputs, plus `extra`."""
    values: Dict[str, Any] = {**stock.exec_properties, **stock.inputs, **extra}
    values.update({key: types.Channel(type=channel.type) for key, channel in stock.outputs.items()})
    return spec_class(**{k: v for k, v in values.items() if v is not None})
