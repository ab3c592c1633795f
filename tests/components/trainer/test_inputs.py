import numpy as np

from components.trainer import inputs
from components.trainer.features import Kind


def test_input_fn_yields_features_keyed_by_schema_names_and_class_ids(taxi_records, taxi_features):
    dataset = inputs.make_input_fn([taxi_records + "/Split-train/*"], taxi_features, batch_size=32,
                                   training=True, seed=1)()
    features, labels = next(iter(dataset))
    assert sorted(features) == sorted(taxi_features.names)
    assert all(t.shape == (32, 1) for t in features.values())
    assert labels.shape == (32, 1) and set(np.unique(labels.numpy())) <= {0.0, 1.0}


def test_eval_input_fn_reads_every_example_once(taxi_records, taxi_features):
    dataset = inputs.make_dataset([taxi_records + "/Split-eval/*"], taxi_features, 64, training=False)
    total = sum(int(labels.shape[0]) for _, labels in dataset)
    assert total == 501  # a third of every 10th row of the 15,002-row CSV


def test_learn_preprocessing_ignores_missing_values(taxi_records, taxi_features):
    prep = inputs.learn_preprocessing([taxi_records + "/Split-train/*"], taxi_features)
    numeric = [f.name for f in taxi_features.features if f.kind is Kind.NUMERIC]
    assert set(prep.moments) == set(numeric)
    mean, variance = prep.moments["pickup_latitude"]  # often missing in the data
    assert 41.5 < mean < 42.2 and variance > 0
    assert "Dispatch Taxi Affiliation" in prep.vocabularies["company"]
    assert "" not in prep.vocabularies["company"]  # a missing value is not a category
    assert "payment_type" not in prep.vocabularies  # the schema's domain is used instead


def test_no_dataset_the_trainer_iterates_starts_tf_datas_autotune_thread(taxi_records, taxi_features):
    """That thread's shutdown can stall the end of training for up to 60 s (inputs.without_autotune_thread)."""
    import os
    pattern = [os.path.join(taxi_records, "Split-train", "*")]
    for training in (True, False):
        dataset = inputs.make_dataset(pattern, taxi_features, 32, training=training)
        assert dataset.options().autotune.enabled is False
    raw = inputs.raw_dataset(pattern, taxi_features, 32)
    assert raw.options().autotune.enabled is False
    # A user's function that maps the dataset further keeps the option.
    assert raw.map(lambda batch: batch).options().autotune.enabled is False
