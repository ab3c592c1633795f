"""Issue 18: `python -m pipeline serve` under load, on the pushed example model.

Starts `python -m pipeline serve` on 127.0.0.1 (a free port) over `<output-dir>/serving_model`
(run `make run` first), then:

1. requests/s and p50/p99 latency at concurrency 1 and 8, batch 1 and 32 rows per request, each
   cell for at most `--seconds` s or `--max-requests` requests (one keep-alive connection per client);
2. the same signature called in-process in a loop, in the serving environment (TF 2.21, no HTTP):
   the limit, and the server's share of it;
3. a swap under load: 8 clients send batch-1 requests for `--swap-seconds`; after a third of that, the
   served version is copied to a new version number the way the Pusher publishes one (under
   `.partial-*`, then renamed); counted: requests, failures, seconds until the status shows the new
   version. The copy is removed afterwards.

Requests go only to 127.0.0.1 and are bounded in count and time.

    .venv/bin/python bench/serve.py [--output-dir outputs] [--signature serving_default|serving_raw]
"""
from __future__ import annotations

import argparse
import base64
import csv
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
from pipeline import config as config_lib  # noqa: E402
from pipeline.serving import serve_env  # noqa: E402
from pipeline.serving.server import versions  # noqa: E402

MODEL = "keras-tfx"
IN_PROCESS = r'''
import base64, json, sys, time
import tensorflow as tf
path, signature, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
seconds, limit = float(sys.argv[4]), int(sys.argv[5])
fn = tf.saved_model.load(path).signatures[signature]
specs = fn.structured_input_signature[1]
rows = body["instances"]
if signature == "serving_default":
    inputs = {"examples": tf.constant([base64.b64decode(r["b64"]) for r in rows])}
else:
    inputs = {n: tf.constant([r[n] for r in rows], dtype=s.dtype) for n, s in specs.items()}
fn(**inputs)
times = []
start = time.perf_counter()
while time.perf_counter() - start < seconds and len(times) < limit:
    t = time.perf_counter(); fn(**inputs); times.append(time.perf_counter() - t)
print(json.dumps({"calls": len(times), "seconds": time.perf_counter() - start, "latencies": times}))
'''


def rows_for(signature: str, count: int):
    """Request rows from the bundled taxi CSV: base64 tf.Examples, or raw features by name with a
    missing value as the serving contract sends it (NaN, int64's minimum, "")."""
    from components.trainer.features import features_from_schema, load_schema
    from pipeline.serving.model import to_example
    features = features_from_schema(load_schema(config_lib.DEFAULT_SCHEMA), config_lib.DEFAULT_LABEL)
    with open(os.path.join(config_lib.DEFAULT_DATA_ROOT, "data.csv"), newline="") as f:
        rows = [row for _, row in zip(range(count), csv.DictReader(f))]
    if signature == "serving_default":
        return [{"b64": base64.b64encode(to_example(r, features).SerializeToString()).decode()} for r in rows]
    typed = []
    for r in rows:
        row = {}
        for feature in features.features:
            raw = r.get(feature.name, "")
            row[feature.name] = (raw if feature.dtype.name == "string" else
                                 (int(raw) if raw else -2 ** 63) if feature.dtype.name == "int64" else
                                 (float(raw) if raw else float("nan")))
        typed.append(row)
    return typed


def body_for(signature: str, rows) -> dict:
    return {"signature_name": signature, "instances": rows}


class Client(threading.Thread):
    def __init__(self, port, payload: bytes, stop: threading.Event, limit, counter, lock):
        super().__init__(daemon=True)
        self.port, self.payload, self.stop, self.limit, self.counter, self.lock = port, payload, stop, limit, counter, lock
        self.latencies, self.failures, self.sent = [], [], []

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            with self.lock:
                if self.counter[0] >= self.limit:
                    break
                self.counter[0] += 1
            t = time.perf_counter()
            try:
                conn.request("POST", f"/v1/models/{MODEL}:predict", body=self.payload,
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException) as exc:
                ok, data = False, repr(exc).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.latencies.append(time.perf_counter() - t)
            self.sent.append(time.time())
            if not ok:
                self.failures.append(data[:200])


