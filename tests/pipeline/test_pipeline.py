import json

import pytest

import tensorflow_model_analysis as tfma

from components.trainer.features import Label
from pipeline import pipeline as pipeline_lib
from pipeline.config import PipelineConfig


def _build(config=None, label=Label("big_tipper", (0, 1))):
    return pipeline_lib.create_pipeline(
        config or PipelineConfig(), label, pipeline_root="/root", data_root="/data",
        schema_path="/schema.pbtxt", serving_dir="/serving")


def test_graph_has_every_component_in_order_and_trains_only_after_validation():
    pipeline = _build()
    assert sorted(c.id for c in pipeline.components) == sorted(pipeline_lib.COMPONENT_IDS)
    nodes = {c.id: c for c in pipeline.components}
    order = [c.id for c in pipeline.components]  # topological, as the runners execute it
    assert order.index(pipeline_lib.EXAMPLE_VALIDATOR) < order.index(pipeline_lib.TRAINER)
    assert pipeline_lib.EXAMPLE_VALIDATOR in {n.id for n in nodes[pipeline_lib.TRAINER].upstream_nodes}
    assert pipeline_lib.EVALUATOR in {n.id for n in nodes[pipeline_lib.PUSHER].upstream_nodes}
    # The serving check runs between the Evaluator and the Pusher, on the Trainer's model, and the
    # Pusher takes its InfraBlessing (TFX's Pusher refuses an unblessed one), keeping the others.
    assert order.index(pipeline_lib.EVALUATOR) < order.index(pipeline_lib.SERVING_CHECK) < \
        order.index(pipeline_lib.PUSHER)
    check = nodes[pipeline_lib.SERVING_CHECK]
    assert check.inputs["model"].producer_component_id == pipeline_lib.TRAINER
    assert check.outputs["blessing"].type_name == "InfraBlessing"
    pusher_inputs = nodes[pipeline_lib.PUSHER].inputs
    assert pusher_inputs["infra_blessing"].producer_component_id == pipeline_lib.SERVING_CHECK
    assert pusher_inputs["model_blessing"].producer_component_id == pipeline_lib.EVALUATOR
    assert pusher_inputs["model"].producer_component_id == pipeline_lib.TRAINER


def test_the_drift_guard_runs_before_the_trainer_on_the_new_statistics_and_the_served_record():
    pipeline = _build(PipelineConfig(accept_drift=True))
    nodes = {c.id: c for c in pipeline.components}
    order = [c.id for c in pipeline.components]
    assert order.index(pipeline_lib.DRIFT_GUARD) < order.index(pipeline_lib.TRAINER)
    assert pipeline_lib.DRIFT_GUARD in {n.id for n in nodes[pipeline_lib.TRAINER].upstream_nodes}
    guard = nodes[pipeline_lib.DRIFT_GUARD]
    assert guard.inputs["statistics"].producer_component_id == pipeline_lib.STATISTICS_GEN
    assert guard.inputs["schema"].producer_component_id == pipeline_lib.SCHEMA_GEN
    assert guard.inputs["baseline"].producer_component_id == pipeline_lib.LATEST_PUSHED_MODEL
    assert guard.exec_properties["accept_drift"] == 1
    assert _build().components[order.index(pipeline_lib.DRIFT_GUARD)].exec_properties["accept_drift"] == 0
    # The Pusher names the statistics in its push record: the next run's reference.
    statistics = nodes[pipeline_lib.PUSHER].inputs["statistics"]
    assert statistics.producer_component_id == pipeline_lib.STATISTICS_GEN


def test_settings_reach_the_components():
    config = PipelineConfig(train_steps=123, eval_steps=7, label="big_tipper", seed=5,
                            train_hash_buckets=4, eval_hash_buckets=1,
                            hparams=(("dropout", 0.5),), enable_cache=False,
                            beam_args=("--runner=DirectRunner",))
    pipeline = _build(config)
    nodes = {c.id: c for c in pipeline.components}
    trainer = nodes[pipeline_lib.TRAINER].exec_properties
    assert trainer["train_steps"] == 123 and trainer["eval_steps"] == 7
    assert json.loads(trainer["custom_config"]) == {"label": "big_tipper", "hparams": {"dropout": 0.5},
                                                    "seed": 5}
    assert trainer["run_fn"] == "components.trainer.task.run_fn"
    push = json.loads(nodes[pipeline_lib.PUSHER].exec_properties["push_destination"])
    assert push == {"filesystem": {"base_directory": "/serving"}}
    splits = json.loads(nodes[pipeline_lib.EXAMPLE_GEN].exec_properties["output_config"])
    assert splits["split_config"]["splits"] == [{"name": "train", "hash_buckets": 4},
                                                {"name": "eval", "hash_buckets": 1}]
    assert pipeline.enable_cache is False
    assert pipeline.beam_pipeline_args == ["--runner=DirectRunner"]


def test_eval_config_binary_thresholds_and_slices():
    config = pipeline_lib.eval_config(Label("y", (0, 1)), ["hour"], min_accuracy=0.7, max_accuracy_drop=0.02)
    assert config.model_specs[0].label_key == "y"
    assert config.model_specs[0].signature_name == "serving_default"
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[], ["hour"]]
    metrics = {m.class_name: m for m in config.metrics_specs[0].metrics}
    assert {"AUC", "BinaryAccuracy", "BinaryCrossentropy"} <= set(metrics)
    (gate,) = metrics["BinaryAccuracy"].per_slice_thresholds
    assert list(gate.slicing_specs) == [tfma.SlicingSpec()]  # the whole eval split, not each hour
    threshold = gate.threshold
    assert threshold.value_threshold.lower_bound.value == 0.7
    assert abs(threshold.change_threshold.absolute.value + 0.02) < 1e-6
    assert threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER


