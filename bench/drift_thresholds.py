"""Drift thresholds by measurement: what TFDV's comparators read on data that did not drift, and
on data that did.

For each bundled data set (data/taxi, data/sentiment) and its checked-in schema, with the
comparator each feature gets by default (components/drift_guard/thresholds.py), it prints per
feature the largest distance over
  * halves:  two random halves of the same rows (--repeats seeds),
  * spans:   the rows split in file order into 2, 3 and 4 spans, each compared with the one before,
  * small:   the same at the size of the e2e tests' spans (every 6th row, halved),
and the distance when the feature moves:
  * numeric features: shifted by 5 standard deviations (ints rounded),
  * string categories and text: 30% of the rows set to one value they rarely have.
Statistics come from TFDV's generate_statistics_from_dataframe (StatisticsGen's generators, in
memory), columns typed as CsvExampleGen types them.

    .venv/bin/python bench/drift_thresholds.py [--repeats 3] [--datasets taxi,sentiment]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _stats(rows, columns, folder, name):
    """TFDV's statistics of `rows`, in memory (its same generators as StatisticsGen, no Beam job);
    columns typed as CsvExampleGen types them: numbers where every value parses, else strings."""
    import pandas as pd
    import tensorflow_data_validation as tfdv
    del folder, name
    frame = pd.DataFrame(rows, columns=columns).replace("", None)
    for column in columns:
        try:
            frame[column] = pd.to_numeric(frame[column])
        except (ValueError, TypeError):
            pass
    return tfdv.generate_statistics_from_dataframe(frame)


def _distances(new, old, schema):
    from components.drift_guard.executor import measure
    _, features = measure(new, old, schema)
    return {f["name"]: f["distance"] for f in features}


def _shifted(rows, feature, kind, rng):
    """The rows with `feature` moved: +5 standard deviations, or 30% set to a rare value."""
    values = [r[feature] for r in rows if r[feature] != ""]
    out = [dict(r) for r in rows]
    if kind == "numeric":
        numbers = [float(v) for v in values]
        mean = sum(numbers) / len(numbers)
        std = (sum((x - mean) ** 2 for x in numbers) / len(numbers)) ** 0.5
        is_int = all(float(v).is_integer() and "." not in v for v in values)
        for r in out:
            if r[feature] != "":
                moved = float(r[feature]) + 5 * std
                r[feature] = str(int(round(moved))) if is_int else f"{moved:.6g}"
        return out
    counts = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    rare = min(counts, key=lambda v: (counts[v], v))
    for r in rng.sample(out, int(0.3 * len(out))):
        r[feature] = rare
    return out


def bench(dataset: str, repeats: int, folder: str) -> dict:
    from components.drift_guard import thresholds
    from components.trainer.features import load_schema
    from pipeline import config as config_lib
    schema = load_schema(os.path.join(config_lib.PROJECT_ROOT, "schemas", dataset, "schema.pbtxt"))
    thresholds.add_drift_comparators(schema, overwrite=True)
    kinds = {}
    for feature in schema.feature:
        field, _ = thresholds.comparator_for(feature)
        if field:
            kinds[feature.name] = ("numeric" if field == thresholds.JS else
                                   "text" if feature.HasField("natural_language_domain") else "category")
    with open(os.path.join(config_lib.PROJECT_ROOT, "data", dataset, "data.csv"), newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    rng = random.Random(0)
    worst = {name: {"halves": 0.0, "spans": 0.0, "small": 0.0} for name in kinds}
    cases = [("halves", rows), ("small", rows[::6])]
    for label, pool in cases:
        for seed in range(repeats):
            shuffled = list(pool)
            random.Random(seed).shuffle(shuffled)
            half = len(shuffled) // 2
            d = _distances(_stats(shuffled[:half], columns, folder, "a"),
                           _stats(shuffled[half:], columns, folder, "b"), schema)
            for name, value in d.items():
                worst[name][label] = max(worst[name][label], value)
    for n_spans in (2, 3, 4):
        size = len(rows) // n_spans
        spans = [rows[i * size:(i + 1) * size] for i in range(n_spans)]
        stats = [_stats(span, columns, folder, f"span{i}") for i, span in enumerate(spans)]
        for before, after in zip(stats, stats[1:]):
            for name, value in _distances(after, before, schema).items():
                worst[name]["spans"] = max(worst[name]["spans"], value)
    small = list(rows[::6])
    random.Random(0).shuffle(small)
    half = len(small) // 2
    base = _stats(small[:half], columns, folder, "base")
    for name, kind in kinds.items():
        moved = _stats(_shifted(small[half:], name, kind, rng), columns, folder, "moved")
        worst[name]["moved"] = _distances(moved, base, schema).get(name)
        worst[name]["comparator"] = thresholds.comparator_for(schema.feature[[f.name for f in schema.feature].index(name)])[0]
        worst[name]["kind"] = kind
    return {"dataset": dataset, "rows": len(rows), "small_span_rows": half, "features": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datasets", default="taxi,sentiment")
    args = parser.parse_args()
    from components.drift_guard import thresholds
    started = time.time()
    print(f"defaults: JS {thresholds.JS_THRESHOLD}, L-inf {thresholds.LINF_THRESHOLD}, "
          f"text L-inf {thresholds.TEXT_LINF_THRESHOLD}")
    with tempfile.TemporaryDirectory() as folder:
        for dataset in args.datasets.split(","):
            result = bench(dataset, args.repeats, folder)
            print(f"\n{dataset}: {result['rows']} rows; small spans {result['small_span_rows']} rows")
            print(f"{'feature':<24} {'comparator':<26} {'halves':>8} {'small':>8} {'spans':>8} {'moved':>8}")
            for name, w in result["features"].items():
                moved = "-" if w.get("moved") is None else f"{w['moved']:.4f}"
                print(f"{name:<24} {w['comparator']:<26} {w['halves']:8.4f} {w['small']:8.4f} "
                      f"{w['spans']:8.4f} {moved:>8}")
            print(json.dumps(result))
    print(f"\ntook {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
