"""What the export's serving additions cost (issue 18, items 1-2): the raw-features signature,
the check that both signatures agree on the warm-up rows, and TF Serving's warm-up file.

Trains the built-in model through `run_fn` on the bundled taxi data (a third as eval split,
`--train-steps` steps), then times, `--repeats` times each, on the Estimator's export:
re-saving it with both signatures and no check; the same with the agreement check over the
100 warm-up rows (what run_fn does); writing the warm-up file; and replaying the warm-up
requests through `tf.saved_model.load` (what a serving check pays). Prints the medians, the
warm-up file's size and the load average.

    .venv/bin/python bench/export_cost.py [--repeats 3] [--train-steps 200] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _common  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    from tfx.components.trainer.fn_args_utils import FnArgs

    from components.trainer import constants, export, task
    from components.trainer.features import features_from_schema, load_schema
    from pipeline import config as config_lib
    from tests.conftest import read_taxi_rows, write_tfrecords

    workdir = args.workdir or tempfile.mkdtemp(prefix="export_cost_")
    features = features_from_schema(load_schema(config_lib.DEFAULT_SCHEMA), config_lib.DEFAULT_LABEL)
    _, rows = read_taxi_rows()
    records = os.path.join(workdir, "records")
    write_tfrecords(os.path.join(records, "Split-train", "d.gz"), rows[: len(rows) * 2 // 3], features)
    write_tfrecords(os.path.join(records, "Split-eval", "d.gz"), rows[len(rows) * 2 // 3:], features)
    fn_args = FnArgs(
        train_files=[os.path.join(records, "Split-train", "*")],
        eval_files=[os.path.join(records, "Split-eval", "*")],
        schema_path=config_lib.DEFAULT_SCHEMA, model_run_dir=os.path.join(workdir, "model_run"),
        serving_model_dir=os.path.join(workdir, "serving"), train_steps=args.train_steps,
        eval_steps=None, custom_config={constants.LABEL_KEY: config_lib.DEFAULT_LABEL, constants.SEED_KEY: 1})
    task.run_fn(fn_args)
    export_dir = export.latest_export(fn_args.model_run_dir)
    examples = export.eval_rows(fn_args.eval_files)
    names = export.raw_feature_names(features)

    def timed(function) -> float:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start

    def fresh(name):
        path = os.path.join(workdir, name)
        shutil.rmtree(path, ignore_errors=True)
        return path

    def replay():
        loaded = tf.saved_model.load(fn_args.serving_model_dir)
        path = os.path.join(fn_args.serving_model_dir, constants.ASSETS_EXTRA, constants.WARMUP_FILE)
        for record in tf.data.TFRecordDataset(path):
            request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
            loaded.signatures[request.model_spec.signature_name](
                **{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})

    times = {"re-save with both signatures, no check": [], "re-save + agreement check (run_fn)": [],
             "write the warm-up file": [], "load + replay the warm-up file": []}
    for _ in range(args.repeats):
        times["re-save with both signatures, no check"].append(timed(
            lambda: export.publish(export_dir, fresh("no_check"), features)))
        times["re-save + agreement check (run_fn)"].append(timed(
            lambda: export.publish(export_dir, fresh("check"), features, examples=examples)))
        times["write the warm-up file"].append(timed(
            lambda: export.write_warmup_requests(fresh("warmup"), examples, features, names)))
        times["load + replay the warm-up file"].append(timed(replay))
    warmup = os.path.join(fn_args.serving_model_dir, constants.ASSETS_EXTRA, constants.WARMUP_FILE)
    print(f"{len(examples)} warm-up rows, {len(names)} raw inputs; warm-up file "
          f"{os.path.getsize(warmup)} bytes; load average {_common.load_average()}")
    for name, values in times.items():
        print(f"{name:45s} median {statistics.median(values):.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
