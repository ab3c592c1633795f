"""What a user's function returned, checked: a compiled Sequential or functional Keras model, with
weights to train, whose one output fits the label."""
from __future__ import annotations

import os

import pytest
import tensorflow as tf

from components.trainer import user_model, user_model_checks
from components.trainer.user_model import UserModelError


def _compiled(model):
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


@pytest.mark.parametrize("returned, words", [
    (None, r"returned None \(no `return model`\?\)"),
    ("a string", "returned a builtins.str"),
    (lambda: tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)]), "is not compiled"),
])
def test_what_is_not_a_compiled_keras_model_is_refused(tmp_path, returned, words):
    spec = user_model.ModelSpec("proto.py", "build", str(tmp_path), "0")
    value = returned() if callable(returned) else returned
    with pytest.raises(UserModelError, match=words):
        user_model_checks.check_model(value, spec)


def test_a_subclassed_model_is_refused_with_the_reason():
    class Mine(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    with pytest.raises(UserModelError, match="subclassed Keras model") as error:
        user_model_checks.check_model(_compiled(Mine()), spec)
    assert f'Mine is a subclassed Keras model (File "{__file__}", line 32);' in str(error.value)


@pytest.mark.parametrize("units, classes, ok", [(1, 2, True), (2, 2, True), (3, 2, False),
                                                (4, 4, True), (1, 4, False)])
def test_the_output_width_must_fit_the_label(units, classes, ok):
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(units)])
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    if ok:
        head = user_model_checks.output_head(model, spec, classes)
        assert head.units == units and head.from_logits
    else:
        with pytest.raises(UserModelError, match=f"does not fit the label's {classes} classes"):
            user_model_checks.output_head(model, spec, classes)


def _head_model(units, activation=None, loss="mse"):
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss)
    return model


@pytest.mark.parametrize("loss", ["mse", "mae", "mean_absolute_error", "huber",
                                  tf.keras.losses.Huber(), tf.keras.losses.MeanSquaredError()])
def test_a_linear_unit_with_a_regression_loss_fits_a_regression_label(loss):
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    head = user_model_checks.output_head(_head_model(1, loss=loss), spec, 0, regression=True)
    assert head.regression and head.units == 1 and not head.from_logits


@pytest.mark.parametrize("units, activation, loss, words", [
    (3, "softmax", "sparse_categorical_crossentropy", ["output has shape (None, 3)", "Dense(1)"]),
    (1, "softmax", "mse", ["softmax activation", "squashes", "Dense(1) (no activation)"]),
    (1, "sigmoid", "mse", ["sigmoid activation"]),
    (1, None, "binary_crossentropy", ["classification loss", "'mse', 'mae', 'huber'"]),
])
def test_a_classifier_head_or_loss_on_a_regression_label_is_refused_with_the_fix(units, activation, loss, words):
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    with pytest.raises(UserModelError) as error:
        user_model_checks.output_head(_head_model(units, activation, loss), spec, 0, regression=True)
    for word in words + ["is_categorical"]:
        assert word in str(error.value)


@pytest.mark.parametrize("loss", ["mse", "mean_absolute_error", tf.keras.losses.Huber()])
def test_a_regression_loss_on_a_label_with_classes_is_refused_with_the_fix(loss):
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    with pytest.raises(UserModelError, match="a regression loss, but the label has 2 classes") as error:
        user_model_checks.output_head(_head_model(1, "sigmoid", loss), spec, 2)
    assert "binary_crossentropy" in str(error.value) and "FLOAT" in str(error.value)


def test_one_hot_losses_are_refused_since_labels_are_class_ids():
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    spec = user_model.ModelSpec("proto.py", "build", os.getcwd(), "0")
    with pytest.raises(UserModelError, match="sparse_categorical_crossentropy"):
        user_model_checks.output_head(model, spec, 3)


