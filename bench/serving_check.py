"""What the serving check costs a run: the check of one Trainer export, repeated.

Each repeat is what the ServingCheck step does (components/serving_check/executor.py: `check`):
copy the model to a scratch folder, read its graph and warm-up file, start a fresh
`python -I -S` process that imports TensorFlow, loads the copy, replays the warm-up requests and
times 30 calls at batch 1 and 10 at batch 100 per signature. Prints, per repeat, the wall time,
the fresh process's TensorFlow import, the model's load time and the p50/p99 latencies.

    .venv/bin/python bench/serving_check.py MODEL_DIR [--repeats 3]

MODEL_DIR: a Trainer model's `Format-Serving` folder or a pushed version, e.g.
outputs/serving_model/<version>.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from components.serving_check import executor
    rows = []
    for _ in range(args.repeats):
        result = executor.check(os.path.abspath(args.model_dir))
        if not result.get("blessed"):
            sys.exit(f"the check failed: {result.get('reason')}")
        latency = {f"{signature} b{batch.split('_')[1]}": f"{v['p50']:.2f}/{v['p99']:.2f}"
                   for signature, by_batch in result["latency_ms"].items() for batch, v in by_batch.items()}
        rows.append({"wall_s": round(result["seconds"], 2), "tf_import_s": round(result["import_seconds"], 2),
                     "load_s": round(result["load_seconds"], 3), "p50/p99 ms": latency})
        print(json.dumps(rows[-1]), flush=True)
    print(f"load average: {_common.load_average()}")


if __name__ == "__main__":
    main()
