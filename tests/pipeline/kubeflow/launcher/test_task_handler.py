"""A failed step's error: its name, exit code, what it leaves unrun and its log's last lines."""
from __future__ import annotations

import types

from pipeline.kubeflow.launcher import task_handler
from pipeline.kubeflow.launcher.task_handler import StepFailed


def test_a_failed_step_names_itself_its_code_what_is_not_run_and_its_log_tail(tmp_path):
    log = tmp_path / "Trainer.log"
    log.write_text("".join(f"line {i}\n" for i in range(30)))
    tasks = {"Gen": {}, "Trainer": {"dependentTasks": ["Gen"]}, "Evaluator": {"dependentTasks": ["Trainer"]},
             "Pusher": {"dependentTasks": ["Evaluator"]}}
    run = types.SimpleNamespace(tasks=tasks, log_path=lambda task: str(log))
    failed = task_handler.step_failed(run, "Trainer", 3)
    assert (failed.task, failed.exit_code, failed.log_path, failed.not_run) == ("Trainer", 3, str(log),
                                                                                ["Evaluator", "Pusher"])
    assert failed.log_tail.splitlines() == [f"line {i}" for i in range(5, 30)]
    assert str(failed).splitlines()[:3] == [
        "step Trainer failed with exit code 3; not run: Evaluator, Pusher.",
        f"Last lines of its log ({log}):", "  line 5"]
    assert str(StepFailed("Pusher", 1, "/none.log", "(no log)", [])) == (
        "step Pusher failed with exit code 1.\nLast lines of its log (/none.log):\n  (no log)")
    assert task_handler.step_failed(types.SimpleNamespace(tasks=tasks, log_path=lambda task: "/no/such.log"),
                                    "Pusher", 1).log_tail == "(no log)"
