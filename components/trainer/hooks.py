"""The Trainer's training hooks: progress lines, checkpoints without a second `session.run`
per step, and the guard that stops a training whose global step does not move."""
from __future__ import annotations

import logging
import time

import tensorflow as tf

from components.trainer.constants import PROGRESS_LOGGER


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


class TrainingProgressHook(tf.compat.v1.train.SessionRunHook):
    """Logs step, loss and examples/s every tenth of the training (and at least every `seconds`).

    The loss is fetched only on the steps that are logged, so training is not slowed down.
    """

    def __init__(self, train_steps: int, batch_size: int, seconds: float = 20.0):
        self._train_steps = max(1, int(train_steps))
        self._every = max(1, self._train_steps // 10)
        self._batch_size = batch_size
        self._seconds = seconds
        self._logger = logging.getLogger(PROGRESS_LOGGER)

    def begin(self):
        self._global_step = tf.compat.v1.train.get_global_step()
        losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.LOSSES)
        self._loss = losses[-1] if losses else None  # the Estimator adds its training loss last

    def after_create_session(self, session, coord):
        self._step = int(session.run(self._global_step))
        self._next = (self._step // self._every + 1) * self._every
        self._last_step, self._last_time = self._step, time.time()

    def before_run(self, run_context):
        self._step += 1
        now = time.time()
        if self._step >= self._next or now - self._last_time >= self._seconds:
            # Speed over the steps before this one: checkpoints saved after the last step
            # do not count as training time.
            self._speed = ((self._step - 1 - self._last_step) * self._batch_size
                           / max(now - self._last_time, 1e-9))
            self._last_time = now
            fetches = {"step": self._global_step}
            if self._loss is not None:
                fetches["loss"] = self._loss
            return tf.compat.v1.train.SessionRunArgs(fetches)
        return None

    def after_run(self, run_context, run_values):
        if not run_values.results:
            return
        step = int(run_values.results["step"]) + 1  # the global step as it was before this step ran
        loss = run_values.results.get("loss")
        self._logger.info("step %d/%d  loss %s  %.0f examples/s", step, self._train_steps,
                          "-" if loss is None else f"{float(loss):.4f}", self._speed)
        self._step, self._last_step = step, step - 1
        self._next = (step // self._every + 1) * self._every


class CheckpointEveryStepsHook(tf.compat.v1.train.CheckpointSaverHook):
    """TF's CheckpointSaverHook without its second `session.run` after every training step.

    The stock hook allows for a `session.run` that loops over up to 1,000,000 steps (TPU),
    so after every step it runs the session again to read the global step and decide whether
    to save. On CPU and GPU the Estimator runs one step per `session.run`; told so, the hook
    decides from the global step it already fetched with the step. Same checkpoints, same
    saver (the Estimator's, from the SAVERS collection: see `task.estimator_from_keras`); training
    ran 10-20% more steps/s in `bench/trainer_profile.py`'s setting (BENCHMARKS.md).
    """

    def __init__(self, config: tf.estimator.RunConfig):
        super().__init__(config.model_dir, save_steps=config.save_checkpoints_steps,
                         save_graph_def=config.checkpoint_save_graph_def)
        self._set_steps_per_run(1)


def train_hooks(config: tf.estimator.RunConfig, train_steps: int, batch_size: int) -> list:
    """Progress lines and the stalled-step guard everywhere; checkpoints on the chief only, as the
    Estimator would."""
    hooks = [TrainingProgressHook(train_steps, batch_size), GlobalStepMustAdvanceHook()]
    if config.is_chief and (config.save_checkpoints_steps or 0) > 0:
        hooks.append(CheckpointEveryStepsHook(config))
    return hooks