def test_eval_config_multiclass_uses_sparse_metrics():
    config = pipeline_lib.eval_config(Label("y", (0, 1, 2)), [], 0.5, 0.0)
    names = {m.class_name for m in config.metrics_specs[0].metrics}
    assert "SparseCategoricalAccuracy" in names and "AUC" not in names


def test_the_baseline_is_a_plain_step_that_feeds_the_evaluator_and_warm_start():
    from tfx.dsl.components.common.resolver import Resolver
    pipeline = _build(PipelineConfig(warm_start=True))
    nodes = {c.id: c for c in pipeline.components}
    assert not any(isinstance(c, Resolver) for c in pipeline.components)  # KFP 2.x cannot run one
    baseline = nodes[pipeline_lib.LATEST_PUSHED_MODEL]
    assert baseline.exec_properties["serving_dir"] == "/serving"  # the Pusher's destination
    assert "last_pushed_model" not in baseline.exec_properties  # compiled: no cache key, no cache
    assert (nodes[pipeline_lib.EVALUATOR].inputs["baseline_model"].producer_component_id
            == pipeline_lib.LATEST_PUSHED_MODEL)
    assert nodes[pipeline_lib.TRAINER].inputs["base_model"].producer_component_id == pipeline_lib.LATEST_PUSHED_MODEL
    trainer = next(c for c in _build().components if c.id == pipeline_lib.TRAINER)
    assert "base_model" not in trainer.inputs  # no warm start: no base model


def _schema_features(tmp_path, text):
    from components.trainer.features import features_from_schema, load_schema
    path = tmp_path / "schema.pbtxt"
    path.write_text(text)
    return features_from_schema(load_schema(str(path)), "label")


_LABEL = 'feature { name: "label" type: INT int_domain { min: 0 max: 1 is_categorical: true } }\n'


def test_the_default_slice_is_a_feature_with_a_small_known_domain_never_a_near_unique_column(tmp_path):
    """A categorical column without a vocabulary in the schema (single words, ids) could have a
    slice per row; the default skips it for one with a few known values, and says which."""
    features = _schema_features(tmp_path, _LABEL + """
        feature { name: "word" type: BYTES }
        feature { name: "language" type: BYTES domain: "language" }
        string_domain { name: "language" value: "de" value: "en" value: "fr" }
    """)
    assert not features.get("word").vocabulary and features.get("word").is_categorical
    config = pipeline_lib.with_resolved_slices(PipelineConfig(), features)
    assert config.slice_features == ("language",)
    note = pipeline_lib.slices_note(PipelineConfig().slice_features, config, features)
    assert note.startswith("eval metrics sliced by language (the first feature with a small known set of values: 3)")


def test_without_such_a_feature_the_metrics_are_overall_only_and_the_note_says_so(tmp_path):
    many = " ".join(f'value: "v{i}"' for i in range(pipeline_lib.MAX_DEFAULT_SLICE_VALUES + 1))
    features = _schema_features(tmp_path, _LABEL + f"""
        feature {{ name: "word" type: BYTES }}
        feature {{ name: "city" type: BYTES domain: "city" }}
        string_domain {{ name: "city" {many} }}
        feature {{ name: "fare" type: FLOAT }}
    """)
    config = pipeline_lib.with_resolved_slices(PipelineConfig(), features)
    assert config.slice_features == ()
    assert "overall only" in pipeline_lib.slices_note(PipelineConfig().slice_features, config, features)
    eval_config = pipeline_lib.eval_config(features.label, config.slice_features, 0.5, 0.1)
    assert [s for s in eval_config.slicing_specs if s.feature_keys] == []
    # An explicit --slice is taken as given, large domain or not.
    chosen = pipeline_lib.with_resolved_slices(PipelineConfig(slice_features=("word",)), features)
    assert chosen.slice_features == ("word",)


def test_eval_config_regression_holds_mae_to_a_bound_and_the_baseline():
    label = Label("y", (), regression=True)
    config = pipeline_lib.eval_config(label, [], 0.0, 0.0, min_lift=0.01, max_mae=None, max_mae_rise=0.5)
    metrics = {json.loads(m.config)["name"]: m for m in config.metrics_specs[0].metrics if m.config}
    assert {"mae", "mse", "rmse"} <= set(metrics)
    assert metrics["mae"].class_name == "MeanAbsoluteError" and metrics["rmse"].class_name == "RootMeanSquaredError"
    threshold = metrics["mae"].per_slice_thresholds[0].threshold
    assert threshold.value_threshold.upper_bound.value >= 1e29  # set by the Evaluator from the data
    assert threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
    assert abs(threshold.change_threshold.absolute.value - 0.5) < 1e-6
    explicit = pipeline_lib.eval_config(label, [], 0.0, 0.0, max_mae=3.5)
    mae = next(m for m in explicit.metrics_specs[0].metrics if m.class_name == "MeanAbsoluteError")
    assert mae.per_slice_thresholds[0].threshold.value_threshold.upper_bound.value == 3.5


def test_a_binary_classifiers_auc_must_beat_no_skill_by_the_lift():
    config = pipeline_lib.eval_config(Label("y", (0, 1)), [], 0.0, 0.0, min_lift=0.02)
    auc = next(m for m in config.metrics_specs[0].metrics if m.class_name == "AUC")
    assert auc.per_slice_thresholds[0].threshold.value_threshold.lower_bound.value == pytest.approx(0.52)
