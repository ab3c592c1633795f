"""Prototypes as the Keras tutorials teach them, through the real CLI, unchanged: keras.io's
structured-data style (one Input per column, adapted one-hot lookups and Normalization) as a
notebook whose top-level cells read files and call fit; a bag of TF-IDF bigrams; a
character-level model. One short run each (small data, 60 steps)."""
from __future__ import annotations

import csv
import json
import os
import textwrap

import pytest
from click.testing import CliRunner

from pipeline import config as config_lib
from pipeline.__main__ import cli
from pipeline.report import metadata
from tests.conftest import read_taxi_rows, write_csv
from tests.e2e.test_bring_your_own_model import SENTIMENT_CSV, predict, run_cli_on_a_terminal

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(90)]

PROJECT = config_lib.PROJECT_ROOT
NOTEBOOK = os.path.join(PROJECT, "examples", "taxi_structured.ipynb")
TOPICS = ("movie_review", "product_review", "tweet")


def summary_of(out):
    return metadata.summarize(config_lib.absolute(config_lib.PipelineConfig(output_dir=str(out))))


def test_the_structured_data_notebook_goes_in_as_it_is_by_its_function(tmp_path):
    """The notebook reads ../data/taxi/data.csv, trains and plots at the top level (none of which
    the pipeline runs: it has no matplotlib); its lookups are one_hot and unpadded."""
    with open(NOTEBOOK) as f:
        sources = [c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                   for c in json.load(f)["cells"] if c["cell_type"] == "code"]
    assert any("pd.read_csv(" in s for s in sources) and any("model.fit(" in s for s in sources)
    assert sum('output_mode="one_hot"' in s for s in sources) == 1
    assert not any("pad_to_max_tokens" in s for s in sources)
    columns, rows = read_taxi_rows(every=8)
    write_csv(str(tmp_path / "data" / "data.csv"), columns, rows)
    out = tmp_path / "out"
    result, terminal = run_cli_on_a_terminal(
        "--data-root", str(tmp_path / "data"), "--output-dir", str(out), "--train-steps", "60",
        "--min-accuracy", "0", "--min-auc", "0", "--model", f"{os.path.relpath(NOTEBOOK)}:build_model")
    text = result.output + terminal
    assert result.exit_code == 0, text
    assert 'model: skipped cell 4: dataframe = pd.read_csv("../data/taxi/data.csv")' in text
    assert "model: skipped cell 8: model = build_model(train_ds.map(lambda x, y: x))" in text
    assert "import matplotlib.pyplot as plt (ModuleNotFoundError" in text
    for line in ("payment_type (string, shape (None, 1)) <- payment_type",
                 "trip_start_hour (int64, shape (None, 1)) <- trip_start_hour",
                 "fare (float32, shape (None, 1)) <- fare"):
        assert line in terminal
    summary = summary_of(out)
    assert summary.pushed and summary.metrics["example_count"] > 500, summary.metrics
    scored = predict(out, tmp_path / "data" / "data.csv", tmp_path / "scored.csv")
    probabilities = {float(r["probability_1"]) for r in scored}
    assert len(scored) == len(rows) and len(probabilities) > 10

    # compile --model takes the notebook under the project, as the image holds it.
    spec = tmp_path / "nb-kfp2.json"
    compiled = CliRunner().invoke(cli, [
        "compile", "--target", "kfp2", "--output", str(spec), "--image", "r/keras-tfx:1",
        "--pipeline-root", "gs://no-such-bucket/nb", "--model",
        f"{os.path.relpath(NOTEBOOK)}:build_model"], catch_exceptions=False)
    assert compiled.exit_code == 0, compiled.output
    assert "/app/examples/taxi_structured.ipynb" in spec.read_text()


@pytest.fixture(scope="module")
def topics(tmp_path_factory):
    """A 3-topic text set: every 6th sentence of three of the sentiment data's sources, labelled
    by source (about 3,000 rows)."""
    with open(SENTIMENT_CSV, newline="") as f:
        rows = [{"text": r["text"], "topic": r["source"]} for i, r in enumerate(csv.DictReader(f))
                if i % 6 == 0 and r["source"] in TOPICS]
    root = tmp_path_factory.mktemp("topics")
    write_csv(str(root / "data" / "data.csv"), ["text", "topic"], rows)
    (root / "schema.pbtxt").write_text(textwrap.dedent("""\
        feature { name: "text" type: BYTES natural_language_domain {} }
        feature { name: "topic" type: BYTES domain: "topic" }
        string_domain { name: "topic" value: "movie_review" value: "product_review" value: "tweet" }
        """))
    majority = max(sum(r["topic"] == t for r in rows) for t in TOPICS) / len(rows)
    return root, majority


def run_text_prototype(topics, out, example):
    root, _ = topics
    return run_cli_on_a_terminal(
        "--data-root", str(root / "data"), "--schema", str(root / "schema.pbtxt"), "--label", "topic",
        "--output-dir", str(out), "--train-steps", "60", "--min-accuracy", "0",
        "--model", f"examples/{example}.py:build_model")


def test_a_tf_idf_bigram_bag_trains_and_beats_the_majority_class(topics, tmp_path):
    result, terminal = run_text_prototype(topics, tmp_path / "out", "text_tfidf")
    assert result.exit_code == 0, result.output + terminal
    assert "text (string, shape (None, 1)) <- text" in terminal
    summary = summary_of(tmp_path / "out")
    _, majority = topics
    # With its IDF weights lost (all zeros) the model could only learn the majority class.
    assert summary.pushed and summary.metrics["accuracy"] > majority + 0.1, (summary.metrics, majority)


def test_a_character_level_model_trains_and_scores_raw_text(topics, tmp_path):
    result, terminal = run_text_prototype(topics, tmp_path / "out", "text_characters")
    assert result.exit_code == 0, result.output + terminal
    summary = summary_of(tmp_path / "out")
    assert summary.pushed and summary.metrics["example_count"] > 500, summary.metrics
    rows = tmp_path / "new.csv"
    write_csv(str(rows), ["text"], [{"text": "Loved it. A wonderful, moving film!"},
                                    {"text": "@friend omg lol can't wait #weekend"}])
    scored = predict(tmp_path / "out", rows, tmp_path / "scored.csv")
    assert len(scored) == 2 and all(r["predicted_class"] in TOPICS for r in scored)
