"""`submit`: upload a compiled package to Kubeflow Pipelines and start a run or a recurring run.

A `kfp2` spec goes to KFP 2.x's v2beta1 REST API (plain HTTP here: the kfp 2 SDK cannot share a
venv with kfp 1.8); a `kubeflow-v1` Argo YAML goes through the kfp 1.8 client (v1beta1).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Dict, Optional, Sequence, Tuple

import yaml

from pipeline import pairs
from pipeline.kubeflow import parameters
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


def declared_parameters(package_path: str) -> Dict[str, Tuple[Optional[str], object]]:
    """Run parameters a compiled package declares (v2 JSON or v1 Argo YAML): name -> (type, default).

    A kfp2 spec types them by parameterType (KFP 2.x refuses a string for a NUMBER_INTEGER); an
    Argo workflow's parameters are all strings, as the v1beta1 API takes them; the project's own
    run parameters are typed by pipeline/kubeflow/parameters.py all the same."""
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
        raise ConfigError(f"--package {package_path!r} is a vertex pipeline job, for Vertex AI Pipelines: "
                          "submit it with Vertex AI's SDK (google.cloud.aiplatform.PipelineJob(template_path="
                          "...).submit()) or gcloud; for a Kubeflow Pipelines 2.x API, compile with --target kfp2")
    if isinstance(document, dict) and "root" in document and "pipelineInfo" in document:
        declared = document["root"].get("inputDefinitions", {}).get("parameters", {})
        return {name: (pairs.spec_type(d.get("parameterType", "STRING")), d.get("defaultValue"))
                for name, d in declared.items()}
    if isinstance(document, dict) and document.get("kind") == "Workflow":
        # Argo parameters are text; this project's own run parameters are checked by their type
        # here, before anything is sent, and sent as text.
        return {p["name"]: (parameters.TYPES.get(p["name"], pairs.STRING), p.get("value"))
                for p in document["spec"].get("arguments", {}).get("parameters", [])}
    raise ConfigError(f"--package {package_path!r} is neither a kfp2 pipeline spec (compile --target kfp2) "
                      "nor a kubeflow-v1 Argo workflow (compile --target kubeflow-v1)")


def parse_params(items: Sequence[str], declared: Dict[str, Tuple[Optional[str], object]]) -> Dict[str, object]:
    """`--param` pairs, typed as the package declares them (pipeline/pairs.py)."""
    receiver = pairs.Receiver(
        option="--param", noun="parameter", owner="this package",
        types={name: type_ for name, (type_, _) in declared.items()},
        examples={name: default if isinstance(default, str) else json.dumps(default)
                  for name, (_, default) in declared.items() if default is not None})
    return pairs.parse(items, receiver)


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
    if not package_path.endswith((".yaml", ".yml", ".tar.gz", ".tgz", ".zip")):
        return submit_v2beta1(package_path, endpoint, experiment, values, cron_expression, pipeline_name)

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


# ---------------------------------------------------------------- KFP 2.x: the v2beta1 REST API
# Paths and fields as in kubeflow/pipelines backend/api/v2beta1/*.proto (experiment, pipeline,
# run, recurring_run, runtime_config) and the upload handlers registered in
# backend/src/apiserver/main.go:599-600 (multipart field `uploadfile`, query `name`, `pipelineid`:
# backend/src/apiserver/server/pipeline_upload_server.go:45-53).

V2 = "/apis/v2beta1"


class _Api:
    """A small JSON client for the v2beta1 API, with errors that say what to do."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint.rstrip("/")

    def call(self, method: str, path: str, body: Optional[dict] = None,
             query: Optional[Dict[str, str]] = None, multipart: Optional[Tuple[str, bytes]] = None,
             missing_ok: bool = False) -> Optional[dict]:
        url = self.endpoint + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers, data = {}, None
        if multipart is not None:
            boundary = uuid.uuid4().hex
            filename, content = multipart
            data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"uploadfile\"; "
                    f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() \
                + content + f"\r\n--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            if missing_ok and exc.code == 404:
                return None
            detail = exc.read().decode(errors="replace")[:500]
            raise ConfigError(f"the Kubeflow Pipelines API at {self.endpoint} refused {method} {path}: "
                              f"{exc.code} {exc.reason}: {detail}") from None
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            raise ConfigError(f"cannot reach the Kubeflow Pipelines API at {self.endpoint}: {exc}. Check the "
                              "URL (for a cluster: kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80, "
                              "then --endpoint http://127.0.0.1:8080/pipeline)") from None
        try:
            return json.loads(text or b"{}")
        except ValueError:
            raise ConfigError(f"the Kubeflow Pipelines API at {self.endpoint} answered {method} {path} with "
                              f"something that is not JSON: {text[:200]!r}; is this a KFP 2.x endpoint?") from None


