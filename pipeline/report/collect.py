"""The report's data, read from the run's artifacts (found through ML Metadata).

StatisticsGen's statistics and ExampleValidator's anomalies (the data), the Trainer's TensorBoard
summaries (training), TFMA's metrics and plots (evaluation), the run's summary (the decision),
the label's classes from the model's schema. page.py lays these values out.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import time
from typing import Dict, List, Optional, Tuple

import tensorflow_model_analysis as tfma

from pipeline import pipeline as pipeline_lib
from pipeline.config import PipelineConfig
from pipeline.report import metadata, thresholds

SHOWN_METRICS = ("example_count", "accuracy", "auc", "loss", "precision", "recall", "mae", "rmse", "mse")


@dataclasses.dataclass
class FeatureStats:
    name: str
    kind: str                                   # "numeric" or "categorical"
    missing: float                              # share of examples without a value
    bars: List[Tuple[str, float]]               # histogram (numeric) or top values (categorical)


@dataclasses.dataclass
class SplitStats:
    rows: int
    features: Dict[str, FeatureStats]


@dataclasses.dataclass
class Curves:
    roc: List[Tuple[float, float]]              # (false positive rate, true positive rate)
    pr: List[Tuple[float, float]]               # (recall, precision)
    calibration: List[Tuple[float, float, float]]  # (mean prediction, observed positive rate, examples)
    confusion: Dict[Tuple[int, int], float] = dataclasses.field(default_factory=dict)  # multi-class:
    # (actual class id, predicted class id) -> examples, at TFMA's default (argmax) threshold


@dataclasses.dataclass
class ReportData:
    run_name: str
    when: str
    summary: metadata.RunSummary
    splits: Dict[str, SplitStats]
    anomalies: Optional[List[str]]                 # None: ExampleValidator left no output
    training: Dict[str, List[Tuple[int, float]]]   # series name -> [(step, value)]
    sliced: Dict[str, Dict[str, Dict[str, float]]]
    curves: Dict[str, Curves]                      # "model" / "baseline" -> overall curves
    classes: List[str] = dataclasses.field(default_factory=list)  # the label's classes, by class id


def _uri(store, executions, node: str, type_name: str) -> Optional[str]:
    if node not in executions:
        return None
    artifact = metadata.artifact_of_type(store, metadata.output_artifacts(store, executions[node].id),
                                         type_name)
    return artifact.uri if artifact is not None and os.path.isdir(artifact.uri) else None


def split_statistics(statistics_uri: str) -> Dict[str, SplitStats]:
    """Rows, per-feature missing share and distribution of each split (StatisticsGen output)."""
    import tensorflow_data_validation as tfdv
    splits = {}
    for path in sorted(glob.glob(os.path.join(statistics_uri, "Split-*", "FeatureStats.pb"))):
        split = os.path.basename(os.path.dirname(path))[len("Split-"):]
        dataset = tfdv.load_stats_binary(path).datasets[0]
        rows = int(dataset.num_examples)
        features = {}
        for feature in dataset.features:
            name = ".".join(feature.path.step) or feature.name
            if feature.HasField("num_stats"):
                stats = feature.num_stats
                standard = [h for h in stats.histograms if h.type == h.STANDARD]
                bars = ([(f"{b.low_value:.4g} to {b.high_value:.4g}", b.sample_count)
                         for b in standard[0].buckets] if standard else [])
                kind = "numeric"
            elif feature.HasField("string_stats"):
                stats = feature.string_stats
                buckets = stats.rank_histogram.buckets or stats.top_values
                bars = [(getattr(b, "label", getattr(b, "value", "")), getattr(b, "sample_count", 0)
                         or getattr(b, "frequency", 0)) for b in list(buckets)[:20]]
                kind = "categorical"
            else:
                continue
            common = stats.common_stats
            # CsvExampleGen writes an empty cell as a feature with no value, which TFDV counts
            # as present: for single-valued features, the examples without a value are missing.
            missing = (rows - common.tot_num_values if common.max_num_values <= 1 else common.num_missing)
            features[name] = FeatureStats(name, kind, missing / rows if rows else 0.0, bars)
        splits[split] = SplitStats(rows, features)
    return splits


def anomalies(anomalies_uri: Optional[str]) -> Optional[List[str]]:
    """'[split] feature: description' for each anomaly ExampleValidator found; None without its output."""
    if not anomalies_uri:
        return None
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    found = []
    for path in sorted(glob.glob(os.path.join(anomalies_uri, "Split-*", "SchemaDiff.pb"))):
        split = os.path.basename(os.path.dirname(path))[len("Split-"):]
        parsed = anomalies_pb2.Anomalies()
        with open(path, "rb") as f:
            parsed.ParseFromString(f.read())
        for feature, info in sorted(parsed.anomaly_info.items()):
            found.append(f"[{split}] {feature}: {info.description or info.short_description}")
        if parsed.HasField("dataset_anomaly_info"):
            info = parsed.dataset_anomaly_info
            found.append(f"[{split}] dataset: {info.description or info.short_description}")
    return found


def training_curves(model_run_uri: Optional[str]) -> Dict[str, List[Tuple[int, float]]]:
    """Loss over steps (training), steps/s, and eval metrics at each checkpoint (Estimator summaries)."""
    if not model_run_uri:
        return {}
    import tensorflow as tf
    curves: Dict[str, Dict[int, float]] = {}
    for path in sorted(glob.glob(os.path.join(model_run_uri, "**", "events.out.tfevents.*"), recursive=True)):
        is_eval = os.path.dirname(path) != model_run_uri.rstrip("/")
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.WhichOneof("value") != "simple_value":
                    continue
                tag = value.tag
                if not is_eval and tag.split("_")[0] == "loss":
                    name = "training loss"
                elif not is_eval and tag == "global_step/sec":
                    name = "steps/s"
                elif is_eval and tag in SHOWN_METRICS:
                    name = f"eval {tag}"
                else:
                    continue
                curves.setdefault(name, {})[int(event.step)] = float(value.simple_value)
    return {name: sorted(points.items()) for name, points in curves.items()}


def overall_curves(evaluation_uri: Optional[str]) -> Dict[str, Curves]:
    """ROC, precision-recall and calibration of the overall slice, per model (TFMA's plots)."""
    if not evaluation_uri:
        return {}
    curves = {}
    for slice_plots in tfma.load_plots(evaluation_uri):
        if slice_plots.slice_key.single_slice_keys:
            continue
        for key_and_value in slice_plots.plot_keys_and_values:
            which = (thresholds.BASELINE_MODEL if key_and_value.key.model_name == thresholds.BASELINE_MODEL
                     else "model")
            entry = curves.setdefault(which, Curves([], [], []))
            value = key_and_value.value
            if value.HasField("confusion_matrix_at_thresholds"):
                matrices = value.confusion_matrix_at_thresholds.matrices
                entry.roc = sorted({(m.false_positive_rate, m.recall) for m in matrices})
                entry.pr = sorted({(m.recall, m.precision) for m in matrices
                                   if m.true_positives + m.false_positives > 0})
            if value.HasField("calibration_histogram_buckets"):
                entry.calibration = calibration_bins(value.calibration_histogram_buckets.buckets)
            if value.HasField("multi_class_confusion_matrix_at_thresholds"):
                matrices = value.multi_class_confusion_matrix_at_thresholds.matrices
                if matrices:
                    entry.confusion = {(e.actual_class_id, e.predicted_class_id): e.num_weighted_examples
                                       for e in matrices[0].entries}
    return curves


def calibration_bins(buckets, bins: int = 10) -> List[Tuple[float, float, float]]:
    """TFMA's fine calibration buckets merged into `bins` equal-width prediction bins: over [0, 1]
    for probabilities, over the predictions' range when they leave it (a regression)."""
    totals = [[0.0, 0.0, 0.0] for _ in range(bins)]  # examples, sum of labels, sum of predictions
    means = [b.total_weighted_refined_prediction.value / b.num_weighted_examples.value
             for b in buckets if b.num_weighted_examples.value > 0]
    low, high = (0.0, 1.0) if not means or (min(means) >= 0 and max(means) <= 1) else (min(means), max(means))
    width = (high - low) or 1.0
    for bucket in buckets:
        count = bucket.num_weighted_examples.value
        if count <= 0:
            continue
        mean_prediction = bucket.total_weighted_refined_prediction.value / count
        index = min(bins - 1, max(0, int((mean_prediction - low) / width * bins)))
        totals[index][0] += count
        totals[index][1] += bucket.total_weighted_label.value
        totals[index][2] += bucket.total_weighted_refined_prediction.value
    return [(predicted / count, labels / count, count) for count, labels, predicted in totals if count > 0]


def report_data(config: PipelineConfig, run_index: int = 0, since: Optional[float] = None) -> ReportData:
    """Everything the report shows, for the run at `run_index` (0: the newest); with `since`
    (epoch seconds), only a run started since then."""
    store = metadata.open_store(config.metadata_path)
    runs = metadata.run_executions(store, config.pipeline_name)
    if run_index >= len(runs):
        raise LookupError(f"no run number {run_index + 1} in {config.metadata_path} "
                          f"({len(runs)} runs recorded)")
    run, executions = runs[run_index]
    if since is not None and run.create_time_since_epoch / 1000 < since - 1:
        raise LookupError(f"no run recorded in {config.metadata_path} since {time.ctime(since)}")
    summary = metadata.summarize_run(store, executions)
    created = run.create_time_since_epoch / 1000
    evaluation_uri = summary.evaluation_uri
    model_uri = _uri(store, executions, pipeline_lib.TRAINER, "Model")
    statistics_uri = _uri(store, executions, pipeline_lib.STATISTICS_GEN, "ExampleStatistics")
    return ReportData(
        run_name=time.strftime("run-%Y%m%d-%H%M%S", time.localtime(created)) + f"-{run.id}",
        when=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
        summary=summary,
        splits=split_statistics(statistics_uri) if statistics_uri else {},
        anomalies=anomalies(_uri(store, executions, pipeline_lib.EXAMPLE_VALIDATOR, "ExampleAnomalies")),
        training=training_curves(_uri(store, executions, pipeline_lib.TRAINER, "ModelRun")),
        sliced=thresholds.sliced_metrics(evaluation_uri) if evaluation_uri else {},
        curves=overall_curves(evaluation_uri),
        classes=_classes(model_uri),
    )


def _classes(model_uri: Optional[str]) -> List[str]:
    """The label's classes, from the schema the model carries (assets.extra/)."""
    if not model_uri:
        return []
    from pipeline.serving import predict
    try:
        return [str(c) for c in predict.load_model_features(os.path.join(model_uri, "Format-Serving")).label.classes]
    except Exception:  # pylint: disable=broad-except  # an older model without its schema
        return []

