"""Adapted preprocessing layers survive model_to_estimator with their learned state."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import convert

TEXTS = np.array([["the cat sat on the mat"], ["a dog ran far, far away"], ["the dog sat"],
                  ["cats and dogs"], ["\"quoted\" words, with commas"], [""]])
NUMBERS = np.array([[1.0], [2.0], [3.0], [10.0], [20.0], [30.0]], dtype=np.float32)
WORDS = np.array([["red"], ["green"], ["red"], ["blue"], ["unseen"], ["red"]])
INTS = np.array([[3], [7], [3], [9], [100], [7]], dtype=np.int64)


def _estimator_predictions(model, inputs, tmp_path):
    estimator = tf.keras.estimator.model_to_estimator(
        keras_model=convert.graph_safe(model), model_dir=str(tmp_path), checkpoint_format="saver")

    def input_fn():
        return tf.data.Dataset.from_tensor_slices(inputs).batch(len(next(iter(inputs.values()))))
    output = model.output_names[0]
    return np.array([p[output] for p in estimator.predict(input_fn)])


@pytest.mark.parametrize("kind", ["text", "text_counts", "string_lookup", "integer_lookup",
                                  "normalization", "discretization"])
def test_each_adapted_layer_kind_predicts_the_same_through_the_estimator(kind, tmp_path):
    tf.keras.utils.set_random_seed(1)
    if kind == "text":
        layer = tf.keras.layers.TextVectorization(max_tokens=30, output_sequence_length=6)
        layer.adapt(TEXTS)
        head = [tf.keras.layers.Embedding(31, 4), tf.keras.layers.LSTM(3), tf.keras.layers.Dense(1)]
        data, dtype = TEXTS, tf.string
    elif kind == "text_counts":
        layer = tf.keras.layers.TextVectorization(max_tokens=30, output_mode="count",
                                                  pad_to_max_tokens=True)
        layer.adapt(TEXTS)
        head = [tf.keras.layers.Dense(2)]
        data, dtype = TEXTS, tf.string
    elif kind == "string_lookup":
        layer = tf.keras.layers.StringLookup()
        layer.adapt(WORDS)
        head = [tf.keras.layers.Embedding(10, 3), tf.keras.layers.Flatten(), tf.keras.layers.Dense(1)]
        data, dtype = WORDS, tf.string
    elif kind == "integer_lookup":
        layer = tf.keras.layers.IntegerLookup()
        layer.adapt(INTS)
        head = [tf.keras.layers.Embedding(10, 3), tf.keras.layers.Flatten(), tf.keras.layers.Dense(1)]
        data, dtype = INTS, tf.int64
    elif kind == "normalization":
        layer = tf.keras.layers.Normalization()
        layer.adapt(NUMBERS)
        head = [tf.keras.layers.Dense(1, kernel_initializer="ones")]
        data, dtype = NUMBERS, tf.float32
    else:
        layer = tf.keras.layers.Discretization(num_bins=3)
        layer.adapt(NUMBERS)
        head = [tf.keras.layers.Embedding(4, 2), tf.keras.layers.Flatten(), tf.keras.layers.Dense(1)]
        data, dtype = NUMBERS, tf.float32
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,), dtype=dtype), layer] + head)
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))

    # The layer learned something (so the comparison below can tell a lost state).
    assert np.asarray(model.layers[0](data)).std() > 0
    expected = model.predict(data, verbose=0)
    got = _estimator_predictions(model, {model.input_names[0]: data}, tmp_path)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_stock_text_vectorization_fails_without_the_conversion(tmp_path):
    """The failure the conversion exists for, so this test notices if TF changes."""
    layer = tf.keras.layers.TextVectorization(max_tokens=30, output_sequence_length=4)
    layer.adapt(TEXTS)
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,), dtype=tf.string), layer,
                                 tf.keras.layers.Embedding(31, 2), tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(RuntimeError, match="EagerTensor"):
        tf.keras.estimator.model_to_estimator(keras_model=model, model_dir=str(tmp_path))


def test_a_functional_model_with_a_nested_sequential_keeps_weights_and_compile_args():
    tf.keras.utils.set_random_seed(2)
    words = tf.keras.layers.StringLookup()
    words.adapt(WORDS)
    inner = tf.keras.Sequential([tf.keras.layers.Dense(3, activation="relu"), tf.keras.layers.Dense(2)])
    text_in = tf.keras.Input(shape=(1,), dtype=tf.string, name="color")
    number_in = tf.keras.Input(shape=(1,), name="amount")
    x = tf.keras.layers.Concatenate()([tf.cast(words(text_in), tf.float32), number_in])
    model = tf.keras.Model([text_in, number_in], inner(x))
    model.compile(optimizer=tf.keras.optimizers.SGD(0.05),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    safe = convert.graph_safe(model)
    assert safe is not model
    np.testing.assert_allclose(safe.predict([WORDS, NUMBERS], verbose=0),
                               model.predict([WORDS, NUMBERS], verbose=0), rtol=1e-6)
    assert isinstance(safe.optimizer, tf.keras.optimizers.SGD)
    assert safe.optimizer.learning_rate.numpy() == pytest.approx(0.05)
    assert safe.loss.get_config()["from_logits"] is True


@pytest.mark.parametrize("settings, fix", [
    (dict(output_mode="multi_hot"), "pad_to_max_tokens=True"),  # as wide as the vocabulary
    (dict(output_mode="tf_idf", pad_to_max_tokens=True), "output_mode='count'"),  # IDF lost
])
def test_text_outputs_that_cannot_cross_are_refused_with_the_fix(settings, fix):
    layer = tf.keras.layers.TextVectorization(max_tokens=30, **settings)
    layer.adapt(TEXTS)
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,), dtype=tf.string), layer,
                                 tf.keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(convert.ConversionError, match=fix):
        convert.graph_safe(model)


def test_a_model_without_preprocessing_is_returned_as_it_is():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    assert convert.graph_safe(model) is model
