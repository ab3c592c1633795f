"""Where the Trainer's time goes: Estimator training steps/s with input-pipeline variants.

The same model and RunConfig as run_fn, on the bundled taxi rows (as ExampleGen's gzipped
TFRecords), `--steps` steps per variant after a warm-up, variants interleaved `--repeats`
times:

- `pipeline`: the input_fn run_fn uses;
- `constant`: one parsed batch repeated (no input cost at all: the ceiling of the model step);
- `pipeline+xla`: run_fn's input_fn, with XLA auto-clustering (JIT) in the session config.

    .venv/bin/python bench/trainer_profile.py [--steps 2000] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import _common  # noqa: E402
from components.trainer import inputs, model as model_lib, task  # noqa: E402
from components.trainer.features import features_from_schema, load_schema  # noqa: E402
from components.trainer.hparams import HParams  # noqa: E402
from pipeline import config as config_lib  # noqa: E402
from estimator_overhead import write_records  # noqa: E402


def variants(pattern, features, hparams):
    def pipeline():
        return inputs.make_dataset([pattern], features, hparams.batch_size, training=True, seed=1)

    def constant():
        return pipeline().take(1).cache().repeat()

    return {"pipeline": pipeline, "constant": constant}


def session_configs():
    """Session settings to compare: TF's default, and XLA auto-clustering (JIT) of the graph."""
    xla = tf.compat.v1.ConfigProto()
    xla.graph_options.optimizer_options.global_jit_level = tf.compat.v1.OptimizerOptions.ON_1
    return {"default": None, "xla": xla}


def steps_per_s(features, prep, hparams, input_fn, steps, workdir, session_config=None) -> float:
    model = model_lib.build_keras_model(features, prep, hparams, seed=1)
    config = task.run_config(workdir, seed=1, train_steps=steps)
    if session_config is not None:
        config = config.replace(session_config=session_config)
    estimator = tf.keras.estimator.model_to_estimator(keras_model=model, config=config)
    estimator.train(input_fn, steps=50)
    start = time.perf_counter()
    estimator.train(input_fn, steps=steps)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    features = features_from_schema(load_schema(config_lib.DEFAULT_SCHEMA), config_lib.DEFAULT_LABEL)
    hparams = HParams()
    results = {"steps": args.steps, "batch_size": hparams.batch_size, "load_at_start": _common.load_average()}
    with tempfile.TemporaryDirectory() as tmp:
        pattern = os.path.join(tmp, "train", "data.gz")
        write_records(pattern, features)
        prep = inputs.learn_preprocessing([pattern], features)
        measured = {}
        for i in range(args.repeats):
            for name, input_fn in variants(pattern, features, hparams).items():
                for session_name, session_config in session_configs().items():
                    if name != "pipeline" and session_name != "default":
                        continue
                    key = name if session_name == "default" else f"{name}+{session_name}"
                    measured.setdefault(key, []).append(round(steps_per_s(
                        features, prep, hparams, input_fn, args.steps, os.path.join(tmp, f"{key}{i}"),
                        session_config), 1))
    results["steps_per_s"] = measured
    results["median_steps_per_s"] = {k: statistics.median(v) for k, v in measured.items()}
    results["load_at_end"] = _common.load_average()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
