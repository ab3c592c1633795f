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


def _adapted(layer, data):
    layer.adapt(data)
    return layer


def _dense_head():
    return [tf.keras.layers.Dense(2, activation="relu"), tf.keras.layers.Dense(1)]


def _embedding_head(size):
    return [tf.keras.layers.Embedding(size, 3), tf.keras.layers.Flatten(), tf.keras.layers.Dense(1)]


L = tf.keras.layers
# kind -> (layer maker, head, data, input dtype). Wide outputs (one_hot, multi_hot, count, tf_idf)
# are left unpadded, as a tutorial writes them: their width is the adapted vocabulary's.
KINDS = {
    "text": (lambda: _adapted(L.TextVectorization(max_tokens=30, output_sequence_length=6), TEXTS),
             lambda: [L.Embedding(31, 4), L.LSTM(3), L.Dense(1)], TEXTS, tf.string),
    "text_counts_padded": (lambda: _adapted(L.TextVectorization(max_tokens=30, output_mode="count",
                                                                pad_to_max_tokens=True), TEXTS),
                           _dense_head, TEXTS, tf.string),
    "text_multi_hot": (lambda: _adapted(L.TextVectorization(output_mode="multi_hot"), TEXTS),
                       _dense_head, TEXTS, tf.string),
    "text_count": (lambda: _adapted(L.TextVectorization(output_mode="count"), TEXTS),
                   _dense_head, TEXTS, tf.string),
    "text_tf_idf_bigrams": (lambda: _adapted(L.TextVectorization(ngrams=2, output_mode="tf_idf"), TEXTS),
                            _dense_head, TEXTS, tf.string),
    "text_tf_idf_padded": (lambda: _adapted(L.TextVectorization(max_tokens=40, output_mode="tf_idf",
                                                                pad_to_max_tokens=True), TEXTS),
                           _dense_head, TEXTS, tf.string),
    "text_characters": (lambda: _adapted(L.TextVectorization(split="character",
                                                             output_sequence_length=12), TEXTS),
                        lambda: [L.Embedding(40, 4), L.Conv1D(3, 3), L.GlobalMaxPooling1D(), L.Dense(1)],
                        TEXTS, tf.string),
    "string_lookup": (lambda: _adapted(L.StringLookup(), WORDS), lambda: _embedding_head(10),
                      WORDS, tf.string),
    "string_lookup_one_hot": (lambda: _adapted(L.StringLookup(output_mode="one_hot"), WORDS),
                              _dense_head, WORDS, tf.string),
    "string_lookup_multi_hot": (lambda: _adapted(L.StringLookup(output_mode="multi_hot"), WORDS),
                                _dense_head, WORDS, tf.string),
    "string_lookup_count": (lambda: _adapted(L.StringLookup(output_mode="count"), WORDS),
                            _dense_head, WORDS, tf.string),
    "string_lookup_tf_idf": (lambda: _adapted(L.StringLookup(output_mode="tf_idf"), WORDS),
                             _dense_head, WORDS, tf.string),
    "integer_lookup": (lambda: _adapted(L.IntegerLookup(), INTS), lambda: _embedding_head(10),
                       INTS, tf.int64),
    "integer_lookup_one_hot": (lambda: _adapted(L.IntegerLookup(output_mode="one_hot"), INTS),
                               _dense_head, INTS, tf.int64),
    "integer_lookup_multi_hot": (lambda: _adapted(L.IntegerLookup(output_mode="multi_hot"), INTS),
                                 _dense_head, INTS, tf.int64),
    "integer_lookup_count": (lambda: _adapted(L.IntegerLookup(output_mode="count"), INTS),
                             _dense_head, INTS, tf.int64),
    "integer_lookup_tf_idf": (lambda: _adapted(L.IntegerLookup(output_mode="tf_idf"), INTS),
                              _dense_head, INTS, tf.int64),
    "normalization": (lambda: _adapted(L.Normalization(), NUMBERS),
                      lambda: [L.Dense(1, kernel_initializer="ones")], NUMBERS, tf.float32),
    "discretization": (lambda: _adapted(L.Discretization(num_bins=3), NUMBERS),
                       lambda: _embedding_head(4), NUMBERS, tf.float32),
    "discretization_one_hot": (lambda: _adapted(L.Discretization(num_bins=4, output_mode="one_hot"),
                                                NUMBERS), _dense_head, NUMBERS, tf.float32),
    "hashing": (lambda: L.Hashing(num_bins=8), lambda: _embedding_head(8), WORDS, tf.string),
    "hashing_one_hot": (lambda: L.Hashing(num_bins=8, output_mode="one_hot"), _dense_head,
                        WORDS, tf.string),
    "category_encoding": (lambda: L.CategoryEncoding(num_tokens=101, output_mode="one_hot"),
                          _dense_head, INTS, tf.int64),
    "rescaling": (lambda: L.Rescaling(scale=1 / 30.0, offset=-0.5), _dense_head, NUMBERS, tf.float32),
}


