"""Shared helpers of the benchmarks: run a command while sampling the memory of its process
tree, read per-component times from ML Metadata, and say how loaded the machine was."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import psutil

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
GIB = 1024 ** 3


def load_average() -> str:
    """The 1/5/15-minute load averages, as `uptime` prints them (2 cores here)."""
    return "%.2f %.2f %.2f" % os.getloadavg()


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants; keeps the peak.

    A sum over the tree, because Beam's multi-processing mode and TFX's executors may run in
    child processes. Sampled every `interval` s, so a spike shorter than that can be missed.
    """

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self.peak_bytes = 0
        self.peak_single_bytes = 0
        self.samples: List[Tuple[float, int]] = []  # (time.time(), summed RSS bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = 0
            try:
                processes = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            for process in processes:
                try:
                    rss = process.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                self.peak_single_bytes = max(self.peak_single_bytes, rss)
            self.peak_bytes = max(self.peak_bytes, total)
            self.samples.append((time.time(), total))
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(argv: Sequence[str], cwd: str, log_path: str,
                 env: Optional[Dict[str, str]] = None) -> Dict[str, object]:
    """Runs `argv` to completion; returns wall time, peak tree RSS, exit code and load."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    load_before = load_average()
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(list(argv), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                   env=env)
        with TreeMemory(process.pid) as memory:
            code = process.wait()
        wall = time.perf_counter() - start
    return {
        "argv": list(argv), "exit_code": code, "wall_s": round(wall, 1),
        "peak_rss_gib": round(memory.peak_bytes / GIB, 2),
        "peak_single_process_rss_gib": round(memory.peak_single_bytes / GIB, 2),
        "load_before": load_before, "load_after": load_average(), "log": log_path,
        "_samples": memory.samples,
    }


def component_times(metadata_path: str) -> List[Dict[str, object]]:
    """(component, state, seconds) of every execution in an MLMD SQLite file, in order.

    Seconds are MLMD's last update minus creation time of the execution: the time the
    component's executor ran (driver and publisher included), not the runner's start-up.
    """
    states = {0: "unknown", 1: "new", 2: "running", 3: "ran", 4: "failed", 5: "cached", 6: "canceled"}
    connection = sqlite3.connect(f"file:{metadata_path}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT e.id, e.last_known_state, e.create_time_since_epoch, "
            "e.last_update_time_since_epoch, c.name FROM Execution e "
            "JOIN Association a ON a.execution_id = e.id JOIN Context c ON c.id = a.context_id "
            "JOIN Type t ON t.id = c.type_id WHERE t.name = 'node' ORDER BY e.id").fetchall()
    finally:
        connection.close()
    return [{"component": name.split(".", 1)[-1], "state": states.get(state, str(state)),
             "seconds": round((updated - created) / 1000.0, 1),
             "start": created / 1000.0, "end": updated / 1000.0}
            for _, state, created, updated, name in rows]


def with_peak_memory(components: List[Dict[str, object]], samples) -> List[Dict[str, object]]:
    """Adds each component's peak process-tree RSS (GiB): the highest sample taken while it
    ran (its MLMD creation to last update). Drops the raw start/end times."""
    out = []
    for component in components:
        inside = [rss for t, rss in samples if component["start"] <= t <= component["end"]]
        row = {k: v for k, v in component.items() if k not in ("start", "end")}
        row["peak_rss_gib"] = round(max(inside) / GIB, 2) if inside else None
        out.append(row)
    return out


def overall_metrics(evaluation_dir: str, names: Sequence[str]) -> Dict[str, float]:
    """Overall-slice metrics of a TFMA evaluation output (an Evaluator's `evaluation` dir)."""
    import tensorflow_model_analysis as tfma  # heavy; only when asked
    found: Dict[str, float] = {}
    for slice_metrics in tfma.load_metrics(evaluation_dir):
        if slice_metrics.slice_key.single_slice_keys:
            continue
        for key in slice_metrics.metric_keys_and_values:
            name = key.key.name
            if name in names and name not in found and key.value.HasField("double_value"):
                found[name] = round(key.value.double_value.value, 4)
        for name, value in slice_metrics.metrics.items():  # older layout
            if name in names and name not in found and value.HasField("double_value"):
                found[name] = round(value.double_value.value, 4)
    return found


def newest_subdir(path: str) -> str:
    entries = sorted((e for e in os.listdir(path) if e.isdigit()), key=int)
    if not entries:
        raise FileNotFoundError(f"no execution folders under {path}")
    return os.path.join(path, entries[-1])
