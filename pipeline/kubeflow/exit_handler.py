"""The Kubeflow exit handler: after a compiled run ends, whichever way, the same message as `run --notify`.

One step, run by the backend once the pipeline's tasks are done (succeeded or not):
- kfp2 and vertex: TFX's `exit_handler` component (components/exit_handler), whose
  `final_status` input is KFP's PipelineTaskFinalStatus of the sub-DAG holding the pipeline's
  tasks, as JSON text;
- kubeflow-v1: Argo's `onExit` template, running `python -m pipeline.kubeflow.exit_handler` with
  Argo's `{{workflow.status}}` and `{{workflow.failures}}`;
- `run-compiled` runs the kfp2/vertex step itself, after the last step or the failed one.

The webhooks are the run parameter `notify_urls` (several separated by commas or spaces; empty:
the step posts nothing). The status comes from the final state and from what the run left: a push
record written during the run (pushed, with its version), or else the version already served
(not pushed: not blessed, failed the serving check, or the same model is served). A failed run
names the failed task and its error where the backend gives them (Vertex AI, Argo and
run-compiled do; open-source KFP 2.x passes the state only). The step never fails the run: a
webhook that fails or hangs (10 s) is logged, and so is anything else that goes wrong.

Standard library only at import (the push records are read through TFX's fileio when needed).
"""
from __future__ import annotations

import argparse
import calendar
import json
import logging
import re
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from pipeline import notify

NOTIFY_URLS_PARAM = "notify_urls"
# KFP placeholder (open-source KFP 2.x driver and Vertex AI) for the run's creation time.
CREATED_PLACEHOLDER = "{{$.pipeline_job_create_time_utc}}"
# The states that mean the pipeline's tasks all succeeded: PipelineTaskState (Vertex AI,
# run-compiled), ML Metadata's execution state (open-source KFP 2.x's driver), Argo's workflow.status.
SUCCEEDED = {"SUCCEEDED", "SKIPPED", "COMPLETE", "CACHED", "Succeeded"}

logger = logging.getLogger(__name__)


def split_urls(text: str) -> Tuple[List[str], List[str]]:
    """(the http(s) URLs in `text`, separated by commas or whitespace; a line per one refused)."""
    urls, refused = [], []
    for url in re.split(r"[\s,]+", (text or "").strip()):
        if not url:
            continue
        try:
            urls.append(notify.check_url(url))
        except ValueError as exc:
            refused.append(f"notify: {NOTIFY_URLS_PARAM}: {exc}".replace("--notify ", ""))
    return urls, refused


def parse_final_status(final_status: object) -> Dict[str, Optional[str]]:
    """KFP's PipelineTaskFinalStatus (JSON text or dict) as {state, message, task, run}."""
    if isinstance(final_status, str):
        try:
            final_status = json.loads(final_status) if final_status.strip() else {}
        except ValueError:
            final_status = {"state": final_status.strip()}
    status = final_status if isinstance(final_status, dict) else {}
    error = status.get("error") or {}
    return {"state": str(status.get("state") or "UNKNOWN"),
            "message": (error.get("message") or None) if isinstance(error, dict) else None,
            "task": _failed_task(error.get("message") if isinstance(error, dict) else None),
            "run": status.get("pipelineJobResourceName") or status.get("pipeline_job_resource_name")}


def _failed_task(message: Optional[str]) -> Optional[str]:
    """The failed task's name from an error message that names it (run-compiled's, Vertex AI's)."""
    match = re.search(r"\b(?:step|task|Task)\s+['\"]?([A-Za-z][\w.-]*)['\"]?\s+(?:failed|has failed)",
                      message or "")
    return match.group(1) if match else None


def from_argo(status: str, failures: str) -> Dict[str, Optional[str]]:
    """Argo's {{workflow.status}} and {{workflow.failures}} (a JSON list of failed nodes) in the
    same shape as parse_final_status."""
    try:
        nodes = json.loads(failures) if failures and failures.strip().startswith("[") else []
    except ValueError:
        nodes = []
    failed = next((n for n in nodes if isinstance(n, dict) and n.get("message")), nodes[0] if nodes else {})
    return {"state": status or "UNKNOWN", "message": failed.get("message") or None,
            "task": failed.get("displayName") or failed.get("templateName") or None, "run": None}


