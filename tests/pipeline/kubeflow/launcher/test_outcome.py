"""The outcome lines a finished run prints, from its steps' outputs."""
from __future__ import annotations

from pipeline.kubeflow.launcher import outcome
from pipeline.kubeflow.launcher.records import Artifact, StepResult
from pipeline.kubeflow.launcher.run import Run


def _outcome_run(blessing_metadata):
    """A run whose ServingCheck and Pusher steps left these artifacts (as run.json records them)."""
    run = Run(job={}, spec_path="p.json", pipeline_root="/r", params={}, form="parameters", path_map=None)
    run.results = {
        "ServingCheck": StepResult("ServingCheck", "ran", 1.0, {"blessing": [
            Artifact("b", {"schemaTitle": "tfx.InfraBlessing"}, "/r/ServingCheck/blessing", blessing_metadata)]}),
        "Pusher": StepResult("Pusher", "ran", 1.0, {"pushed_model": [
            Artifact("p", {"schemaTitle": "tfx.PushedModel"}, "/r/Pusher/pushed_model", {"pushed": 0})]})}
    return run


def test_the_outcome_says_whether_the_serving_check_passed_and_why_not():
    reason = "the model calls tf.py_function (layer 'clean_names'): a SavedModel cannot carry Python code"
    failed = _outcome_run({"blessed": 0, "reason": reason})
    assert outcome.outcome(failed)[1:] == [f"serving check: failed: {reason}",
                                           "pushed: nothing (the model failed the serving check)"]
    assert outcome.serving_check_failed(failed) == reason
    passed = _outcome_run({"blessed": 1, "reason": "", "load_seconds": 0.52, "warmup_requests": 4,
                           "serving_default_p50_ms_batch_1": 1.0, "serving_default_p99_ms_batch_1": 2.0,
                           "serving_default_p50_ms_batch_100": 3.0, "serving_default_p99_ms_batch_100": 4.5})
    assert outcome.outcome(passed)[1] == (
        "serving check: passed: loaded in 0.5 s in a fresh TensorFlow process, 4 warm-up requests answered "
        "through both signatures; p50/p99 1.0/2.0 ms at batch 1, 3.0/4.5 ms at batch 100")
    assert outcome.serving_check_failed(passed) is None
