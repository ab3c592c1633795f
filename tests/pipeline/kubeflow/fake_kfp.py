"""A local stand-in for the parts of the KFP REST API that `submit` uses: v1beta1 (what the kfp
1.8 client calls, KFP 1.8) and v2beta1 (KFP 2.x: kubeflow/pipelines backend/api/v2beta1/*.proto and
the upload handlers of backend/src/apiserver/main.go).

It records every request (method, path, query, JSON or multipart body) so tests can check
that uploads, runs and recurring runs arrive as the KFP API expects. 127.0.0.1 only.
"""
from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeKfp:
    def __init__(self):
        self.requests = []
        self.experiments = {}
        self.v2_experiments = {}
        self.v2_pipelines = {}   # pipeline_id -> {"pipeline_id", "display_name", "versions": [...]}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, payload, status=200):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urllib.parse.urlparse(self.path)
                body = None
                if raw and "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw)
                request = {"method": self.command, "path": url.path,
                           "query": urllib.parse.parse_qs(url.query), "body": body, "raw": raw,
                           "content_type": self.headers.get("Content-Type")}
                fake.requests.append(request)
                return request

            def _multipart_file(self, request):
                """The `uploadfile` part of a multipart body, as KFP's upload handler reads it."""
                from email.parser import BytesParser
                from email.policy import default
                message = BytesParser(policy=default).parsebytes(
                    b"Content-Type: " + request["content_type"].encode() + b"\r\n\r\n" + request["raw"])
                for part in message.iter_parts():
                    if part.get_param("name", header="content-disposition") == "uploadfile":
                        return part.get_content() if isinstance(part.get_content(), bytes) else \
                            part.get_content().encode()
                return None

            def _v2(self, request):
                path, query = request["path"], request["query"]
                if self.command == "GET" and path == "/apis/v2beta1/healthz":
                    return self._reply({"multi_user": False})
                if self.command == "GET" and path == "/apis/v2beta1/experiments":
                    wanted = json.loads(query.get("filter", ["{}"])[0]).get("predicates", [])
                    names = {p["string_value"] for p in wanted if p.get("key") == "display_name"}
                    found = [e for e in fake.v2_experiments.values() if not names or e["display_name"] in names]
                    return self._reply({"experiments": found, "total_size": len(found)})
                if self.command == "POST" and path == "/apis/v2beta1/experiments":
                    experiment = {"experiment_id": f"exp-{len(fake.v2_experiments) + 1}",
                                  "display_name": request["body"]["display_name"]}
                    fake.v2_experiments[experiment["experiment_id"]] = experiment
                    return self._reply(experiment)
                if self.command == "GET" and path.startswith("/apis/v2beta1/pipelines/names/"):
                    name = urllib.parse.unquote(path.rsplit("/", 1)[1])
                    for pipeline in fake.v2_pipelines.values():
                        if pipeline["display_name"] == name:
                            return self._reply({k: v for k, v in pipeline.items() if k != "versions"})
                    return self._reply({"error": "pipeline not found", "code": 5}, 404)
                if self.command == "POST" and path in ("/apis/v2beta1/pipelines/upload",
                                                       "/apis/v2beta1/pipelines/upload_version"):
                    content = self._multipart_file(request)
                    if content is None:
                        return self._reply({"error": "no uploadfile"}, 400)
                    request["uploaded"] = content
                    if path.endswith("/upload"):
                        pipeline_id = f"pipeline-{len(fake.v2_pipelines) + 1}"
                        pipeline = {"pipeline_id": pipeline_id, "display_name": query["name"][0], "versions": []}
                        fake.v2_pipelines[pipeline_id] = pipeline
                        version_name = query["name"][0]
                    else:
                        pipeline = fake.v2_pipelines.get(query.get("pipelineid", [""])[0])
                        if pipeline is None:
                            return self._reply({"error": "pipeline not found"}, 404)
                        version_name = query["name"][0]
                    version = {"pipeline_id": pipeline["pipeline_id"], "display_name": version_name,
                               "pipeline_version_id": f"{pipeline['pipeline_id']}-v{len(pipeline['versions']) + 1}",
                               "pipeline_spec": json.loads(content)}
                    pipeline["versions"].insert(0, version)  # newest first
                    return self._reply(version if path.endswith("upload_version") else
                                       {k: v for k, v in pipeline.items() if k != "versions"})
                if self.command == "GET" and path.startswith("/apis/v2beta1/pipelines/") and path.endswith("/versions"):
                    pipeline = fake.v2_pipelines.get(path.split("/")[4])
                    if pipeline is None:
                        return self._reply({"error": "pipeline not found"}, 404)
                    size = int(query.get("page_size", ["100"])[0])
                    return self._reply({"pipeline_versions": pipeline["versions"][:size],
                                        "total_size": len(pipeline["versions"])})
                if self.command == "POST" and path == "/apis/v2beta1/runs":
                    return self._reply({"run_id": "run-1", **request["body"], "state": "PENDING"})
                if self.command == "POST" and path == "/apis/v2beta1/recurringruns":
                    return self._reply({"recurring_run_id": "recurring-1", **request["body"], "status": "ENABLED"})
                return self._reply({"error": "not found"}, 404)

            def do_GET(self):
                request = self._record()
                if request["path"].startswith("/apis/v2beta1/"):
                    return self._v2(request)
                if request["path"] == "/apis/v1beta1/healthz":
                    return self._reply({"multi_user": False})
                if request["path"] == "/apis/v1beta1/experiments":
                    experiments = list(fake.experiments.values())
                    return self._reply({"experiments": experiments, "total_size": len(experiments)})
                return self._reply({"error": "not found"}, 404)

            def do_POST(self):
                request = self._record()
                path = request["path"]
                if path.startswith("/apis/v2beta1/"):
                    return self._v2(request)
                if path == "/apis/v1beta1/experiments":
                    experiment = {"id": f"exp-{len(fake.experiments) + 1}", "name": request["body"]["name"]}
                    fake.experiments[experiment["id"]] = experiment
                    return self._reply(experiment)
                if path == "/apis/v1beta1/pipelines/upload":
                    name = request["query"].get("name", ["p"])[0]
                    return self._reply({"id": "pipeline-1", "name": name,
                                        "default_version": {"id": "version-1", "name": name}})
                if path == "/apis/v1beta1/runs":
                    return self._reply({"run": {"id": "run-1", "name": request["body"]["name"]}})
                if path == "/apis/v1beta1/jobs":
                    return self._reply({"id": "job-1", "name": request["body"]["name"], "enabled": True})
                return self._reply({"error": "not found"}, 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def posts(self, path):
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == path]
