import numpy as np
import pytest
import tensorflow as tf

from components.trainer import inputs, model as model_lib
from components.trainer.model import HParams, InputNameMismatch


@pytest.fixture(scope="module")
def prep(taxi_records, taxi_features):
    return inputs.learn_preprocessing([taxi_records + "/Split-train/*"], taxi_features)


def test_model_inputs_are_named_after_the_schema_features(taxi_features, prep):
    model = model_lib.build_keras_model(taxi_features, prep, HParams())
    assert sorted(model.input_names) == sorted(taxi_features.names)
    assert model.output_names == [model_lib.OUTPUT_NAME]
    model_lib.check_input_names(model, taxi_features.names)  # holds by construction
    layer_types = {type(layer).__name__ for layer in model.layers}
    assert {"StringLookup", "IntegerLookup", "Embedding", "Dropout",
            "ImputeAndNormalize"} <= layer_types
    assert model.optimizer is not None and model.loss is not None  # compiled


def test_model_predicts_probabilities_on_a_parsed_batch(taxi_records, taxi_features, prep):
    model = model_lib.build_keras_model(taxi_features, prep, HParams())
    features, _ = next(iter(inputs.make_dataset([taxi_records + "/Split-eval/*"], taxi_features, 16,
                                                training=False)))
    probabilities = model(features, training=False).numpy()
    assert probabilities.shape == (16, 1)
    assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_imputation_marks_missing_numbers():
    layer = model_lib.ImputeAndNormalize(mean=2.0, variance=4.0)
    out = layer(tf.constant([[4.0], [float("nan")]])).numpy()
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.0, 1.0]])


def test_sequential_model_mismatch_names_missing_unexpected_and_expected(taxi_features):
    sequential = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,), name="dense")])
    with pytest.raises(InputNameMismatch) as error:
        model_lib.check_input_names(sequential, taxi_features.names)
    message = str(error.value)
    assert "missing from the input_fn: ['dense_input']" in message
    assert "unexpected (not model inputs): ['company'," in message
    assert "model expects (keras_model.input_names): ['dense_input']" in message
    assert "Sequential" in message and "tf.keras.Input" in message


def test_the_trap_is_real_model_to_estimator_fails_on_such_a_model(tmp_path):
    """Without the check, the mismatch surfaces only inside Estimator training."""
    sequential = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(1,), name="dense")])
    sequential.compile(optimizer="sgd", loss="mse")
    estimator = tf.keras.estimator.model_to_estimator(keras_model=sequential, model_dir=str(tmp_path))

    def input_fn():
        return tf.data.Dataset.from_tensors(({"fare": [[1.0]]}, [[1.0]]))
    with pytest.raises(Exception, match="dense_input"):
        estimator.train(input_fn, steps=1)


def test_hparams_reject_unknown_names():
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        HParams.from_dict({"learning_rat": 0.1})
    assert HParams.from_dict({"hidden_units": [8, 4]}).hidden_units == (8, 4)
