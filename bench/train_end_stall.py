"""Seconds from the last training step to the end of `Estimator.train`: the end-of-training stall.

Each repeat runs in this process what the Trainer runs for the bundled example: the built-in model
on the taxi rows (as ExampleGen's gzipped TFRecords), `model_to_estimator`, run_fn's RunConfig and
hooks, `--steps` steps over `inputs.make_dataset` (run_fn's input_fn). `--mode autotune` turns
tf.data's autotuning back on (as before the fix: its model thread's lost wake-up held the end of
`train` until the thread's next 10 ms * 2^k wake-up); `--mode fixed` is the Trainer as it is.
One JSON line per repeat. Run each repeat in its own process for independent samples:

    for m in autotune fixed autotune fixed; do .venv/bin/python bench/train_end_stall.py --mode $m; done

With `--py-spy PATH` (py-spy's binary), a native stack dump is written 0.5 s after the last step
when `train` has not returned by then: it shows where the main thread waits.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from components.trainer import hooks as hooks_lib, inputs, model as model_lib, task  # noqa: E402
from components.trainer.features import features_from_schema, load_schema  # noqa: E402
from components.trainer.hparams import HParams  # noqa: E402
from estimator_overhead import write_records  # noqa: E402
from pipeline import config as config_lib  # noqa: E402


class Mark(tf.compat.v1.train.SessionRunHook):
    """Times the session's creation and the last step; optionally dumps the stacks of a stall."""

    def __init__(self, py_spy: str = ""):
        self.py_spy, self.returned = py_spy, False

    def after_create_session(self, session, coord):
        self.created = time.perf_counter()

    def after_run(self, run_context, run_values):
        self.last = time.perf_counter()

    def end(self, session):
        if self.py_spy:
            def dump():
                time.sleep(0.5)
                if not self.returned:
                    out = subprocess.run([self.py_spy, "dump", "--native", "--pid", str(os.getpid())],
                                         capture_output=True, text=True).stdout
                    with open(f"stall-{os.getpid()}.txt", "w") as f:
                        f.write(out)
            threading.Thread(target=dump, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("autotune", "fixed"), default="fixed")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--py-spy", default="")
    args = parser.parse_args()
    features = features_from_schema(load_schema(config_lib.DEFAULT_SCHEMA), config_lib.DEFAULT_LABEL)
    hparams = HParams()
    tmp = tempfile.mkdtemp()
    pattern = os.path.join(tmp, "train", "data.gz")
    write_records(pattern, features)
    prep = inputs.learn_preprocessing([pattern], features)
    for i in range(args.repeats):
        load = open("/proc/loadavg").read().split()[0]
        model = model_lib.build_keras_model(features, prep, hparams, seed=1)

        def input_fn():
            dataset = inputs.make_dataset([pattern], features, hparams.batch_size, training=True, seed=1)
            if args.mode == "autotune":
                options = tf.data.Options()
                options.autotune.enabled = True
                dataset = dataset.with_options(options)
            return dataset
        config = task.run_config(os.path.join(tmp, f"m{i}"), seed=1, train_steps=args.steps)
        estimator = task.estimator_from_keras(model, config)
        mark = Mark(args.py_spy)
        started = time.perf_counter()
        estimator.train(input_fn, max_steps=args.steps,
                        hooks=hooks_lib.train_hooks(estimator.config, args.steps, hparams.batch_size) + [mark])
        ended = time.perf_counter()
        mark.returned = True
        print(json.dumps({"mode": args.mode, "steps": args.steps, "train_s": round(ended - started, 2),
                          "last_step_to_return_s": round(ended - mark.last, 2),
                          "session_to_return_s": round(ended - mark.created, 2), "load": load}), flush=True)


if __name__ == "__main__":
    main()
