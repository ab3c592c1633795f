"""Serving skew: do the rows `predict` scores look like the data the model was trained on?

The model's training statistics are found through its push record (`statistics_uri`, written by
the Pusher); the rows' statistics are TFDV's, computed in memory; the comparators and thresholds
are those of the schema the model carries (its drift_comparator fields), so the check is the
drift guard's. It only warns: scoring never depends on it. Fewer than MIN_ROWS rows are not
compared: samples that small, drawn from the training data itself, read as drifted.
"""
from __future__ import annotations

import os
from typing import List, Optional

from components.drift_guard import drifted_lines
from components.latest_pushed_model import records

# Below this many rows the check does not run. Measured with bench/skew_sample_size.py
# (BENCHMARKS.md): samples of held-out rows of the bundled data, which did not drift, raised a
# warning in 55% of the tries at 100 rows (taxi), 5% at 200 and none at 500.
MIN_ROWS = 200


class TooFewRows(Exception):
    """Too few rows to compare distributions: the check did not run."""

    def __init__(self, rows: int):
        super().__init__(f"{rows} rows are too few to compare with the training data (it takes {MIN_ROWS})")
        self.rows = rows


def training_statistics_uri(model_dir: str) -> Optional[str]:
    """The statistics_uri the push record of a pushed version folder names, or None."""
    model_dir = os.path.abspath(model_dir.rstrip("/"))
    record = records.read_record(os.path.dirname(model_dir), os.path.basename(model_dir))
    uri = (record or {}).get("statistics_uri")
    return str(uri) if uri else None


def skew_warnings(files: List[str], model_dir: str, schema, delimiter: str = ",",
                  decimal: str = ".") -> List[str]:
    """Warning lines, one per feature whose distribution in `files` drifted from the training
    data's past the schema's threshold; [] when none did or nothing can be compared. The files are
    read in predict's dialect (`delimiter`, the numbers' `decimal` mark).

    Raises:
      TooFewRows: the files hold fewer than MIN_ROWS rows.
    """
    uri = training_statistics_uri(model_dir)
    if not uri or not any(f.HasField("drift_comparator") for f in schema.feature):
        return []
    import pandas as pd
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2
    from components.drift_guard.executor import measure, split_statistics
    try:
        served = split_statistics(uri)
    except Exception:  # pylint: disable=broad-except  # the statistics were deleted: nothing to compare
        return []
    frame = pd.concat([pd.read_csv(f, sep=delimiter, dtype=str, keep_default_na=False) for f in files],
                      ignore_index=True)
    if len(frame) < MIN_ROWS:
        raise TooFewRows(len(frame))
    for feature in schema.feature:
        if feature.name not in frame:
            continue
        if feature.type in (schema_pb2.INT, schema_pb2.FLOAT):
            column = frame[feature.name] if decimal == "." else frame[feature.name].str.replace(decimal, ".")
            frame[feature.name] = pd.to_numeric(column.replace("", None), errors="coerce")
        else:
            frame[feature.name] = frame[feature.name].replace("", None)
    _, features = measure(tfdv.generate_statistics_from_dataframe(frame), served, schema)
    return drifted_lines(features)