def parse_time(text: Optional[str]) -> Optional[float]:
    """Epoch seconds from an RFC 3339 time (2026-12-01T02:15:00Z, with or without fraction)."""
    match = re.match(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})", (text or "").strip())
    if not match:
        return None
    return float(calendar.timegm(time.strptime(" ".join(match.groups()), "%Y-%m-%d %H:%M:%S")))


def push_outcome(serving_dir: str, since: Optional[float]) -> Tuple[Optional[dict], Optional[str]]:
    """(the push record written since `since`, if any; the version served now, if any)."""
    from components.latest_pushed_model import records  # TFX's fileio: gs:// as well as local
    found = records.read_records(serving_dir)
    served = records.serving_version(serving_dir)
    pushed = None
    if since is not None:
        pushed = next((r for r in found if float(r.get("pushed_at") or 0) >= since - 1), None)
    return pushed, served[0] if served else None


def build_message(status: Dict[str, Optional[str]], *, pipeline: str, run_id: str, data_root: str,
                  output_dir: str, serving_dir: Optional[str], created: Optional[str]) -> Dict[str, object]:
    """The run's one message, from its final status and its push records."""
    common = dict(pipeline=pipeline, run_id=run_id, data_root=data_root, output_dir=output_dir)
    if status["state"] not in SUCCEEDED:
        reason = status["message"] or (f"the run ended {status['state']}; the backend gave no reason: "
                                       "see the failed task's log")
        return notify.message("failed", failed_component=status["task"], reason=reason, **common)
    pushed, served = (None, None)
    if serving_dir:
        try:
            pushed, served = push_outcome(serving_dir, parse_time(created))
        except Exception as exc:  # pylint: disable=broad-except  # the message goes out anyway
            logger.warning("exit handler: could not read the push records of %s: %s", serving_dir, exc)
    if pushed is not None:
        version = str(pushed.get("version"))
        return notify.message("pushed", pushed_version=version, serving_version=served or version,
                              blessed=True, **common)
    reason = ("the run pushed no new version: the model was not blessed, failed the serving check, or "
              "is the one already served" + (f" (version {served})" if served else ""))
    return notify.message("not_pushed", serving_version=served, reason=reason, **common)


def notify_exit(status: Dict[str, Optional[str]], notify_urls: str, **fields) -> Optional[Dict[str, object]]:
    """Builds the message and posts it to each URL in `notify_urls`; never raises. Returns the body
    (None when there is no URL)."""
    urls, refused = split_urls(notify_urls)
    for line in refused:
        logger.warning(line)
    if not urls:
        logger.info("exit handler: no %s given; nothing to post", NOTIFY_URLS_PARAM)
        return None
    try:
        body = build_message(status, **fields)
    except Exception as exc:  # pylint: disable=broad-except  # never the run's failure
        logger.exception("exit handler: could not build the message")
        body = notify.message("failed" if status["state"] not in SUCCEEDED else "not_pushed",
                              reason=f"the exit handler could not read the outcome: {exc}",
                              **{k: fields[k] for k in ("pipeline", "run_id", "data_root", "output_dir")})
    problems = notify.post(urls, body, logger=logger)
    logger.info("exit handler: posted %s to %d webhook(s)%s", body["status"], len(urls) - len(problems),
                f"; {len(problems)} failed" if problems else "")
    return body


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Argo's onExit step (kubeflow-v1). Always exits 0: the run's outcome is Argo's, not this step's."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.kubeflow.exit_handler")
    parser.add_argument("--status", required=True, help="{{workflow.status}}")
    parser.add_argument("--failures", default="", help="{{workflow.failures}}")
    parser.add_argument("--notify-urls", default="")
    parser.add_argument("--pipeline", required=True)
    parser.add_argument("--run-id", default="")
    parser.add_argument("--data-root", default="")
    parser.add_argument("--pipeline-root", default="")
    parser.add_argument("--serving-dir", default=None)
    parser.add_argument("--created", default=None, help="{{workflow.creationTimestamp}}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        body = notify_exit(from_argo(args.status, args.failures), args.notify_urls, pipeline=args.pipeline,
                           run_id=args.run_id, data_root=args.data_root, output_dir=args.pipeline_root,
                           serving_dir=args.serving_dir, created=args.created)
        if body is not None:
            print(json.dumps(body))
    except Exception:  # pylint: disable=broad-except
        logger.exception("exit handler failed; the run's outcome is unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
