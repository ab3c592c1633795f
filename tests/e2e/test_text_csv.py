"""Free text with commas, double quotes and quoted newlines survives the whole way: the CSV
pre-check, CsvExampleGen's tf.Examples (byte for byte) and `predict`'s output CSV."""
from __future__ import annotations

import csv
import glob
import os

import pytest

from components.trainer.features import features_from_schema, load_schema
from pipeline import config as config_lib
from pipeline.data import csv_check
from pipeline.local import runner as local_runner
from pipeline.serving import predict, model as serving
from tests.conftest import read_taxi_rows, write_csv

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(30)]

LABEL = config_lib.DEFAULT_LABEL
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SENTIMENT_CSV = os.path.join(ROOT, "data", "sentiment", "data.csv")
# What a CSV writer must quote, and what a line-by-line reader gets wrong.
AWKWARD = [
    'He said "no, thanks", then left.',
    "First line of the note,\nsecond line, after a newline.",
    '"Quoted from start to end"',
    "Three\n\nlines, one of them empty",
    'A lone " quote, and a comma',
    "Café, naïve, 10/10 ★ – would ride again",
    "  leading and trailing spaces  ",
    "ends with a newline\n",
]
# A free-text feature (TFDV's `natural_language_domain {}`): the built-in model tokenizes and
# embeds it.
TEXT_FEATURE = """
feature {
  name: "note"
  type: BYTES
  natural_language_domain {}
}
"""


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A short run of the built-in model on taxi trips with a free-text `note` column."""
    root = tmp_path_factory.mktemp("text_csv")
    columns, trips = read_taxi_rows(every=6)
    with open(SENTIMENT_CSV, newline="", encoding="utf-8") as f:
        sentences = [row["text"] for row in csv.DictReader(f)]
    for i, trip in enumerate(trips):
        trip["note"] = AWKWARD[i // 7 % len(AWKWARD)] if i % 7 == 0 else sentences[i]
    trips[3]["note"] = ""  # an empty cell: no value, as for any column
    data_csv = write_csv(str(root / "data" / "trips.csv"), columns + ["note"], trips)
    schema_path = root / "schema.pbtxt"
    with open(config_lib.DEFAULT_SCHEMA) as f:
        schema_path.write_text(f.read() + TEXT_FEATURE)
    config = local_runner.run(config_lib.PipelineConfig(
        data_root=str(root / "data"), schema_path=str(schema_path), label=LABEL,
        output_dir=str(root / "out"), train_steps=100, min_accuracy=0.5))
    return config, data_csv, [trip["note"] for trip in trips], root


def test_the_csv_check_reads_rows_not_lines(text_run):
    config, _, notes, _ = text_run
    schema = load_schema(config.schema_path)
    features = features_from_schema(schema, LABEL)
    assert "note" in features.names
    rows = csv_check.check_data(config.data_root, schema, LABEL,
                                classes=features.label.classes, used=features.names)
    assert rows == len(notes)


def test_csv_example_gen_keeps_the_text_byte_for_byte(text_run):
    import tensorflow as tf

    config, _, notes, _ = text_run
    files = glob.glob(os.path.join(config.pipeline_root, config_lib.EXAMPLE_GEN, "examples", "*",
                                   "Split-*", "*.gz"))
    assert files
    seen = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        seen.extend(example.features.feature["note"].bytes_list.value or [b""])
    assert sorted(seen) == sorted(n.encode("utf-8") for n in notes)
    # What came through holds what a line-by-line reader would break: newlines, quotes, commas.
    assert sum(b"\n" in v for v in seen) > 100 and sum(b'"' in v and b"," in v for v in seen) > 10


def test_predict_writes_the_text_back_unchanged(text_run):
    config, data_csv, notes, root = text_run
    model_dir = serving.latest_version(config.serving_dir)
    assert model_dir, "the run pushed no model"
    output = str(root / "scored.csv")
    scored, rejected, _ = predict.predict_csv(data_csv, output, model_dir)
    assert (scored, rejected) == (len(notes), 0)
    with open(output, newline="", encoding="utf-8") as f:
        out_rows = list(csv.DictReader(f))
    assert [r["note"] for r in out_rows] == notes
    assert {r["predicted_class"] for r in out_rows} <= {"0", "1"}
