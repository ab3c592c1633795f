"""What the report tests share: a synthetic run summary, and user text that holds markup."""
from __future__ import annotations

from pipeline.report import metadata, thresholds

# Text from the user's data, schema, config or paths, as a page must show it: as text.
HOSTILE = "<script>alert(1)</script>&co"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&amp;co"
# In the JSON data element, "<!--<script>" would turn an unescaped "</script>" that follows into
# text and swallow the rest of the page (the HTML parser's script-escape states).
COMMENT = "<!--<script>"


def run_summary(**changes) -> metadata.RunSummary:
    """A run that was not blessed: accuracy below its bound overall and on slice hour=3."""
    fields = dict(
        states={"CsvExampleGen": "ran", "Trainer": "ran", "Evaluator": "ran", "Pusher": "ran"},
        metrics={"accuracy": 0.55, "auc": 0.71, "loss": 0.6, "example_count": 400.0},
        blessed=False, pushed=False, pushed_path=None, evaluation_uri="/nowhere",
        checks=[thresholds.Check("accuracy", "value", ">= 0.6", 0.55, "overall", False),
                thresholds.Check("accuracy", "change", ">= 0", None, "overall", None,
                                 "no blessed model yet to compare with"),
                thresholds.Check("accuracy", "value", ">= 0.6", 0.4, "hour=3", False, "too low")],
        has_baseline=False)
    fields.update(changes)
    return metadata.RunSummary(**fields)
