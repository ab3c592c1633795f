import numpy as np
import pytest
import tensorflow as tf

from components.trainer import inputs, model as model_lib
from components.trainer.model import HParams


@pytest.fixture(scope="module")
def prep(taxi_records, taxi_features):
    return inputs.learn_preprocessing([taxi_records + "/Split-train/*"], taxi_features)


def test_the_model_takes_exactly_what_the_input_fn_and_the_serving_signature_parse(
        taxi_records, taxi_features, prep):
    """model_to_estimator feeds the model the input_fn's feature dict, and the export the serving
    receiver's: all three key sets are the schema file's features but the label and the
    DEPRECATED ones (read here from the file with TFMD's proto, not through features.py)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    from components.trainer import export
    from pipeline import config as config_lib

    with open(config_lib.DEFAULT_SCHEMA) as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    expected = {f.name for f in schema.feature
                if f.name != config_lib.DEFAULT_LABEL and f.lifecycle_stage != schema_pb2.DEPRECATED}
    model = model_lib.build_keras_model(taxi_features, prep, HParams())
    batch, _ = next(iter(inputs.make_dataset([taxi_records + "/Split-eval/*"], taxi_features, 8,
                                             training=False)))
    with tf.Graph().as_default():
        served = export.serving_input_receiver_fn(taxi_features)().features
    assert set(model.input_names) == set(batch) == set(served) == expected


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


def test_hparams_reject_unknown_names():
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        HParams.from_dict({"learning_rat": 0.1})
    assert HParams.from_dict({"hidden_units": [8, 4]}).hidden_units == (8, 4)
