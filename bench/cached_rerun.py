"""Benchmark 3 of issue 5: a rerun where nothing changed, every component from the cache.

Runs `python -m pipeline run` on the bundled data into a fresh output dir until a run is fully
cached (the first run trains; the second re-evaluates against the first blessed model; from the
third on, all 8 components are cached), then times `--repeats` more fully cached runs. Also
times, each in a fresh process, the imports a run pays before it can ask ML Metadata anything,
to show how much of a cached run is start-up.

    .venv/bin/python bench/cached_rerun.py [--repeats 3] [--train-steps 2000] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

IMPORTS = [
    ("python", "pass"),
    ("import tensorflow", "import tensorflow"),
    ("import tfx.components", "import tfx.components"),
    ("import apache_beam", "import apache_beam"),
    ("import tensorflow_model_analysis", "import tensorflow_model_analysis"),
    ("from pipeline.local import runner (everything a run imports)", "from pipeline.local import runner"),
]


def time_import(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([_common.PYTHON, "-c", statement], cwd=_common.PROJECT_ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return round(time.perf_counter() - start, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=2000)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-cached-")
    output_dir = os.path.join(workdir, "out")
    argv = [_common.PYTHON, "-m", "pipeline", "run", "--output-dir", output_dir,
            "--train-steps", str(args.train_steps)]
    results = {"command": " ".join(argv[1:]), "load_at_start": _common.load_average(), "warm_up": [],
               "cached": []}
    try:
        for i in range(2):
            run = _common.run_measured(argv, cwd=_common.PROJECT_ROOT,
                                       log_path=os.path.join(workdir, f"warmup{i}.log"))
            run.pop("_samples")
            results["warm_up"].append({k: run[k] for k in ("exit_code", "wall_s")})
        for i in range(args.repeats):
            run = _common.run_measured(argv, cwd=_common.PROJECT_ROOT,
                                       log_path=os.path.join(workdir, f"cached{i}.log"))
            run.pop("_samples")
            states = {c["state"] for c in _common.component_times(
                os.path.join(output_dir, "metadata.sqlite"))[-8:]}
            results["cached"].append({"wall_s": run["wall_s"], "peak_rss_gib": run["peak_rss_gib"],
                                      "exit_code": run["exit_code"], "component_states": sorted(states),
                                      "load_before": run["load_before"]})
        results["cached_median_s"] = statistics.median(r["wall_s"] for r in results["cached"])
        results["imports_s"] = {label: time_import(statement) for label, statement in IMPORTS}
        results["load_at_end"] = _common.load_average()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