def submit_v2beta1(package_path: str, endpoint: str, experiment: str, parameters: Dict[str, object],
                   cron_expression: Optional[str], pipeline_name: Optional[str]) -> Submitted:
    """A kfp2 spec to KFP 2.x: pipeline (by name) + a new version, then a run or a recurring run
    with `parameters` (typed by parse_params)."""
    with open(package_path, "rb") as f:
        content = f.read()
    spec = json.loads(content)
    name = pipeline_name or spec["pipelineInfo"]["name"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    api = _Api(endpoint)
    api.call("GET", f"{V2}/healthz")

    predicate = {"predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": experiment}]}
    listed = api.call("GET", f"{V2}/experiments", query={"filter": json.dumps(predicate)}) or {}
    known = [e for e in listed.get("experiments", []) if e.get("display_name") == experiment]
    experiment_id = (known[0] if known else api.call(
        "POST", f"{V2}/experiments", body={"display_name": experiment}))["experiment_id"]

    upload = (os.path.basename(package_path), content)
    version_name = f"{name}-{stamp}"
    pipeline = api.call("GET", f"{V2}/pipelines/names/{urllib.parse.quote(name, safe='')}", missing_ok=True)
    if pipeline and pipeline.get("pipeline_id"):
        pipeline_id = pipeline["pipeline_id"]
        version = api.call("POST", f"{V2}/pipelines/upload_version", multipart=upload,
                           query={"pipelineid": pipeline_id, "name": version_name})
    else:
        pipeline_id = api.call("POST", f"{V2}/pipelines/upload", multipart=upload,
                               query={"name": name})["pipeline_id"]
        versions = api.call("GET", f"{V2}/pipelines/{pipeline_id}/versions",
                            query={"page_size": "1", "sort_by": "created_at desc"}) or {}
        if not versions.get("pipeline_versions"):
            raise ConfigError(f"the Kubeflow Pipelines API at {endpoint} created pipeline {pipeline_id} "
                              "but lists no version of it")
        version = versions["pipeline_versions"][0]
    version_id = version["pipeline_version_id"]

    runtime_config = {"parameters": parameters}
    if spec.get("defaultPipelineRoot"):
        runtime_config["pipeline_root"] = spec["defaultPipelineRoot"]
    reference = {"pipeline_id": pipeline_id, "pipeline_version_id": version_id}
    result = Submitted(experiment_id=experiment_id, pipeline_id=pipeline_id, version_id=version_id)
    if cron_expression:
        job = api.call("POST", f"{V2}/recurringruns", body={
            "display_name": f"{name}-schedule-{stamp}", "experiment_id": experiment_id,
            "pipeline_version_reference": reference, "runtime_config": runtime_config,
            "trigger": {"cron_schedule": {"cron": cron_expression}}, "max_concurrency": "1",
            "mode": "ENABLE", "no_catchup": True})
        result.recurring_run_id = job["recurring_run_id"]
    else:
        run = api.call("POST", f"{V2}/runs", body={
            "display_name": f"{name}-{stamp}", "experiment_id": experiment_id,
            "pipeline_version_reference": reference, "runtime_config": runtime_config})
        result.run_id = run["run_id"]
    return result
