"""Training hooks that guard the run itself (the progress and checkpoint hooks live in task.py)."""
from __future__ import annotations

import tensorflow as tf


class TrainingStalledError(RuntimeError):
    """Training whose global step stopped moving: it would never reach its last step."""


class GlobalStepMustAdvanceHook(tf.compat.v1.train.SessionRunHook):
    """Stops training whose global step does not move, instead of looping forever.

    Keras's `model_to_estimator` train op advances the global step only when the optimizer
    applies gradients, so a model with nothing to train (every weight frozen) never reaches
    `max_steps`: `train_and_evaluate` loops at step 0, logging "step 1/N" without end. The global
    step is read every `every` runs, fetched with the training step itself (no extra
    `session.run`); after `checks` reads in a row with the same value the run stops with the
    reason.
    """

    def __init__(self, every: int = 10, checks: int = 20):
        self._every, self._checks = max(1, every), max(2, checks)

    def begin(self):
        self._global_step = tf.compat.v1.train.get_global_step()

    def after_create_session(self, session, coord):
        self._runs, self._last, self._same = 0, None, 0

    def before_run(self, run_context):
        self._runs += 1
        if self._runs % self._every == 0:
            return tf.compat.v1.train.SessionRunArgs(self._global_step)
        return None

    def after_run(self, run_context, run_values):
        if run_values.results is None:
            return
        step = int(run_values.results)
        self._same = self._same + 1 if step == self._last else 0
        self._last = step
        if self._same >= self._checks:
            raise TrainingStalledError(
                f"training stopped: the global step stayed at {step} for {self._same * self._every} "
                "training steps. The model's train op applies no gradients (a model with nothing to "
                "train: every layer trainable=False, or no weights at all), so training would never "
                "end. Make at least one layer trainable.")
