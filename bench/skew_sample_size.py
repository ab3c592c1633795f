"""How many scored rows the serving-skew check needs before its warnings mean something.

`predict` compares the rows it scores with the served model's training statistics, with the
drift guard's comparators and the schema's thresholds (pipeline/serving/skew.py). A handful of
rows drawn from the very distribution the model was trained on can still read as drifted: a
histogram of 5 values is far from any population's. For each bundled data set and its checked-in
schema, this takes a random two thirds of the rows as the training data (the pipeline's train
split is two of three hash buckets), draws `--repeats` samples of each size from the other third
(data that did not drift), and prints how often a sample raised any warning (a false alarm), and
which features did.

    .venv/bin/python bench/skew_sample_size.py [--repeats 20] [--sizes 5,10,20,50,100,200,500]
"""
from __future__ import annotations

import argparse
import collections
import csv
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DATASETS = {"taxi": ("data/taxi/data.csv", "schemas/taxi/schema.pbtxt"),
            "sentiment": ("data/sentiment/data.csv", "schemas/sentiment/schema.pbtxt"),
            "progression": ("data/progression/progression.csv", "schemas/progression/schema.pbtxt")}


def _frame(rows, columns, schema):
    """The rows typed as the schema types them, as `skew.skew_warnings` reads a scored CSV."""
    import pandas as pd
    from tensorflow_metadata.proto.v0 import schema_pb2
    frame = pd.DataFrame(rows, columns=columns).replace("", None)
    for feature in schema.feature:
        if feature.name in frame and feature.type in (schema_pb2.INT, schema_pb2.FLOAT):
            frame[feature.name] = pd.to_numeric(frame[feature.name], errors="coerce")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sizes", default="5,10,20,50,100,200,500")
    parser.add_argument("--datasets", default="taxi,sentiment,progression")
    args = parser.parse_args()
    import tensorflow_data_validation as tfdv
    from components.drift_guard.executor import measure
    from components.trainer.features import load_schema
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.time()
    print(f"{'data':10} {'rows':>5} {'false alarms':>13}  features that alarmed (count)")
    for name in args.datasets.split(","):
        data, schema_path = DATASETS[name]
        schema = load_schema(os.path.join(root, schema_path))
        with open(os.path.join(root, data), newline="") as f:
            reader = csv.reader(f)
            columns = next(reader)
            rows = list(reader)
        rng = random.Random(0)
        rng.shuffle(rows)
        cut = len(rows) * 2 // 3
        training = tfdv.generate_statistics_from_dataframe(_frame(rows[:cut], columns, schema))
        held_out = rows[cut:]
        for size in [s for s in sizes if s <= len(held_out)]:
            alarms, features = 0, collections.Counter()
            for _ in range(args.repeats):
                sample = rng.sample(held_out, min(size, len(held_out)))
                _, measured = measure(tfdv.generate_statistics_from_dataframe(_frame(sample, columns, schema)),
                                      training, schema)
                drifted = [f["name"] for f in measured if f["drifted"]]
                alarms += bool(drifted)
                features.update(drifted)
            listed = ", ".join(f"{k} ({v})" for k, v in features.most_common(4)) or "-"
            print(f"{name:10} {size:>5} {alarms:>6}/{args.repeats:<6}  {listed}", flush=True)
    print(f"({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
