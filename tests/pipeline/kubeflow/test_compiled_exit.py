"""The compiled exit handler as run-compiled runs it: after the pipeline's tasks, with the final
status KFP would give it and the run parameters."""
from __future__ import annotations

import json
import os

from pipeline import config as config_lib
from pipeline.kubeflow.launcher.run import prepare_run


def test_the_exit_task_runs_after_a_failure_with_kfps_final_status_and_the_run_parameters(compiled_path, tmp_path):
    """The exit handler's own command, replaced by a tiny program that keeps the ExecutorInput it gets."""
    from components.exit_handler import EXIT_HANDLER
    from pipeline.kubeflow import compiled_exit
    with open(compiled_path) as f:
        job = json.load(f)
    keep = ("import json, os, sys; invocation = json.loads(sys.argv[1]); "
            "open(os.path.join(os.path.dirname(invocation['outputs']['outputFile']), 'got.json'), 'w')"
            ".write(json.dumps(invocation))")
    job["pipelineSpec"]["deploymentSpec"]["executors"][f"{EXIT_HANDLER}_executor"]["container"].update(
        command=["python", "-c", keep], args=["{{$}}"])
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    run = prepare_run(str(path), str(tmp_path / "root"), ["notify_urls=http://127.0.0.1:9/x"])
    assert EXIT_HANDLER not in run.tasks and config_lib.TRAINER in run.tasks  # the sub-DAG's steps, flattened
    failure = RuntimeError("step CsvExampleGen failed with exit code 1; not run: Trainer.")
    result = compiled_exit.run_exit_task(run, failure)
    assert result.state == "ran"
    got = json.loads((tmp_path / "root" / "run-compiled" / run.run_id / EXIT_HANDLER / "got.json").read_text())
    parameters = got["inputs"]["parameters"]  # the vertex form
    status = json.loads(parameters["final_status"]["stringValue"])
    assert status == {"state": "FAILED", "pipelineTaskName": "tfx-dag", "pipelineJobResourceName": run.run_id,
                      "error": {"code": 2, "message": str(failure)}}
    assert parameters["notify_urls"] == {"stringValue": "http://127.0.0.1:9/x"}
    assert parameters["data_root"] == {"stringValue": os.path.join(config_lib.PROJECT_ROOT, "data/taxi")}
    assert parameters["serving_dir"] == {"stringValue": str(tmp_path / "root" / "serving_model")}
    created = parameters["run_created"]["stringValue"]
    assert abs(exit_handler_time(created) - run.started) < 1.5
    record = json.loads((tmp_path / "root" / "run-compiled" / run.run_id / "run.json").read_text())
    assert record["tasks"][EXIT_HANDLER]["state"] == "ran"
    # Without notify_urls it would post nothing: recorded as skipped, not started.
    quiet = prepare_run(str(path), str(tmp_path / "quiet"))
    assert compiled_exit.run_exit_task(quiet, None).state == "skipped"
    assert not (tmp_path / "quiet" / "run-compiled" / quiet.run_id / EXIT_HANDLER).exists()


def exit_handler_time(text):
    from pipeline.kubeflow import exit_handler
    return exit_handler.parse_time(text)
