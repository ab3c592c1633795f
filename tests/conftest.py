"""Shared fixtures: small data made from the bundled CSV, in temp dirs."""
from __future__ import annotations

import csv
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pipeline import config as config_lib  # noqa: E402

TAXI_CSV = os.path.join(config_lib.DEFAULT_DATA_ROOT, "data.csv")

# The time bound of an e2e test (pytest-timeout; pytest.ini's `timeout` bounds the others): a
# pipeline run takes 1-3 minutes here, and the first test of a module also pays for its shared
# runs. A test's own @pytest.mark.timeout(N) wins.
E2E_TIMEOUT_S = 1800


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("e2e") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT_S))
    # The costliest files first (`@pytest.mark.worker_seconds(N)`, measured), each file's tests
    # kept together and in order: `make test`'s workers take whole files in this order
    # (--dist loadfile --no-loadscope-reorder), so no long file starts last while the other
    # worker idles. The sort is stable: files without the mark keep their collection order.
    items.sort(key=lambda item: -_worker_seconds(item))


def _worker_seconds(item) -> float:
    mark = item.get_closest_marker("worker_seconds")
    return float(mark.args[0]) if mark else 0.0


def read_taxi_rows(every: int = 1):
    with open(TAXI_CSV, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, [row for i, row in enumerate(reader) if i % every == 0]


def write_csv(path: str, columns, rows) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def taxi_features():
    from components.trainer.features import features_from_schema, load_schema
    return features_from_schema(load_schema(config_lib.DEFAULT_SCHEMA), config_lib.DEFAULT_LABEL)


@pytest.fixture(scope="session")
def small_taxi_dir(tmp_path_factory):
    """Every 6th row of the bundled taxi CSV (about 2,500 rows)."""
    columns, rows = read_taxi_rows(every=6)
    root = tmp_path_factory.mktemp("small_taxi")
    write_csv(str(root / "data.csv"), columns, rows)
    return str(root)


def write_tfrecords(path: str, rows, features) -> str:
    """Rows (CSV dicts) as a gzipped TFRecord of tf.Examples, typed like CsvExampleGen's."""
    import tensorflow as tf
    from pipeline.serving.model import to_example

    os.makedirs(os.path.dirname(path), exist_ok=True)
    label = features.label
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for row in rows:
            example = to_example(row, features)
            slot = example.features.feature[label.name]
            if label.is_string:
                slot.bytes_list.value.append(row[label.name].encode())
            else:
                slot.int64_list.value.append(int(row[label.name]))
            writer.write(example.SerializeToString())
    return path


@pytest.fixture(scope="session")
def taxi_records(tmp_path_factory, taxi_features):
    """Small train/eval TFRecord splits in ExampleGen's layout."""
    _, rows = read_taxi_rows(every=10)
    root = tmp_path_factory.mktemp("records")
    write_tfrecords(str(root / "Split-train" / "data.gz"), rows[: len(rows) * 2 // 3], taxi_features)
    write_tfrecords(str(root / "Split-eval" / "data.gz"), rows[len(rows) * 2 // 3:], taxi_features)
    return str(root)
