"""`submit`: upload a compiled package to Kubeflow Pipelines and start a run or a recurring run."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from typing import Dict, Optional, Sequence

import yaml

from pipeline.config import ConfigError

# KFP's scheduler reads 6-field cron expressions (seconds first); a 5-field one gets "0 ".
_FIELD = re.compile(r"^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?$")
_BOUNDS = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
_NAMES = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
          "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "L", "W"}


def kfp_cron(expression: str) -> str:
    """The 6-field cron expression KFP expects, or ConfigError saying what is wrong."""
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0"] + fields
    if len(fields) != 6:
        raise ConfigError(f"--cron {expression!r}: expected 5 fields (minute hour day month weekday) "
                          "or 6 (with seconds first), e.g. '0 2 * * *' for 02:00 every day")
    for field, (low, high), what in zip(fields, _BOUNDS, ("second", "minute", "hour", "day of month",
                                                         "month", "day of week")):
        for part in field.split(","):
            match = _FIELD.match(part)
            numbers = re.findall(r"[0-9]+", part.split("/")[0])
            words = re.findall(r"[A-Za-z]+", part)
            if (not match or any(not low <= int(n) <= high for n in numbers)
                    or any(w.upper() not in _NAMES for w in words)):
                raise ConfigError(f"--cron {expression!r}: {what} field {field!r} is not valid "
                                  f"(numbers {low}-{high}, '*', ranges a-b, steps /n, lists a,b)")
    return " ".join(fields)


def declared_parameters(package_path: str) -> Dict[str, object]:
    """Run parameters a compiled package declares (v2 JSON or v1 Argo YAML), with defaults."""
    if not os.path.isfile(package_path):
        raise ConfigError(f"--package {package_path!r} does not exist; compile it first "
                          "(python -m pipeline compile ...)")
    with open(package_path) as f:
        text = f.read()
    try:
        document = json.loads(text) if package_path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"--package {package_path!r} is not a compiled pipeline: {exc}") from exc
    if isinstance(document, dict) and "pipelineSpec" in document:
        declared = document["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {})
        defaults = document.get("runtimeConfig", {}).get("parameters", {})
        return {name: next(iter(defaults.get(name, {None: None}).values())) for name in declared}
    if isinstance(document, dict) and document.get("kind") == "Workflow":
        return {p["name"]: p.get("value") for p in document["spec"].get("arguments", {}).get("parameters", [])}
    raise ConfigError(f"--package {package_path!r} is neither a kubeflow-v2 pipeline JSON nor a "
                      "kubeflow-v1 Argo workflow")


def parse_params(items: Sequence[str], declared: Dict[str, object]) -> Dict[str, str]:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE, e.g. train_steps=500")
        if name not in declared:
            raise ConfigError(f"--param {name!r} is not a run parameter of this package; "
                              f"it declares: {sorted(declared)}")
        params[name] = value
    return params


@dataclasses.dataclass
class Submitted:
    experiment_id: str
    pipeline_id: str
    version_id: Optional[str]
    run_id: Optional[str] = None
    recurring_run_id: Optional[str] = None


def submit(package_path: str, endpoint: str, experiment: str, params: Sequence[str] = (),
           cron: Optional[str] = None, pipeline_name: Optional[str] = None) -> Submitted:
    """Uploads the package, then starts a run (or, with `cron`, a recurring run)."""
    declared = declared_parameters(package_path)
    values = parse_params(params, declared)
    cron_expression = kfp_cron(cron) if cron else None
    if not re.match(r"^https?://[^\s/]+", endpoint or ""):
        raise ConfigError(f"--endpoint {endpoint!r}: give the KFP API URL, e.g. http://127.0.0.1:8888")

    import kfp  # slow import, only for this command
    import urllib3
    from kfp_server_api.exceptions import ApiException

    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = pipeline_name or os.path.splitext(os.path.basename(package_path))[0]
    try:
        client = kfp.Client(host=endpoint)
        exp = client.create_experiment(experiment)
        uploaded = client.upload_pipeline(package_path, pipeline_name=f"{name}-{stamp}")
        version_id = uploaded.default_version.id if uploaded.default_version else None
        result = Submitted(experiment_id=exp.id, pipeline_id=uploaded.id, version_id=version_id)
        if cron_expression:
            job = client.create_recurring_run(
                exp.id, job_name=f"{name}-schedule-{stamp}", cron_expression=cron_expression,
                pipeline_id=uploaded.id, version_id=version_id, params=values, max_concurrency=1)
            result.recurring_run_id = job.id
        else:
            run = client.run_pipeline(exp.id, job_name=f"{name}-{stamp}", pipeline_id=uploaded.id,
                                      version_id=version_id, params=values)
            result.run_id = run.id
        return result
    except (urllib3.exceptions.HTTPError, ConnectionError, OSError) as exc:
        raise ConfigError(f"cannot reach the Kubeflow Pipelines API at {endpoint}: {exc}. Check the URL "
                          "(for a cluster: kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80, then "
                          "--endpoint http://127.0.0.1:8080/pipeline)") from None
    except ApiException as exc:
        raise ConfigError(f"the Kubeflow Pipelines API at {endpoint} refused the request: "
                          f"{exc.status} {exc.reason}: {exc.body}") from None
