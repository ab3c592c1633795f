"""Benchmark 2 of issue 5: the cost of the Estimator.

Training throughput (examples/s) of the project's Keras model trained through
model_to_estimator + Estimator training, against the same model trained with model.fit,
on the same data (the bundled taxi CSV as TFRecords), batch size and steps.

    .venv/bin/python bench/estimator_overhead.py [--steps 2000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from components.trainer import hooks as hooks_lib, inputs, model as model_lib, task  # noqa: E402
from components.trainer.features import features_from_schema, load_schema  # noqa: E402
from components.trainer.hparams import HParams  # noqa: E402
from pipeline import config as config_lib  # noqa: E402
from pipeline.serving import model as serving


def write_records(path: str, features) -> int:
    rows = list(csv.DictReader(open(os.path.join(config_lib.DEFAULT_DATA_ROOT, "data.csv"))))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for row in rows:
            example = serving.to_example(row, features)
            example.features.feature[features.label.name].int64_list.value.append(int(row["big_tipper"]))
            writer.write(example.SerializeToString())
    return len(rows)


def time_estimator(features, prep, hparams, pattern, steps, workdir) -> float:
    model = model_lib.build_keras_model(features, prep, hparams, seed=1)
    estimator = task.estimator_from_keras(model, task.run_config(workdir, seed=1, train_steps=steps))
    hooks = hooks_lib.train_hooks(estimator.config, steps, hparams.batch_size)  # run_fn's hooks
    input_fn = inputs.make_input_fn([pattern], features, hparams.batch_size, training=True, seed=1)
    estimator.train(input_fn, steps=50)  # graph building, first checkpoint, warm-up
    start = time.perf_counter()
    estimator.train(input_fn, steps=steps, hooks=hooks)
    return steps * hparams.batch_size / (time.perf_counter() - start)


def time_fit(features, prep, hparams, pattern, steps) -> float:
    model = model_lib.build_keras_model(features, prep, hparams, seed=1)
    dataset = inputs.make_dataset([pattern], features, hparams.batch_size, training=True, seed=1)
    model.fit(dataset, steps_per_epoch=50, epochs=1, verbose=0)  # tracing, warm-up
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * hparams.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    features = features_from_schema(load_schema(config_lib.DEFAULT_SCHEMA), config_lib.DEFAULT_LABEL)
    hparams = HParams()
    with tempfile.TemporaryDirectory() as tmp:
        pattern = os.path.join(tmp, "train", "data.gz")
        rows = write_records(pattern, features)
        prep = inputs.learn_preprocessing([pattern], features)
        estimator, fit = [], []
        for i in range(args.repeats):
            estimator.append(time_estimator(features, prep, hparams, pattern, args.steps,
                                            os.path.join(tmp, f"est{i}")))
            fit.append(time_fit(features, prep, hparams, pattern, args.steps))
    result = {
        "rows": rows, "batch_size": hparams.batch_size, "steps": args.steps, "repeats": args.repeats,
        "estimator_examples_per_s": round(statistics.median(estimator)),
        "fit_examples_per_s": round(statistics.median(fit)),
        "ratio_estimator_to_fit": round(statistics.median(estimator) / statistics.median(fit), 3),
        "all_estimator": [round(v) for v in estimator], "all_fit": [round(v) for v in fit],
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
