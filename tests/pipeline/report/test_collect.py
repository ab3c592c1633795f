"""The report's data as read from the artifacts (a real run's: tests/e2e/test_local_pipeline.py)."""
from __future__ import annotations

from pipeline.report import collect


def test_calibration_bins_merge_tfma_buckets_by_mean_prediction():
    """On TFMA's own proto, as tfma.load_plots gives it (calibration_histogram_buckets)."""
    from tensorflow_model_analysis.proto import metrics_for_slice_pb2

    histogram = metrics_for_slice_pb2.CalibrationHistogramBuckets()
    for n, labels, predictions in [(10, 1, 1.2), (10, 2, 1.8), (0, 0, 0), (4, 4, 3.8)]:
        bucket = histogram.buckets.add()
        bucket.num_weighted_examples.value = n
        bucket.total_weighted_label.value = labels
        bucket.total_weighted_refined_prediction.value = predictions
    bins = collect.calibration_bins(histogram.buckets)
    assert [tuple(round(v, 6) for v in b) for b in bins] == [(0.15, 0.15, 20.0), (0.95, 1.0, 4.0)]
