"""A local stand-in for the part of the KFP v1beta1 REST API that the kfp client uses.

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

            def do_GET(self):
                request = self._record()
                if request["path"] == "/apis/v1beta1/healthz":
                    return self._reply({"multi_user": False})
                if request["path"] == "/apis/v1beta1/experiments":
                    experiments = list(fake.experiments.values())
                    return self._reply({"experiments": experiments, "total_size": len(experiments)})
                return self._reply({"error": "not found"}, 404)

            def do_POST(self):
                request = self._record()
                path = request["path"]
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
