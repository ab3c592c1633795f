"""The Kubeflow exit handler's message, from a final status (KFP's, Argo's) and the run's push records."""
from __future__ import annotations

import json
import time

import pytest

from components.latest_pushed_model import records
from pipeline.kubeflow import exit_handler
from tests.pipeline.test_notify import _Hook

CREATED = "2026-12-01T02:15:00Z"
CREATED_EPOCH = 1796091300.0  # the same instant, computed independently: date -u -d 2026-12-01T02:15:00Z +%s


@pytest.fixture
def hook():
    server = _Hook()
    yield server
    server.close()


def _served(tmp_path, version: str, pushed_at: float) -> str:
    """A serving dir with one whole version and its push record, as the Pusher leaves them."""
    serving = tmp_path / "serving_model"
    (serving / version).mkdir(parents=True)
    (serving / version / "saved_model.pb").write_bytes(b"x")
    records.write_record(str(serving), {"version": version, "pushed_at": pushed_at,
                                        "pushed_destination": str(serving / version)})
    return str(serving)


def _fields(serving_dir):
    return dict(pipeline="keras-tfx", run_id="run-7", data_root="/app/data/taxi", output_dir="gs://b/root",
                serving_dir=serving_dir, created=CREATED)


def test_creation_times_are_read_as_utc():
    assert exit_handler.parse_time(CREATED) == CREATED_EPOCH
    assert exit_handler.parse_time("2026-12-01T02:15:00.123456+00:00") == CREATED_EPOCH
    assert exit_handler.parse_time("{{$.pipeline_job_create_time_utc}}") is None


def test_a_succeeded_run_that_pushed_says_pushed_with_the_version(tmp_path):
    serving = _served(tmp_path, "1796091400", CREATED_EPOCH + 100)
    status = exit_handler.parse_final_status(json.dumps(
        {"state": "SUCCEEDED", "pipelineTaskName": "tfx-dag", "pipelineJobResourceName": "run-7", "error": {}}))
    body = exit_handler.build_message(status, **_fields(serving))
    assert body["status"] == "pushed" and body["versions"] == {"pushed": "1796091400", "serving": "1796091400"}
    assert body["text"] == "keras-tfx on /app/data/taxi: pushed version 1796091400"
    assert status["run"] == "run-7"


def test_a_succeeded_run_that_pushed_nothing_names_the_version_still_served(tmp_path):
    serving = _served(tmp_path, "1796000000", CREATED_EPOCH - 3600)  # pushed an hour before this run
    # Open-source KFP 2.x's driver gives ML Metadata's execution state, not the task state.
    body = exit_handler.build_message(exit_handler.parse_final_status('{"state": "COMPLETE"}'), **_fields(serving))
    assert body["status"] == "not_pushed" and body["versions"]["serving"] == "1796000000"
    assert "not blessed, failed the serving check, or is the one already served (version 1796000000)" in body["text"]


def test_a_failed_run_names_the_failed_task_and_its_error(tmp_path):
    message = ("step DriftGuard failed with exit code 1; not run: Trainer, Evaluator.\n"
               "Last lines of its log: feature fare drifted")
    status = exit_handler.parse_final_status({"state": "FAILED", "error": {"code": 2, "message": message}})
    body = exit_handler.build_message(status, **_fields(str(tmp_path / "none")))
    assert body["status"] == "failed" and body["failed_component"] == "DriftGuard"
    assert body["reason"] == message
    assert body["text"] == ("keras-tfx on /app/data/taxi: FAILED in DriftGuard; nothing pushed: step DriftGuard "
                            "failed with exit code 1; not run: Trainer, Evaluator.")
    # Open-source KFP 2.x gives no error: the text says so rather than inventing a task.
    bare = exit_handler.build_message(exit_handler.parse_final_status('{"state": "FAILED", "error": {}}'),
                                      **_fields(None))
    assert bare["failed_component"] is None and "ended FAILED; the backend gave no reason" in bare["text"]


def test_argo_failures_name_the_failed_step():
    failures = json.dumps([{"displayName": "trainer", "message": "Error (exit code 1)", "templateName": "trainer",
                            "phase": "Failed", "podName": "p-1", "finishedAt": "2026-12-01T02:20:00Z"}])
    assert exit_handler.from_argo("Failed", failures) == {"state": "Failed", "message": "Error (exit code 1)",
                                                          "task": "trainer", "run": None}
    assert exit_handler.from_argo("Succeeded", "null")["state"] in exit_handler.SUCCEEDED


def test_urls_are_split_and_bad_ones_skipped():
    assert exit_handler.split_urls("") == ([], [])
    urls, refused = exit_handler.split_urls("http://a/x, https://b/y  ftp://c")
    assert urls == ["http://a/x", "https://b/y"] and len(refused) == 1 and "'ftp://c'" in refused[0]


def test_the_message_is_posted_once_to_each_url_and_a_dead_one_changes_nothing(hook, tmp_path):
    dead = "http://127.0.0.1:9/nothing-listens"
    status = exit_handler.parse_final_status('{"state": "FAILED", "error": {"message": "step Trainer failed"}}')
    started = time.monotonic()
    body = exit_handler.notify_exit(status, f"{hook.url},{dead}", **_fields(None))
    assert time.monotonic() - started < exit_handler.notify.TIMEOUT_S + 5
    (content_type, got), = hook.bodies
    assert content_type == "application/json" and got == body and got["failed_component"] == "Trainer"
    assert exit_handler.notify_exit(status, "  ", **_fields(None)) is None  # no URL: nothing posted


def test_the_argo_step_exits_0_whatever_happens(hook, capsys):
    assert exit_handler.main(["--status", "Failed", "--failures", "not json", "--notify-urls", hook.url,
                              "--pipeline", "keras-tfx", "--serving-dir", "/nonexistent/serving"]) == 0
    (_, got), = hook.bodies
    assert got["status"] == "failed" and got["reason"].startswith("the run ended Failed")
    assert json.loads(capsys.readouterr().out.strip()) == got