def test_a_model_with_nothing_to_train_is_refused_naming_the_frozen_layers(tmp_path):
    spec = user_model.ModelSpec("proto.py", "build", str(tmp_path), "0")
    inputs = tf.keras.Input(shape=(3,), name="x")
    base = tf.keras.layers.Dense(4, name="pretrained_base")
    head = tf.keras.layers.Dense(1, activation="sigmoid", name="head")
    model = tf.keras.Model(inputs, head(base(inputs)))
    user_model_checks.check_trainable(model, spec)  # trainable: fine
    base.trainable = False
    user_model_checks.check_trainable(model, spec)  # a frozen base with a trainable head: fine
    head.trainable = False
    with pytest.raises(UserModelError, match=r"nothing to train: every layer with weights is frozen "
                                             r"\(trainable=False: \['pretrained_base', 'head'\]\)"):
        user_model_checks.check_trainable(model, spec)
    no_weights = tf.keras.Model(inputs, tf.keras.layers.Lambda(lambda t: tf.reduce_mean(t, axis=1, keepdims=True))(inputs))
    with pytest.raises(UserModelError, match="it has no weights at all"):
        user_model_checks.check_trainable(no_weights, spec)


CUSTOM_LAYERS = '''\
import tensorflow as tf


class TokenAndPositionEmbedding(tf.keras.layers.Layer):  # keras.io's, without get_config
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = tf.keras.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)

    def call(self, x):
        return self.token_emb(x)


class Configured(tf.keras.layers.Layer):  # the same, as Keras's guide writes a custom layer
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = tf.keras.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim

    def call(self, x):
        return self.token_emb(x)

    def get_config(self):
        config = super().get_config()
        config.update({"maxlen": self.maxlen, "vocab_size": self.vocab_size, "embed_dim": self.embed_dim})
        return config


def model(layer_class, nested=False):
    inputs = tf.keras.Input(shape=(4,), dtype="int64")
    x = layer_class(4, 10, 2)(inputs)
    if nested:  # Keras's layers inside a Sequential inside the model: rebuilt layer by layer too
        x = tf.keras.Sequential([tf.keras.Input(shape=(4, 2)), tf.keras.layers.Dense(2)])(x)
    outputs = tf.keras.layers.Dense(1, activation="sigmoid")(tf.keras.layers.Flatten()(x))
    return tf.keras.Model(inputs, outputs)
'''


def test_a_custom_layer_without_get_config_is_refused_with_its_file_line_and_the_get_config_to_write(
        tmp_path, monkeypatch):
    (tmp_path / "layers_of_mine.py").write_text(CUSTOM_LAYERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    import layers_of_mine
    spec = user_model.ModelSpec("proto.py", "build", str(tmp_path), "0")
    with pytest.raises(UserModelError) as error:
        user_model_checks.check_rebuildable(layers_of_mine.model(layers_of_mine.TokenAndPositionEmbedding), spec)
    message = str(error.value)
    assert (f"(TokenAndPositionEmbedding (File \"{tmp_path / 'layers_of_mine.py'}\", line 4)) cannot be "
            "rebuilt from its config") in message
    assert "NotImplementedError: Layers with arguments in `__init__` must override `get_config`" in message
    assert "def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):" in message
    assert 'config.update({"maxlen": self.maxlen, "vocab_size": self.vocab_size, "embed_dim": self.embed_dim})' in message
    # Written as Keras's guide says, it passes; so do Keras's own layers, nested models included.
    user_model_checks.check_rebuildable(layers_of_mine.model(layers_of_mine.Configured, nested=True), spec)
    # It is what model_to_estimator needs: the refused model fails there, the fixed one trains.
    def train_one_step(layer_class, model_dir):
        keras_model = _compiled(layers_of_mine.model(layer_class))
        estimator = tf.keras.estimator.model_to_estimator(keras_model=keras_model, model_dir=str(model_dir))
        name = keras_model.input_names[0]
        estimator.train(lambda: tf.data.Dataset.from_tensors(
            ({name: tf.zeros([2, 4], tf.int64)}, tf.zeros([2, 1]))), steps=1)
    with pytest.raises(NotImplementedError, match="must override `get_config`"):
        train_one_step(layers_of_mine.TokenAndPositionEmbedding, tmp_path / "refused")
    train_one_step(layers_of_mine.Configured, tmp_path / "fixed")
