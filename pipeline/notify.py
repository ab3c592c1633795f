"""`--notify URL`: the outcome of every run, posted as one JSON message to each webhook.

The body is the incoming-webhook shape Slack, Mattermost and Teams accept (a one-line `text`),
plus the outcome as data: `status` (pushed, not_blessed, nothing_new, not_pushed, drifted,
failed, refused), the run id, the versions, the metrics and the reason. A webhook that fails or
hangs is logged and reported on the terminal; it never changes the run's outcome or exit code.
Standard library only, and cheap to import: urllib.request (with http.client and ssl, ~12 ms) is
imported only to post, so `python -m pipeline --help` does not pay for it.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Dict, List, Optional, Sequence

TIMEOUT_S = 10.0
STATUSES = ("pushed", "not_blessed", "nothing_new", "not_pushed", "drifted", "failed", "refused")


def check_url(url: str) -> str:
    """The URL when it is http(s)://host...; else ValueError naming the option."""
    from urllib.parse import urlparse
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"--notify {url!r}: give an http:// or https:// webhook URL, "
                         "e.g. --notify https://hooks.slack.com/services/...")
    return url


def message(status: str, *, pipeline: str, run_id: str, data_root: str, output_dir: str,
            metrics: Optional[Dict[str, float]] = None, blessed: Optional[bool] = None,
            pushed_version: Optional[str] = None, serving_version: Optional[str] = None,
            reason: Optional[str] = None, failed_component: Optional[str] = None,
            log: Optional[str] = None, report: Optional[str] = None) -> Dict[str, object]:
    """The one message of a run, whichever way it ended."""
    assert status in STATUSES, status
    metrics = {k: float(v) for k, v in (metrics or {}).items()}
    shown = ", ".join(f"{k} {metrics[k]:.4f}" for k in ("accuracy", "auc") if k in metrics)
    head = f"{pipeline} on {data_root}: "
    what = {
        "pushed": f"pushed version {pushed_version}",
        "not_blessed": "not blessed, nothing pushed",
        "nothing_new": f"nothing new to push; version {serving_version} already serves this model",
        "not_pushed": "nothing pushed",
        "drifted": "STOPPED on data drift before training; nothing trained or pushed",
        "failed": f"FAILED{' in ' + failed_component if failed_component else ''}; nothing pushed",
        "refused": "not started; nothing changed",
    }[status]
    first_reason = (reason or "").strip().splitlines()[0] if reason and reason.strip() else ""
    text = head + what + (f" ({shown})" if shown else "") + (f": {first_reason}" if first_reason and
                                                             status not in ("pushed", "nothing_new") else "")
    return {"text": text, "status": status, "pipeline": pipeline, "run_id": run_id,
            "data_root": data_root, "output_dir": output_dir, "metrics": metrics, "blessed": blessed,
            "versions": {"pushed": pushed_version, "serving": serving_version},
            "reason": reason, "failed_component": failed_component, "log": log, "report": report}


def post(urls: Sequence[str], body: Dict[str, object], timeout: float = TIMEOUT_S,
         logger: Optional[logging.Logger] = None) -> List[str]:
    """POSTs `body` as JSON to every URL at once, waiting at most `timeout` seconds in all.

    Returns one line per webhook that failed or did not answer in time (empty when all took it).
    Never raises.
    """
    import urllib.error
    import urllib.request
    logger = logger or logging.getLogger(__name__)
    data = json.dumps(body).encode("utf-8")
    problems: Dict[str, str] = {url: f"no answer within {timeout:g} s" for url in urls}

    def send(url: str) -> None:
        try:
            request = urllib.request.Request(url, data=data, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read(65536)
            problems.pop(url, None)
        except urllib.error.HTTPError as exc:
            problems[url] = f"HTTP {exc.code} {exc.reason}"
        except Exception as exc:  # pylint: disable=broad-except  # never the run's failure
            problems[url] = f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"

    threads = [threading.Thread(target=send, args=(url,), daemon=True) for url in urls]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    lines = [f"notify: POST to {url} failed ({why}); the run's outcome is unchanged"
             for url, why in dict(problems).items()]
    for line in lines:
        logger.warning(line)
    return lines


def run_id(log_path: str) -> str:
    """The run's id: its log's name (run-YYYYmmdd-HHMMSS), which its report's name also carries."""
    return os.path.splitext(os.path.basename(log_path))[0]
