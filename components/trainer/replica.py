"""One replica of a distributed Trainer: runs `run_fn` with this process's TF_CONFIG.

    TF_CONFIG='{"cluster": {"chief": ["h0:2222"], "worker": ["h1:2222"], "ps": ["h2:2222"]},
                "task": {"type": "worker", "index": 0}}' \
        python -m components.trainer.replica '{"train_files": ["gs://.../Split-train/*"], ...}'

The argument is the Trainer's FnArgs as JSON (train_files, eval_files, schema_path,
model_run_dir, serving_model_dir, train_steps, eval_steps, custom_config). Every replica runs
the same `run_fn`; the Estimator's `train_and_evaluate` reads the role from TF_CONFIG: the ps
serves variables until stopped, chief and workers train against it (between-graph
replication), and the chief exports the model. `model_run_dir` must be shared by all of them
(a gs:// or NFS path on a real cluster).
"""
from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv) -> None:
    import logging

    from tfx.components.trainer.fn_args_utils import FnArgs

    logging.basicConfig(level=logging.INFO)
    logging.getLogger("tensorflow").setLevel(logging.INFO)  # the Estimator's step and loss lines

    from components.trainer import task

    fields = json.loads(argv[1])
    task.run_fn(FnArgs(**fields))
    print(f"task {json.loads(os.environ['TF_CONFIG'])['task']} finished", flush=True)


if __name__ == "__main__":
    main(sys.argv)