@pytest.fixture(scope="module")
def every_kind_through_the_estimator(tmp_path_factory):
    """One functional model with a branch per layer kind (its own input and output), converted
    and run through one Estimator: each kind's eager and Estimator predictions, and its layer's
    eager and graph-safe outputs. One graph instead of one per kind keeps this quick."""
    tf.keras.utils.set_random_seed(1)
    inputs, outputs, layers, data = [], [], {}, {}
    for kind in sorted(KINDS):
        make_layer, head, values, dtype = KINDS[kind]
        layers[kind] = make_layer()
        x = tf.keras.Input(shape=(1,), dtype=dtype, name=f"in_{kind}")
        y = layers[kind](x)
        for layer in head()[:-1]:
            y = layer(y)
        inputs.append(x)
        outputs.append(L.Dense(1, name=f"out_{kind}")(y))
        data[f"in_{kind}"] = values
    model = tf.keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    eager = dict(zip(model.output_names, model.predict(data, verbose=0)))
    safe = convert.graph_safe(model)
    safe_layers = {layer.name: layer for layer in safe.layers}
    # Layer outputs now: model_to_estimator leaves the Keras objects built before it unusable.
    layer_outputs = {kind: (np.asarray(layer(data[f"in_{kind}"])),
                            np.asarray(safe_layers[layer.name](data[f"in_{kind}"])))
                     for kind, layer in layers.items()}
    estimator = tf.keras.estimator.model_to_estimator(
        keras_model=safe, model_dir=str(tmp_path_factory.mktemp("kinds")), checkpoint_format="saver")
    predictions = list(estimator.predict(
        lambda: tf.data.Dataset.from_tensor_slices(data).batch(len(TEXTS))))
    through = {name: np.array([p[name] for p in predictions]) for name in model.output_names}
    return layer_outputs, eager, through


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_layer_kind_predicts_the_same_through_the_estimator(kind, every_kind_through_the_estimator):
    layer_outputs, eager, through = every_kind_through_the_estimator
    original, copy = layer_outputs[kind]
    # The layer learned something (so the comparison below can tell a lost state).
    assert original.std() > 0
    # The graph-safe copy outputs what the eager layer does, as wide.
    assert copy.shape == original.shape
    np.testing.assert_allclose(copy, original, rtol=1e-6)
    np.testing.assert_allclose(through[f"out_{kind}"], eager[f"out_{kind}"], rtol=1e-5, atol=1e-6)


def test_tf_idf_weights_are_in_the_frozen_copys_config():
    layer = _adapted(L.TextVectorization(ngrams=2, output_mode="tf_idf"), TEXTS)
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,), dtype=tf.string), layer, L.Dense(1)])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    config = convert.graph_safe(model).layers[0].get_config()
    vocabulary = layer.get_vocabulary()
    assert config["vocabulary"] == vocabulary[1:]  # without the OOV token
    idf = np.asarray(layer._lookup_layer.idf_weights)  # pylint: disable=protected-access
    np.testing.assert_allclose(config["idf_weights"], idf[1:len(vocabulary)], rtol=1e-6)
    assert config["vocabulary_size"] == len(vocabulary)
    # By hand: "the" appears in 2 of 6 texts; Keras's IDF is log(1 + n / (1 + df)).
    assert config["idf_weights"][config["vocabulary"].index("the")] == pytest.approx(np.log(1 + 6 / 3))


def test_hashed_crossing_of_two_inputs_predicts_the_same_through_the_estimator(tmp_path):
    tf.keras.utils.set_random_seed(3)
    color = tf.keras.Input(shape=(1,), dtype=tf.string, name="color")
    code = tf.keras.Input(shape=(1,), dtype=tf.int64, name="code")
    crossed = L.HashedCrossing(num_bins=16, output_mode="one_hot")((color, code))
    model = tf.keras.Model([color, code], L.Dense(1)(L.Dense(3, activation="relu")(crossed)))
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True))
    expected = model.predict([WORDS, INTS], verbose=0)
    got = _estimator_predictions(model, {"color": WORDS, "code": INTS}, tmp_path)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_structured_data_style_model_predicts_the_same_through_the_estimator(tmp_path):
    """keras.io's structured data classification: one Input per column, adapted one-hot lookups
    and a Normalization, concatenated, unpadded."""
    tf.keras.utils.set_random_seed(4)
    columns = {"color": WORDS, "code": INTS, "amount": NUMBERS}
    color = tf.keras.Input(shape=(1,), dtype=tf.string, name="color")
    code = tf.keras.Input(shape=(1,), dtype=tf.int64, name="code")
    amount = tf.keras.Input(shape=(1,), name="amount")
    encoded = [_adapted(L.StringLookup(output_mode="one_hot"), WORDS)(color),
               _adapted(L.IntegerLookup(output_mode="one_hot"), INTS)(code),
               _adapted(L.Normalization(), NUMBERS)(amount)]
    x = L.Dropout(0.5)(L.Dense(4, activation="relu")(L.concatenate(encoded)))
    model = tf.keras.Model([color, code, amount], L.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    expected = model.predict([WORDS, INTS, NUMBERS], verbose=0)
    got = _estimator_predictions(model, columns, tmp_path)
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


def test_a_model_without_preprocessing_is_returned_as_it_is():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    assert convert.graph_safe(model) is model
