"""The guard that stops a training whose global step does not move (a model with nothing to train)."""
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
        estimator.train(_input_fn, max_steps=50, hooks=task.train_hooks(estimator.config, 50, 8))
    assert time.monotonic() - started < 120


def test_a_trainable_model_trains_to_its_last_step_with_the_guard_on(tmp_path):
    config = task.run_config(str(tmp_path / "trainable"), seed=1, train_steps=300)
    estimator = task.estimator_from_keras(_model(trainable=True), config)
    estimator.train(_input_fn, max_steps=300, hooks=task.train_hooks(estimator.config, 300, 8))
    assert estimator.get_variable_value("global_step") == 300
