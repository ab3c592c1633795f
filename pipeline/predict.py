"""`predict`: score CSV rows with a pushed model, streaming, and report rows that do not fit."""
from __future__ import annotations

import csv
import os
from typing import Iterator, List, Optional, Tuple

from pipeline.config import ConfigError

BATCH = 1024


def _input_files(path: str) -> List[str]:
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(".csv"))
        if not files:
            raise ConfigError(f"--input {path!r} holds no .csv file")
        return files
    if not os.path.isfile(path):
        raise ConfigError(f"--input {path!r} does not exist")
    return [path]


def load_model_card(model_dir: str):
    """The FeatureSet a pushed model was trained with (from its assets.extra/)."""
    from components.trainer import task
    from components.trainer.features import features_from_schema, load_schema
    extra = os.path.join(model_dir, task.ASSETS_EXTRA)
    schema_path = os.path.join(extra, task.SCHEMA_FILE)
    if not os.path.isfile(schema_path):
        raise ConfigError(f"{model_dir} carries no schema ({schema_path}); was it pushed by this pipeline?")
    with open(os.path.join(extra, task.LABEL_FILE)) as f:
        label = f.read().strip()
    return features_from_schema(load_schema(schema_path), label)


def _rows(files: List[str]) -> Iterator[Tuple[str, int, Optional[dict], Optional[str]]]:
    """(file, line, row or None, reason it does not fit or None), one CSV row at a time."""
    for path in files:
        with open(path, newline="", encoding="utf-8", errors="strict") as f:
            reader = csv.DictReader(f)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except (UnicodeDecodeError, csv.Error) as exc:
                    yield path, reader.line_num + 1, None, f"unreadable: {exc}"
                    break
                if None in row or any(v is None for v in row.values()):
                    yield path, reader.line_num, None, "wrong number of values for the header"
                    continue
                yield path, reader.line_num, row, None


def predict_csv(input_path: str, output: str, model_dir: str) -> Tuple[int, int, str]:
    """Writes input rows plus predicted class and class probabilities; returns (scored, rejected, rejects path)."""
    import numpy as np
    import tensorflow as tf

    from pipeline import serving

    features = load_model_card(model_dir)
    classes = [str(c) for c in features.label.classes]
    signature = tf.saved_model.load(model_dir).signatures[serving.SIGNATURE]
    files = _input_files(input_path)
    with open(files[0], newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f), [])
    missing = [n for n in features.names if n not in header]
    if missing:
        raise ConfigError(f"{files[0]}: the header lacks the model's features {missing}")
    out_columns = header + ["predicted_class"] + [f"probability_{c}" for c in classes]
    rejects_path = output + ".rejected.csv"
    tmp, tmp_rejects = output + ".partial", rejects_path + ".partial"
    scored = rejected = 0
    with open(tmp, "w", newline="") as out, open(tmp_rejects, "w", newline="") as bad:
        writer = csv.writer(out)
        writer.writerow(out_columns)
        rejects = csv.writer(bad)
        rejects.writerow(["file", "line", "reason"])
        batch: List[Tuple[dict, "tf.train.Example"]] = []

        def flush():
            if not batch:
                return
            serialized = tf.constant([e.SerializeToString() for _, e in batch])
            probabilities = signature(examples=serialized)["probabilities"].numpy()
            if probabilities.shape[1] == 1:  # binary: the positive class
                probabilities = np.concatenate([1 - probabilities, probabilities], axis=1)
            for (row, _), p in zip(batch, probabilities):
                writer.writerow([row.get(c, "") for c in header] + [classes[int(p.argmax())]]
                                + [f"{v:.6f}" for v in p])
            batch.clear()

        for path, line, row, reason in _rows(files):
            if row is not None:
                try:
                    batch.append((row, serving.to_example(row, features)))
                except ValueError as exc:
                    reason = f"a value does not fit its schema type: {exc}"
            if reason:
                rejects.writerow([path, line, reason])
                rejected += 1
                continue
            scored += 1
            if len(batch) >= BATCH:
                flush()
        flush()
    os.replace(tmp, output)
    if rejected:
        os.replace(tmp_rejects, rejects_path)
    else:
        os.remove(tmp_rejects)
    return scored, rejected, rejects_path
