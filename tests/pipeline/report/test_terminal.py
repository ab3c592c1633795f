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
