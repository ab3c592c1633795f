"""The run as the terminal shows it (the summary lines of a real run: tests/e2e/test_local_pipeline.py)."""
from __future__ import annotations

from pipeline.report import terminal, thresholds
from tests.pipeline.report.conftest import run_summary


def test_blessing_line_names_each_failed_threshold_with_value_and_bound():
    line = terminal.blessing_line(run_summary())
    assert line == ("blessed: no: accuracy 0.5500, needed >= 0.6; "
                    "accuracy on slice hour=3 0.4000, needed >= 0.6")
    ok = run_summary(blessed=True, checks=[thresholds.Check("accuracy", "value", ">= 0.6", 0.9, "overall", True)])
    assert terminal.blessing_line(ok) == ("blessed: yes (accuracy 0.9000, needed >= 0.6; "
                                          "no blessed model yet, so no comparison with a baseline)")


def test_an_imbalanced_label_failing_only_the_majority_class_bound_is_told_what_to_do():
    majority = "always answering the majority class 'False': 0.9644, + 0.01"
    accuracy = thresholds.Check("accuracy", "value", ">= 0.974444", 0.9644, "overall", False, baseline=majority)
    auc = thresholds.Check("auc", "value", ">= 0.51", 0.81, "overall", True)
    line = terminal.blessing_line(run_summary(checks=[accuracy, auc]))
    assert line.startswith("blessed: no: accuracy 0.9644, needed >= 0.974444 (always answering")
    assert line.endswith("The majority class is 96.4% of the eval split, so accuracy can hardly beat always "
                         "answering it, while the AUC passed; to bless on AUC alone, rerun with "
                         "--min-accuracy 0 (or lower --min-lift)")
    # A balanced label, or a failed AUC, gets no such advice.
    balanced = thresholds.Check("accuracy", "value", ">= 0.61", 0.55, "overall", False,
                                baseline="always answering the majority class '0': 0.6000, + 0.01")
    assert "--min-accuracy 0" not in terminal.blessing_line(run_summary(checks=[balanced, auc]))
    failed_auc = thresholds.Check("auc", "value", ">= 0.51", 0.5, "overall", False)
    assert "--min-accuracy 0" not in terminal.blessing_line(run_summary(checks=[accuracy, failed_auc]))
