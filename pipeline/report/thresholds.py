"""The Evaluator's thresholds against the values TFMA measured: per-slice metrics and each check.

Read from the evaluation's own files (TFMA's metrics, validation result and eval_config.json,
and gates.json's notes); TFMA is imported only when they are read.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Dict, List, Optional, Tuple

# The baseline model's name in TFMA's results: TFX's Evaluator names it so (tfma.BASELINE_KEY).
BASELINE_MODEL = "baseline"


@dataclasses.dataclass
class Check:
    """One threshold of the Evaluator, as held against one slice's value."""
    metric: str
    kind: str                   # "value": the model's own value; "change": model minus baseline
    bound: str                  # e.g. ">= 0.6"
    value: Optional[float]
    slice: str                  # "overall" or "feature=value"
    passed: Optional[bool]      # None: not checked (no baseline to compare with)
    note: str = ""
    baseline: str = ""          # what a value bound was computed from, e.g. "always answering ..."

    def describe(self) -> str:
        what = self.metric if self.kind == "value" else f"{self.metric} change vs the baseline"
        where = "" if self.slice == "overall" else f" on slice {self.slice}"
        value = "-" if self.value is None else f"{self.value:+.4f}" if self.kind == "change" else f"{self.value:.4f}"
        # The data's own baseline the bound came from (gates.json), e.g. the majority class's rate.
        why = f" ({self.baseline})" if self.baseline else ""
        return f"{what}{where} {value}, needed {self.bound}{why}"


def slice_name(slice_key) -> str:
    """'overall' or 'feature=value' for a TFMA SliceKey proto."""
    parts = []
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        value = getattr(single, kind) if kind else ""
        parts.append(f"{single.column}={value.decode() if isinstance(value, bytes) else value}")
    return ", ".join(parts) or "overall"


def slice_order(name: str):
    """Sort key for slice names: by feature, then numerically when the value is a number."""
    feature, _, value = name.partition("=")
    try:
        return feature, float(value), ""
    except ValueError:
        return feature, float("inf"), value


def sliced_metrics(evaluation_uri: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{slice name: {"model" | "baseline" | "diff": {metric: value}}} from TFMA's metrics."""
    import tensorflow_model_analysis as tfma  # slow import
    sliced = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        by_model = sliced.setdefault(slice_name(slice_metrics.slice_key), {})
        for key_and_value in slice_metrics.metric_keys_and_values:
            key, value = key_and_value.key, key_and_value.value
            if not value.HasField("double_value"):
                continue
            which = "diff" if key.is_diff else BASELINE_MODEL if key.model_name == BASELINE_MODEL else "model"
            by_model.setdefault(which, {})[key.name] = value.double_value.value
    return sliced


def _metric_name(metric_config) -> str:
    if metric_config.config:
        name = json.loads(metric_config.config).get("name")
        if name:
            return name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", metric_config.class_name).lower()


def _bounds(threshold) -> str:
    """'>= 0.6', '<= 0.3' or both, for a TFMA value or change threshold proto."""
    import tensorflow_model_analysis as tfma

    def number(wrapper):
        return f"{wrapper.value:g}"
    if threshold.DESCRIPTOR.name == "GenericChangeThreshold":
        higher = threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
        if threshold.HasField("absolute"):
            bound = threshold.absolute.value
            return f"{'>=' if higher else '<='} {0.0 if abs(bound) < 1e-9 else bound:g}"
        if threshold.HasField("relative"):
            return f"{'>=' if higher else '<='} {threshold.relative.value:g} (relative)"
        return "?"
    parts = []
    if threshold.HasField("lower_bound"):
        parts.append(f">= {number(threshold.lower_bound)}")
    if threshold.HasField("upper_bound"):
        parts.append(f"<= {number(threshold.upper_bound)}")
    return " and ".join(parts)


def load_eval_config(evaluation_uri: str):
    """The EvalConfig TFMA used for this evaluation (the run's thresholds)."""
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    with open(os.path.join(evaluation_uri, "eval_config.json")) as f:
        data = json.load(f)
    return json_format.ParseDict(data.get("evalConfig", {}), tfma.EvalConfig(), ignore_unknown_fields=True)


def threshold_checks(evaluation_uri: str, metrics=None) -> Tuple[List[Check], bool]:
    """Every threshold of the evaluation on the overall slice, plus every slice that failed one.

    Returns (checks, whether a baseline model was compared). Our thresholds hold on the
    overall slice (per_slice_thresholds); a config whose plain `threshold` holds on every slice
    also works: TFMA's validation result lists the failing slices.
    """
    import tensorflow_model_analysis as tfma
    metrics = metrics if metrics is not None else sliced_metrics(evaluation_uri)
    overall = metrics.get("overall", {})
    has_baseline = bool(overall.get("diff"))
    validation = tfma.load_validation_result(evaluation_uri)
    failed = {}  # (slice, metric, kind) -> failure
    for per_slice in validation.metric_validations_per_slice:
        where = slice_name(per_slice.slice_key)
        for failure in per_slice.failures:
            kind = "change" if failure.metric_key.is_diff else "value"
            failed[(where, failure.metric_key.name, kind)] = failure
    from components.run_parameters import gates as gates_lib
    notes = gates_lib.read_notes(evaluation_uri)
    checks = []
    for spec in load_eval_config(evaluation_uri).metrics_specs:
        for metric_config in spec.metrics:
            name = _metric_name(metric_config)
            thresholds = [metric_config.threshold] if metric_config.HasField("threshold") else []
            thresholds += [t.threshold for t in metric_config.per_slice_thresholds]
            for kind, field in (("value", "value_threshold"), ("change", "change_threshold")):
                threshold = next((t for t in thresholds if t.HasField(field)), None)
                if threshold is None:
                    continue
                bound = _bounds(getattr(threshold, field))
                if kind == "change" and not has_baseline:
                    checks.append(Check(name, kind, bound, None, "overall", None,
                                        "no blessed model yet to compare with"))
                    continue
                value = overall.get("diff" if kind == "change" else "model", {}).get(name)
                why = notes.get(name, {}).get("note", "") if kind == "value" else ""
                checks.append(Check(name, kind, bound, value, "overall",
                                    ("overall", name, kind) not in failed, baseline=why))
    for (where, name, kind), failure in sorted(failed.items(), key=lambda item: (slice_order(item[0][0]),
                                                                                item[0][1:])):
        if where == "overall":
            continue
        value = failure.metric_value.double_value.value if failure.HasField("metric_value") else None
        bound = _bounds(getattr(failure.metric_threshold,
                                "change_threshold" if kind == "change" else "value_threshold"))
        checks.append(Check(name, kind, bound, value, where, False, failure.message))
    return checks, has_baseline
