"""Earlier runs' records under the pipeline root, read back as the resolvers' history."""
from __future__ import annotations

from pipeline.kubeflow.launcher import records
from pipeline.kubeflow.launcher.records import Artifact
from pipeline.kubeflow.launcher.run import prepare_run
from tests.pipeline.kubeflow.launcher.specs import MODEL_TYPE


def test_earlier_runs_records_are_the_resolver_history(spec_file, tmp_path):
    root = tmp_path / "root"
    first = prepare_run(spec_file, str(root))
    first.results["Trainer"] = records.StepResult(
        "Trainer", "ran", 1.0, {"model": [Artifact("m-first", MODEL_TYPE, "/r/m-first", {})]})
    first.save()
    second = prepare_run(spec_file, str(root))
    earlier = records.load_records(str(root), exclude_run=second.run_id)
    assert [a.name for a in records.recorded_artifacts(earlier)] == ["m-first"]
