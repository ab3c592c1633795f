"""The binding rules: which feature feeds which input of a user's model."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from components.trainer.binding import (RULE_KERAS_NAME, RULE_MAP, RULE_NAME, RULE_SINGLE,
                                        RULE_STACKED, BindingError, ModelInput, bind, feeds_raw,
                                        model_feed, model_inputs)
from components.trainer.features import Feature, FeatureSet, Kind, Label

LABEL = Label("y", (0, 1))
NUMERIC = FeatureSet((Feature("fare", Kind.NUMERIC), Feature("miles", Kind.NUMERIC),
                      Feature("hour", Kind.CATEGORICAL_INT)), LABEL)
MIXED = FeatureSet((Feature("review", Kind.TEXT), Feature("source", Kind.CATEGORICAL_STRING),
                    Feature("stars", Kind.NUMERIC)), LABEL)
ONE_TEXT = FeatureSet((Feature("review", Kind.TEXT),), LABEL)


def inp(name, dtype="float32", shape=(None, 1)):
    return ModelInput(name, dtype, shape)


def test_an_input_named_after_a_feature_gets_it():
    b = bind([inp("review", "string"), inp("stars")], MIXED)
    assert [(x.input.name, x.features, x.rule) for x in b.inputs] == [
        ("review", ("review",), RULE_NAME), ("stars", ("stars",), RULE_NAME)]
    assert b.unused_features == ("source",)


def test_keras_layer_input_names_bind_to_the_feature():
    b = bind([inp("review_input", "string"), inp("stars_input")], MIXED)
    assert [(x.features, x.rule) for x in b.inputs] == [(("review",), RULE_KERAS_NAME),
                                                       (("stars",), RULE_KERAS_NAME)]


def test_input_map_binds_and_wins_over_the_other_rules():
    b = bind([inp("a", "string"), inp("stars")], MIXED, {"a": "source", "stars": "stars"})
    assert [(x.input.name, x.features, x.rule) for x in b.inputs] == [
        ("a", ("source",), RULE_MAP), ("stars", ("stars",), RULE_MAP)]


def test_a_single_input_takes_the_one_feature_whatever_keras_called_it():
    for name in ("input_1", "input_17", "text_vectorization_input"):
        b = bind([inp(name, "string")], ONE_TEXT)
        assert b.inputs[0].features == ("review",) and b.inputs[0].rule == RULE_SINGLE


def test_a_single_input_takes_all_numeric_features_stacked_in_schema_order():
    b = bind([inp("dense_input", shape=(None, 3))], NUMERIC)
    assert b.inputs[0].features == ("fare", "miles", "hour") and b.inputs[0].rule == RULE_STACKED
    with pytest.raises(BindingError, match=r"has shape \(None, 2\) but is fed 3 feature"):
        bind([inp("dense_input", shape=(None, 2))], NUMERIC)


def test_a_single_input_with_several_non_numeric_features_is_refused_with_the_fix():
    with pytest.raises(BindingError) as error:
        bind([inp("input_1", "string")], MIXED)
    message = str(error.value)
    assert "--input-map input_1=FEATURE" in message
    assert "input_1 (string, shape (None, 1))" in message
    assert "review (text), source (string), stars (number)" in message
    assert "rules, in order" in message


def test_unbound_inputs_of_a_multi_input_model_are_named():
    with pytest.raises(BindingError) as error:
        bind([inp("words", "string"), inp("stars")], MIXED)
    assert "no feature for the model input(s) ['words']" in str(error.value)
    assert "--input-map words=FEATURE" in str(error.value)


def test_the_input_map_fix_guesses_features_from_the_inputs_names_without_binding_them():
    """The classic model_to_estimator trap: one Input per column, named unlike the columns."""
    inputs = [inp("fare_feature"), inp("in_miles"), inp("Hour"), inp("extra")]
    with pytest.raises(BindingError) as error:
        bind(inputs, NUMERIC)
    message = str(error.value)
    assert ("--input-map fare_feature=fare --input-map in_miles=miles --input-map Hour=hour "
            "--input-map extra=FEATURE (the features named there are guessed") in message
    # Two inputs that both look like one feature: no guess for either.
    with pytest.raises(BindingError) as error:
        bind([inp("fare_a"), inp("fare_b")], NUMERIC)
    assert "--input-map fare_a=FEATURE --input-map fare_b=FEATURE." in str(error.value)
    # The longest name wins: 'trip_miles' over 'miles'.
    trip = FeatureSet((Feature("miles", Kind.NUMERIC), Feature("trip_miles", Kind.NUMERIC)), LABEL)
    with pytest.raises(BindingError, match="--input-map trip_miles_in=trip_miles --input-map x=FEATURE"):
        bind([inp("trip_miles_in"), inp("x")], trip)


def test_a_single_string_input_into_a_text_vectorization_gets_the_text_feature_in_the_fix():
    vectorizer = tf.keras.layers.TextVectorization(max_tokens=10, output_mode="multi_hot")
    vectorizer.adapt(["a film", "a book"])
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,), dtype=tf.string), vectorizer, tf.keras.layers.Dense(1)])
    name = model_inputs(model)[0].name
    with pytest.raises(BindingError, match=rf"Fix: say it with --input-map {name}=review \(the schema's one "
                                           "text feature, as the input goes into a TextVectorization\)"):
        bind(model_inputs(model), MIXED)
    # Any other string input: no guess.
    lookup = tf.keras.Sequential([tf.keras.Input(shape=(1,), dtype=tf.string),
                                  tf.keras.layers.StringLookup(vocabulary=["a"]), tf.keras.layers.Dense(1)])
    with pytest.raises(BindingError, match=rf"--input-map {model_inputs(lookup)[0].name}=FEATURE, or mark"):
        bind(model_inputs(lookup), MIXED)


def test_a_width_mismatch_names_the_input_to_map():
    with pytest.raises(BindingError, match=r"--input-map normalization_input=FEATURE"):
        bind([inp("normalization_input", shape=(None, 1))], NUMERIC)


@pytest.mark.parametrize("input_map, words", [
    ({"nope": "review"}, "the model has no input 'nope'"),
    ({"input_1": "price"}, "'price' is not a model feature"),
])
def test_input_map_entries_must_name_a_real_input_and_feature(input_map, words):
    with pytest.raises(BindingError, match=words):
        bind([inp("input_1", "string")], MIXED, input_map)


def test_a_string_feature_bound_to_a_numeric_input_or_the_reverse_is_refused():
    with pytest.raises(BindingError, match="input 'stars' takes float32 values but is bound to the "
                                           "string feature 'source'"):
        bind([inp("review", "string"), inp("stars")], MIXED, {"stars": "source"})
    with pytest.raises(BindingError, match="input 'review' takes int64 values but is bound to the "
                                           "text feature 'review'"):
        bind([inp("review", "int64")], ONE_TEXT)


def _embedding_first():
    """TensorFlow's "Basic text classification" model: it starts at the Embedding, its text
    vectorized outside it (in a dataset.map) before fit."""
    layers = tf.keras.layers
    return tf.keras.Sequential([layers.Embedding(100, 4), layers.GlobalAveragePooling1D(), layers.Dense(1)])


def test_model_inputs_knows_which_layers_take_each_input_also_inside_a_nested_model():
    assert model_inputs(_embedding_first())[0].consumers == ("Embedding",)
    words = tf.keras.Input(shape=(5,), dtype="int64", name="words")
    stars = tf.keras.Input(shape=(1,), name="stars")
    x = tf.keras.layers.concatenate([
        tf.keras.layers.Flatten()(tf.keras.layers.Embedding(10, 2)(words)), tf.keras.layers.Dense(2)(stars)])
    functional = tf.keras.Model([words, stars], tf.keras.layers.Dense(1)(x))
    assert [(i.name, i.consumers) for i in model_inputs(functional)] == [
        ("words", ("Embedding",)), ("stars", ("Dense",))]
    nested = tf.keras.Sequential([tf.keras.Input(shape=(None,)), _embedding_first()])
    assert model_inputs(nested)[0].consumers == ("Embedding",)


@pytest.mark.parametrize("features, mapped", [(ONE_TEXT, False), (MIXED, False), (MIXED, True)])
def test_a_model_fed_token_ids_made_outside_it_is_told_to_take_the_vectorizer_in(features, mapped):
    inputs = model_inputs(_embedding_first())
    with pytest.raises(BindingError) as error:
        bind(inputs, features, {inputs[0].name: "review"} if mapped else {})
    message = str(error.value)
    assert "goes straight into an Embedding, which takes token ids" in message
    assert "raw column ('review': text)" in message
    assert "dtype=tf.string), vectorize_layer, <your layers from the Embedding on>])" in message


def test_a_numeric_input_bound_to_strings_is_told_preprocessing_outside_the_model_is_not_done():
    dense_first = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    with pytest.raises(BindingError) as error:
        bind(model_inputs(dense_first), MIXED, {model_inputs(dense_first)[0].name: "source"})
    assert "preprocessing done outside the model (a dataset.map) is not done here" in str(error.value)
    assert "Embedding" not in str(error.value)


def test_one_feature_cannot_feed_two_inputs():
    with pytest.raises(BindingError, match=r"\['stars'\] would feed more than one input"):
        bind([inp("a"), inp("stars")], MIXED, {"a": "stars"})


def test_an_input_of_rank_three_is_refused():
    with pytest.raises(BindingError, match=r"shape \(None, 1, 4\)"):
        bind([inp("review", "string", (None, 1, 4))], ONE_TEXT)


def test_apply_feeds_each_input_its_shape_and_dtype():
    b = bind([inp("all", shape=(None, 3))], NUMERIC)
    parsed = {"fare": tf.constant([[1.5], [np.nan]]), "miles": tf.constant([[2.0], [3.0]]),
              "hour": tf.constant([[7.0], [8.0]])}
    fed = b.apply(parsed)
    np.testing.assert_array_equal(fed["all"].numpy(), [[1.5, 2.0, 7.0], [np.nan, 3.0, 8.0]])

    b = bind([inp("hour", "int64", (None,))], FeatureSet((Feature("hour", Kind.CATEGORICAL_INT),), LABEL))
    fed = b.apply({"hour": tf.constant([[7.0], [np.nan]])})
    assert fed["hour"].dtype == tf.int64 and fed["hour"].numpy().tolist() == [7, -1]


def test_model_inputs_reads_the_built_models_own_names_and_the_binding_round_trips_to_json():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(1)])
    inputs = model_inputs(model)
    assert len(inputs) == 1 and inputs[0].name == model.input_names[0]
    assert inputs[0].shape == (None, 3) and inputs[0].dtype == "float32"
    saved = json.loads(bind(inputs, NUMERIC).to_json())
    assert saved["inputs"][0]["features"] == ["fare", "miles", "hour"]
    assert saved["inputs"][0]["rule"] == RULE_STACKED


SPREADSHEET = FeatureSet((Feature("Sepal length (cm)", Kind.NUMERIC, key="sepal_length_cm"),
                          Feature("Pétale – couleur", Kind.CATEGORICAL_STRING, key="petale_couleur"),
                          Feature("Price ($)", Kind.NUMERIC, key="price")), LABEL)


def test_inputs_named_after_the_derived_identifiers_or_the_csv_names_bind_to_the_csv_names():
    b = bind([inp("sepal_length_cm"), inp("petale_couleur_input", "string"), inp("Price ($)")], SPREADSHEET)
    assert [(x.input.name, x.features, x.rule) for x in b.inputs] == [
        ("sepal_length_cm", ("Sepal length (cm)",), RULE_NAME),
        ("petale_couleur_input", ("Pétale – couleur",), RULE_KERAS_NAME),
        ("Price ($)", ("Price ($)",), RULE_NAME)]


def test_the_binding_shows_both_names_and_input_map_takes_either():
    b = bind([inp("a"), inp("b", "string")], SPREADSHEET, {"a": "Sepal length (cm)", "b": "petale_couleur"})
    assert [x.features for x in b.inputs] == [("Sepal length (cm)",), ("Pétale – couleur",)]
    lines = b.describe()
    assert lines[0] == "a (float32, shape (None, 1)) <- Sepal length (cm) [sepal_length_cm]   (--input-map)"
    assert lines[-1] == "features not used by the model: Price ($) [price]"
    saved = json.loads(b.to_json())
    assert saved["inputs"][1]["features"] == ["Pétale – couleur"]
    assert saved["feature_keys"] == {"Sepal length (cm)": "sepal_length_cm", "Pétale – couleur": "petale_couleur",
                                     "Price ($)": "price"}


def test_model_feed_gives_a_users_model_its_bound_raw_inputs_and_the_built_in_model_its_keys():
    """The one decision the input_fn and the serving receiver share (both call model_feed)."""
    features = FeatureSet((Feature("Price ($)", Kind.NUMERIC, key="price"),
                           Feature("hour", Kind.CATEGORICAL_INT)), LABEL)
    values = {"Price ($)": tf.constant([1.5, 2.0]), "hour": tf.constant([7, -(2**63)], tf.int64)}
    assert not feeds_raw(None)
    assert sorted(model_feed(values, features, None)) == ["hour", "price"]
    b = bind([inp("h", shape=(None, 1))], features, {"h": "hour"})
    assert feeds_raw(b)
    fed = model_feed(values, features, b)
    assert list(fed) == ["h"]
    np.testing.assert_array_equal(fed["h"].numpy(), [[7.0], [np.nan]])  # raw: a missing int is NaN


def test_the_trap_is_real_model_to_estimator_fails_on_such_a_model(tmp_path):
    """Why a user's model is bound before training: an input name the data does not have
    (here Keras's `dense_input`) surfaces only inside Estimator training."""
    sequential = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(1,), name="dense")])
    sequential.compile(optimizer="sgd", loss="mse")
    estimator = tf.keras.estimator.model_to_estimator(keras_model=sequential, model_dir=str(tmp_path))

    def input_fn():
        return tf.data.Dataset.from_tensors(({"fare": [[1.0]]}, [[1.0]]))
    with pytest.raises(Exception, match="dense_input"):
        estimator.train(input_fn, steps=1)
