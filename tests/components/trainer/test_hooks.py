"""The Trainer's hooks: the guard that stops a training whose global step does not move (a model
with nothing to train), the checkpoint hook without a second session run, the chief-only checkpoints."""
import json
import os
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import hooks, task


def _model(trainable: bool) -> tf.keras.Model:
    inputs = tf.keras.Input(shape=(1,), name="x")
    dense = tf.keras.layers.Dense(1, activation="sigmoid", name="head")
    dense.trainable = trainable
    model = tf.keras.Model(inputs, dense(inputs))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _input_fn():
    features = {"x": np.linspace(0, 1, 64, dtype=np.float32)[:, None]}
    labels = (features["x"] > 0.5).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((features, labels)).batch(8).repeat()


def test_a_frozen_models_training_stops_with_the_reason_instead_of_looping(tmp_path):
    config = task.run_config(str(tmp_path / "frozen"), seed=1, train_steps=50)
    estimator = task.estimator_from_keras(_model(trainable=False), config)
    started = time.monotonic()
    with pytest.raises(hooks.TrainingStalledError, match="global step stayed at 0 .* Make at least one layer trainable"):
        estimator.train(_input_fn, max_steps=50, hooks=hooks.train_hooks(estimator.config, 50, 8))
    assert time.monotonic() - started < 120


def test_a_trainable_model_trains_to_its_last_step_with_the_guard_on(tmp_path):
    config = task.run_config(str(tmp_path / "trainable"), seed=1, train_steps=300)
    estimator = task.estimator_from_keras(_model(trainable=True), config)
    estimator.train(_input_fn, max_steps=300, hooks=hooks.train_hooks(estimator.config, 300, 8))
    assert estimator.get_variable_value("global_step") == 300


def _one_weight_estimator(model_dir):
    x = tf.keras.Input(shape=(1,), name="x")
    model = tf.keras.Model(x, tf.keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    config = task.run_config(str(model_dir), seed=1, train_steps=40).replace(save_checkpoints_steps=15)
    return task.estimator_from_keras(model, config)


def _one_batch():
    return tf.data.Dataset.from_tensors(({"x": tf.ones([4, 1])}, tf.ones([4, 1]))).repeat()


def _checkpoint_hook_in_stack(frame) -> bool:
    """True when a checkpoint hook's `after_run` is on the stack: the `session.run` is the hook's own."""
    while frame is not None:
        if (frame.f_code.co_name == "after_run"
                and isinstance(frame.f_locals.get("self"), tf.compat.v1.train.CheckpointSaverHook)):
            return True
        frame = frame.f_back
    return False


def test_run_fns_checkpoint_hook_saves_what_the_stock_one_saves_with_half_the_session_runs(
        tmp_path, monkeypatch):
    from tensorflow.python.client import session as session_lib
    calls = []
    original_run = session_lib.BaseSession.run

    def counting_run(self, *args, **kwargs):
        calls.append(_checkpoint_hook_in_stack(sys._getframe(1)))
        return original_run(self, *args, **kwargs)

    monkeypatch.setattr(session_lib.BaseSession, "run", counting_run)
    runs, hook_runs, checkpoints = {}, {}, {}
    for name in ("stock", "run_fn"):
        estimator = _one_weight_estimator(tmp_path / name)
        used = hooks.train_hooks(estimator.config, 40, 4) if name == "run_fn" else []
        del calls[:]
        estimator.train(_one_batch, max_steps=40, hooks=used)
        runs[name], hook_runs[name] = len(calls), sum(calls)
        state = tf.train.get_checkpoint_state(str(tmp_path / name))
        checkpoints[name] = [os.path.basename(p) for p in state.all_model_checkpoint_paths]
    # keep_checkpoint_max=2 of the saves at steps 0, 15, 30 and 40.
    assert checkpoints["run_fn"] == checkpoints["stock"] == ["model.ckpt-30", "model.ckpt-40"]
    # The stock hook runs the session a second time after each of the 40 steps; run_fn's runs it
    # only around its saves (at most a read and the save at each of the 4). Counted by who
    # called, since the session's total runs vary by a few with the machine's load (CI once
    # counted 94 against 60).
    assert hook_runs["stock"] >= 40, hook_runs
    assert hook_runs["run_fn"] <= 2 * 4, hook_runs
    assert runs["stock"] > runs["run_fn"], runs


def test_only_the_chief_of_a_cluster_writes_checkpoints(monkeypatch):
    cluster = {"chief": ["localhost:1"], "worker": ["localhost:2"], "ps": ["localhost:3"]}
    for role, writes in (("chief", True), ("worker", False)):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": role, "index": 0}}))
        config = task.run_config("/tmp/unused", seed=1, train_steps=10)
        kinds = [type(h) for h in hooks.train_hooks(config, 10, 4)]
        assert (hooks.CheckpointEveryStepsHook in kinds) is writes, role
        assert hooks.TrainingProgressHook in kinds