def load(port, payload: bytes, concurrency: int, seconds: float, limit: int) -> dict:
    stop, lock, counter = threading.Event(), threading.Lock(), [0]
    clients = [Client(port, payload, stop, limit, counter, lock) for _ in range(concurrency)]
    start = time.perf_counter()
    for c in clients:
        c.start()
    deadline = start + seconds
    while time.perf_counter() < deadline and any(c.is_alive() for c in clients):
        time.sleep(0.05)
    stop.set()
    for c in clients:
        c.join(60)
    elapsed = time.perf_counter() - start
    latencies = sorted(x for c in clients for x in c.latencies)
    return {"requests": len(latencies), "failures": sum(len(c.failures) for c in clients),
            "seconds": elapsed, "rps": len(latencies) / elapsed,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "first_failures": [f.decode(errors="replace") for c in clients for f in c.failures][:3]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status_version(port) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", f"/v1/models/{MODEL}")
    body = json.loads(conn.getresponse().read())
    return [e["version"] for e in body["model_version_status"] if e["state"] == "AVAILABLE"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="outputs")
    parser.add_argument("--signature", default="serving_default", choices=["serving_default", "serving_raw"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=5000)
    parser.add_argument("--swap-seconds", type=float, default=20.0)
    parser.add_argument("--json", default=os.path.join(_common.PROJECT_ROOT, "bench", "results", "serve.json"))
    args = parser.parse_args()
    serving_dir = os.path.abspath(os.path.join(args.output_dir, "serving_model"))
    served = versions.serving_version(serving_dir)
    if served is None:
        sys.exit(f"no pushed model under {serving_dir}: run `make run` first")
    python = serve_env.ensure()
    port = free_port()
    log_path = os.path.join(os.path.dirname(args.json), "serve-bench-server.log")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    result = {"load_average_before": _common.load_average(), "signature": args.signature, "model": served[1]}
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--output-dir", args.output_dir,
                                   "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                  cwd=_common.PROJECT_ROOT)
        copy = None
        try:
            deadline = time.time() + 300
            while True:
                try:
                    status_version(port)
                    break
                except (OSError, http.client.HTTPException, ValueError):
                    if server.poll() is not None or time.time() > deadline:
                        sys.exit(f"serve did not start; see {log_path}")
                    time.sleep(0.5)
            rows = rows_for(args.signature, 32)
            cells = []
            for batch in (1, 32):
                payload = json.dumps(body_for(args.signature, rows[:batch])).encode()
                probe = load(port, payload, 1, 5, 1)
                if probe["failures"]:
                    sys.exit(f"the server refused the request: {probe['first_failures']}")
                inproc = subprocess.run([python, "-c", IN_PROCESS, served[1], args.signature,
                                         json.dumps(body_for(args.signature, rows[:batch])), str(args.seconds),
                                         str(args.max_requests * 4)], capture_output=True, text=True, check=True)
                limit = json.loads(inproc.stdout.strip().splitlines()[-1])
                lat = sorted(limit.pop("latencies"))
                limit.update(rps=limit["calls"] / limit["seconds"], p50_ms=1000 * lat[len(lat) // 2],
                             p99_ms=1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))])
                for concurrency in (1, 8):
                    cell = load(port, payload, concurrency, args.seconds, args.max_requests)
                    cell.update(batch=batch, concurrency=concurrency, in_process=limit,
                                ratio=cell["rps"] / limit["rps"])
                    cells.append(cell)
                    print(f"batch {batch:2d} concurrency {concurrency}: {cell['rps']:7.1f} req/s "
                          f"({cell['rps'] * batch:8.1f} rows/s)  p50 {cell['p50_ms']:6.1f} ms  p99 {cell['p99_ms']:6.1f} ms  "
                          f"failures {cell['failures']}  | in-process {limit['rps']:7.1f} calls/s "
                          f"p50 {limit['p50_ms']:.1f} ms  -> {cell['ratio']:.2f}x", flush=True)
            result["cells"] = cells

            # A swap under load.
            payload = json.dumps(body_for(args.signature, rows[:1])).encode()
            before = status_version(port)
            new_version = str(max(int(n) for n in os.listdir(serving_dir) if n.isdigit()) + 1)
            stop, lock, counter = threading.Event(), threading.Lock(), [0]
            clients = [Client(port, payload, stop, 10 ** 6, counter, lock) for _ in range(8)]
            start = time.time()
            for c in clients:
                c.start()
            time.sleep(args.swap_seconds / 3)
            partial = os.path.join(serving_dir, f".partial-{new_version}")
            shutil.copytree(served[1], partial)
            copy = os.path.join(serving_dir, new_version)
            pushed = time.time()
            os.rename(partial, copy)
            switched = None
            while time.time() - start < args.swap_seconds:
                if switched is None and status_version(port) == new_version:
                    switched = time.time()
                time.sleep(0.05)
            stop.set()
            for c in clients:
                c.join(60)
            sent = sum(len(c.latencies) for c in clients)
            failures = sum(len(c.failures) for c in clients)
            result["swap"] = {"requests": sent, "failures": failures, "seconds": time.time() - start,
                              "from_version": before, "to_version": new_version,
                              "seconds_to_switch": None if switched is None else switched - pushed}
            print(f"swap under load: {sent} requests by 8 clients in {time.time() - start:.0f} s, {failures} failed, "
                  f"version {before} -> {new_version} "
                  + (f"served {switched - pushed:.1f} s after the push" if switched else "NOT switched"), flush=True)
        finally:
            server.terminate()
            server.wait(30)
            if copy and os.path.isdir(copy):
                shutil.rmtree(copy)
    result["load_average_after"] = _common.load_average()
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(f"load average before/after: {result['load_average_before']} / {result['load_average_after']}; "
          f"results in {args.json}")


if __name__ == "__main__":
    main()
