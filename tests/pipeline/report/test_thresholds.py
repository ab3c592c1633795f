"""The Evaluator's thresholds as the report and the terminal name them (a real evaluation's checks:
tests/e2e/test_local_pipeline.py)."""
from __future__ import annotations

from pipeline.report import thresholds


def test_the_baseline_models_name_is_the_one_tfx_gives_it_in_tfma():
    import tensorflow_model_analysis as tfma
    assert thresholds.BASELINE_MODEL == tfma.constants.BASELINE_KEY


def test_slices_sort_by_feature_then_by_number():
    names = ["hour=12", "company=B", "hour=3", "company=A", "hour=n/a"]
    assert sorted(names, key=thresholds.slice_order) == ["company=A", "company=B", "hour=3", "hour=12", "hour=n/a"]


def test_a_check_says_the_value_the_bound_and_where_it_came_from():
    check = thresholds.Check("accuracy", "value", ">= 0.6", 0.55, "hour=3", False,
                             baseline="always answering the majority class: 0.58 + 0.02")
    assert check.describe() == ("accuracy on slice hour=3 0.5500, needed >= 0.6 "
                                "(always answering the majority class: 0.58 + 0.02)")
    change = thresholds.Check("auc", "change", ">= 0", -0.0123, "overall", False)
    assert change.describe() == "auc change vs the baseline -0.0123, needed >= 0"
