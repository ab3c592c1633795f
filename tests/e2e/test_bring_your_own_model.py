"""A user's own Keras prototype through the real CLI: bound, converted, trained as an Estimator,
evaluated by TFMA, pushed and served; and every mistake a user makes with one, refused before
anything is trained, with earlier versions byte-for-byte unchanged."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest
from click.testing import CliRunner

from components.trainer.features import features_from_schema, load_schema
from pipeline import config as config_lib
from pipeline.report import metadata
from pipeline.serving import model as serving_model
from pipeline.__main__ import cli
from tests.conftest import read_taxi_rows, write_csv
from tests.components.trainer import test_export
from tests.e2e.outputs import Snapshot, tree_digest
from tests.e2e.test_local_pipeline import first_eval_split

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(170)]

PROJECT = config_lib.PROJECT_ROOT
SENTIMENT_CSV = os.path.join(PROJECT, "data", "sentiment", "data.csv")

# Prototypes as a data scientist writes them; line numbers matter to one test (`raises`).
PROTOTYPES = '''\
import tensorflow as tf


def raises(train_dataset):
    vocabulary = {"a": 1}
    return vocabulary["missing word"]


def not_a_model():
    return {"layers": 3}


def uncompiled():
    return tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])


def two_unnamed_inputs():
    x, y = tf.keras.Input(shape=(1,)), tf.keras.Input(shape=(1,))
    model = tf.keras.Model([x, y], tf.keras.layers.Dense(1, activation="sigmoid")(
        tf.keras.layers.Concatenate()([x, y])))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def three_outputs_for_two_classes():
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,), name="trip_miles"),
                                 tf.keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def numeric_sequential(train_dataset, hparams):
    """Every numeric column stacked, as the pipeline feeds a single-input model (schema order);
    two softmax units for the binary label, as many notebooks write it."""
    columns = ["fare", "trip_miles", "trip_seconds", "trip_start_hour"]
    normalize = tf.keras.layers.Normalization()
    normalize.adapt(train_dataset.map(lambda f: tf.concat([f[c] for c in columns], axis=-1)))
    model = tf.keras.Sequential([
        normalize,
        tf.keras.layers.Dense(hparams.get("units", 16), activation="relu"),
        tf.keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def needs_a_vocabulary(train_dataset, vocabulary):
    return tf.keras.Sequential([tf.keras.layers.Dense(1)])


class Mine(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = tf.keras.layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        return self.dense(inputs)


def subclassed():
    model = Mine()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def one_hot_loss():
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,), name="trip_miles"),
                                 tf.keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def two_outputs():
    miles = tf.keras.Input(shape=(1,), name="trip_miles")
    hidden = tf.keras.layers.Dense(4)(miles)
    model = tf.keras.Model(miles, [tf.keras.layers.Dense(1, activation="sigmoid")(hidden),
                                   tf.keras.layers.Dense(1)(hidden)])
    model.compile(optimizer="adam", loss=["binary_crossentropy", "mse"])
    return model


def normalization_adapted_on_gaps(train_dataset):
    latitude = tf.keras.Input(shape=(1,), name="dropoff_latitude")  # empty in about 3% of rows
    normalize = tf.keras.layers.Normalization()
    normalize.adapt(train_dataset.map(lambda f: f["dropoff_latitude"]))  # NaN where a value is missing
    model = tf.keras.Model(latitude, tf.keras.layers.Dense(1, activation="sigmoid")(normalize(latitude)))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def two_named_inputs(train_dataset, num_classes):
    """Inputs named unlike the CSV columns; logits out (from_logits=True)."""
    distance = tf.keras.Input(shape=(1,), name="distance")
    firm = tf.keras.Input(shape=(1,), dtype=tf.string, name="firm")
    firms = tf.keras.layers.StringLookup()
    firms.adapt(train_dataset.map(lambda f: f["company"]))
    miles = tf.keras.layers.Normalization()
    miles.adapt(train_dataset.map(lambda f: tf.where(tf.math.is_nan(f["trip_miles"]), 0.0, f["trip_miles"])))
    clean = tf.keras.layers.Lambda(lambda x: tf.where(tf.math.is_nan(x), tf.zeros_like(x), x))(distance)
    embedded = tf.keras.layers.Flatten()(
        tf.keras.layers.Embedding(firms.vocabulary_size(), 4)(firms(firm)))
    x = tf.keras.layers.Concatenate()([miles(clean), embedded])
    logits = tf.keras.layers.Dense(1)(tf.keras.layers.Dense(8, activation="relu")(x))
    model = tf.keras.Model([distance, firm], logits)
    model.compile(optimizer="adam", loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0.0)])
    return model


def _clean_names(names):
    """Python code inside the model: what a SavedModel cannot carry."""
    return tf.constant([[n.decode("utf-8").strip().lower().encode("utf-8")] for n in names.numpy()[:, 0]])


def py_function_cleaning(train_dataset):
    """Cleans the company names with Python (tf.py_function) in a Lambda: trains, evaluates, exports;
    no other process can run it."""
    firm = tf.keras.Input(shape=(1,), dtype=tf.string, name="company")

    def clean(x):
        cleaned = tf.py_function(_clean_names, [x], tf.string)
        cleaned.set_shape(x.shape)
        return cleaned
    cleaned = tf.keras.layers.Lambda(clean, name="clean_names")(firm)
    firms = tf.keras.layers.StringLookup()
    firms.adapt(train_dataset.map(lambda f: tf.strings.lower(tf.strings.strip(f["company"]))))
    embedded = tf.keras.layers.Flatten()(tf.keras.layers.Embedding(firms.vocabulary_size(), 4)(firms(cleaned)))
    model = tf.keras.Model(firm, tf.keras.layers.Dense(1, activation="sigmoid")(embedded))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model
'''
RAISES_LINE = 6  # `return vocabulary["missing word"]`


def auc(labels, scores) -> float:
    """ROC AUC as the chance that a positive scores above a negative (ties a half)."""
    from scipy.stats import rankdata
    ranks, positives = rankdata(scores), [label == 1 for label in labels]
    n_pos = sum(positives)
    n_neg = len(labels) - n_pos
    return (sum(r for r, p in zip(ranks, positives) if p) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def run_cli(*args):
    return CliRunner().invoke(cli, ["run", "--train-steps", "100", "--min-accuracy", "0.5", "--min-auc", "0", *args],
                              catch_exceptions=False)


def run_cli_on_a_terminal(*args):
    """run_cli, plus what the run printed on the terminal (progress lines go to file descriptor
    1 itself, which CliRunner does not capture)."""
    with tempfile.TemporaryFile() as terminal:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(terminal.fileno(), 1)
        try:
            result = run_cli(*args)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        terminal.seek(0)
        return result, terminal.read().decode()


def predict(output_dir, rows_csv, scored):
    result = CliRunner().invoke(cli, ["predict", "--input", str(rows_csv), "--output", str(scored),
                                      "--output-dir", str(output_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open(scored, newline="") as f:
        return list(csv.DictReader(f))


def binding_of(output_dir):
    root = os.path.join(output_dir, "pipeline_root", "Trainer", "model_run")
    newest = max(os.listdir(root), key=int)
    with open(os.path.join(root, newest, "binding.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def prototypes(tmp_path_factory):
    path = tmp_path_factory.mktemp("prototypes") / "protos.py"
    path.write_text(PROTOTYPES)
    return path


@pytest.fixture(scope="module")
def taxi(tmp_path_factory):
    columns, rows = read_taxi_rows(every=6)
    root = tmp_path_factory.mktemp("byo_taxi")
    write_csv(str(root / "data" / "data.csv"), columns, rows)
    return root


def test_a_sequential_model_over_numeric_features_with_a_keras_named_input(prototypes, tmp_path):
    numeric = ["fare", "trip_miles", "trip_seconds", "trip_start_hour", "big_tipper"]
    _, rows = read_taxi_rows(every=6)
    rows = [{c: r[c] for c in numeric} for r in rows if all(r[c] != "" for c in numeric)]
    # The label made to follow the trip's length (a big tip on long trips): a model that learns
    # it ranks rows far better than chance, so serving the wrong softmax column shows plainly.
    median = sorted(float(r["trip_miles"]) for r in rows)[len(rows) // 2]
    rows = [dict(r, big_tipper=str(int(float(r["trip_miles"]) > median))) for r in rows]
    write_csv(str(tmp_path / "data" / "data.csv"), numeric, rows)
    (tmp_path / "schema.pbtxt").write_text(textwrap.dedent("""\
        feature { name: "fare" type: FLOAT }
        feature { name: "trip_miles" type: FLOAT }
        feature { name: "trip_seconds" type: INT }
        feature { name: "trip_start_hour" type: INT int_domain { is_categorical: true } }
        feature { name: "big_tipper" type: INT int_domain { min: 0 max: 1 is_categorical: true } }
        """))
    out = tmp_path / "out"
    result, terminal = run_cli_on_a_terminal(
        "--data-root", str(tmp_path / "data"), "--schema", str(tmp_path / "schema.pbtxt"),
        "--label", "big_tipper", "--slice", "trip_start_hour", "--output-dir", str(out),
        "--model", f"{prototypes}:numeric_sequential", "--hparam", "units=8",
        "--train-steps", "300", "--min-accuracy", "0")
    assert result.exit_code == 0, result.output + terminal
    # The Sequential's input was named by Keras (`normalization_input`): the pipeline read it.
    assert ("normalization_input (float32, shape (None, 4)) <- [fare, trip_miles, trip_seconds, "
            "trip_start_hour]   (the model's single input, every model feature stacked (all numeric))"
            ) in terminal
    binding = binding_of(str(out))
    assert binding["inputs"][0]["input"] == "normalization_input"
    assert binding["inputs"][0]["features"] == ["fare", "trip_miles", "trip_seconds", "trip_start_hour"]
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(out)))
    summary = metadata.summarize(config)
    assert summary.pushed and summary.metrics["example_count"] > 500
    # Served with the schema's feature names, whatever the model calls its input.
    scored = predict(out, tmp_path / "data" / "data.csv", tmp_path / "scored.csv")
    assert len(scored) == len(rows)
    probabilities = [float(r["probability_1"]) for r in scored]
    assert len(set(probabilities)) > 10 and all(0 <= p <= 1 for p in probabilities)
    # Two softmax units: the served model gives the positive class's column ([n, 1]), so the
    # higher it is, the likelier a big tipper (AUC well above 0.5; the other column's is below).
    labels = [int(r["big_tipper"]) for r in rows]
    assert auc(labels, probabilities) > 0.9, auc(labels, probabilities)
    assert [r["predicted_class"] for r in scored] == [str(int(p > 0.5)) for p in probabilities]
    import tensorflow as tf
    signature = tf.saved_model.load(summary.pushed_path).signatures["serving_default"]
    assert signature.structured_outputs["probabilities"].shape.as_list() == [None, 1]


@pytest.fixture(scope="module")
def functional_run(prototypes, taxi):
    out = taxi / "out"
    result, terminal = run_cli_on_a_terminal(
        "--data-root", str(taxi / "data"), "--output-dir", str(out),
        "--model", f"{prototypes}:two_named_inputs",
        "--input-map", "distance=trip_miles", "--input-map", "firm=company")
    assert result.exit_code == 0, result.output + terminal
    return terminal, out


def test_a_functional_model_with_two_inputs_named_unlike_the_columns_bound_by_input_map(
        functional_run, taxi, tmp_path):
    terminal, out = functional_run
    assert "distance (float32, shape (None, 1)) <- trip_miles   (--input-map)" in terminal
    assert "firm (string, shape (None, 1)) <- company   (--input-map)" in terminal
    assert "features not used by the model: " in terminal
    assert terminal.count("model inputs <- features:") == 1  # printed once per run
    assert {b["input"]: b["features"] for b in binding_of(str(out))["inputs"]} == {
        "distance": ["trip_miles"], "firm": ["company"]}
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(out)))
    assert metadata.summarize(config).pushed
    # The model gives logits (from_logits=True); the served model gives probabilities.
    scored = predict(out, taxi / "data" / "data.csv", tmp_path / "scored.csv")
    values = [float(r["probability_1"]) for r in scored]
    assert all(0.0 <= v <= 1.0 for v in values) and len(set(values)) > 10
    for row in scored:
        assert abs(float(row["probability_0"]) + float(row["probability_1"]) - 1) < 1e-4


def test_a_users_pushed_model_serves_the_bound_columns_raw_and_warms_up_tf_serving(functional_run):
    _, out = functional_run
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(out)))
    features = features_from_schema(load_schema(config.schema_path), config.label)
    # The served version (refusals run later on the same output dir push nothing, whatever the order).
    pushed = serving_model.latest_version(config.serving_dir).rstrip("/")
    # Keyed by the columns the binding feeds (trip_miles, company), not the model's input names.
    test_export.check_raw_signature(pushed, test_export.rows_with_gaps(), features, config.schema_path,
                                    ["trip_miles", "company"], classes=["0", "1"])
    test_export.check_warmup(pushed, first_eval_split(config), ["trip_miles", "company"])


# (id, --model target, extra args, exit code, words the message holds). Exit code 2: refused
# before any component ran; 1: refused in the Trainer, before training.
ERRORS = [
    ("file-not-found", "nowhere/proto.py:build", [], 2, ["does not exist", "Nothing was run"]),
    ("module-not-found", "no_such_package.prototype:build", [], 2,
     ["no module 'no_such_package.prototype' importable from"]),
    ("function-missing", "{protos}:build_model", [], 2,
     ["has no 'build_model'", "Functions defined there: ['Mine', 'needs_a_vocabulary', "
                            "'normalization_adapted_on_gaps', 'not_a_model', 'numeric_sequential',"]),
    ("required-arguments", "{protos}:needs_a_vocabulary", [], 2,
     ["needs_a_vocabulary() requires ['vocabulary'], which the pipeline does not provide",
      "give the others defaults", "Nothing was run"]),
    ("function-raises", "{protos}:raises", [], 1,
     [f'{{protos}}", line {RAISES_LINE}, in raises', 'return vocabulary["missing word"]',
      "KeyError: 'missing word'", "Nothing was trained or pushed"]),
    ("not-a-model", "{protos}:not_a_model", [], 1, ["returned a builtins.dict", "compiled tf.keras.Model"]),
    ("not-compiled", "{protos}:uncompiled", [], 1, ["is not compiled", "model.compile("]),
    ("subclassed", "{protos}:subclassed", [], 1,
     ["Mine is a subclassed Keras model", "tf.keras.Sequential or the functional API"]),
    ("several-outputs", "{protos}:two_outputs", [], 1,
     ["the model has 2 outputs; the pipeline trains one classifier output"]),
    ("one-hot-loss", "{protos}:one_hot_loss", [], 1,
     ["the loss is categorical_crossentropy, which expects one-hot labels",
      "sparse_categorical_crossentropy"]),
    ("normalization-adapted-on-gaps", "{protos}:normalization_adapted_on_gaps", [], 1,
     ["(Normalization) learned a mean or variance that is NaN", "adapt() saw missing values",
      "tf.where(tf.math.is_nan(x), 0.0, x)"]),
    ("unbindable-inputs", "{protos}:two_unnamed_inputs", [], 1,
     ["no feature for the model input(s) ['input_1', 'input_2']", "--input-map input_1=FEATURE"]),
    ("output-width", "{protos}:three_outputs_for_two_classes", [], 1,
     ["output has shape (None, 3), which does not fit the label's 2 classes", "1 unit (sigmoid"]),
    ("string-feature-to-numeric-input", "{protos}:two_named_inputs",
     ["--input-map", "distance=company", "--input-map", "firm=payment_type"], 1,
     ["input 'distance' takes float32 values but is bound to the string feature 'company'"]),
    ("numeric-feature-to-string-input", "{protos}:two_named_inputs",
     ["--input-map", "distance=trip_miles", "--input-map", "firm=fare"], 1,
     ["input 'firm' takes string values but is bound to the numeric feature 'fare'"]),
]


@pytest.mark.parametrize("target, extra, code, words", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_a_users_mistake_stops_the_run_before_training_and_changes_nothing(
        functional_run, prototypes, taxi, target, extra, code, words):
    _, out = functional_run
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(out)))
    before = Snapshot(config)

    result = run_cli("--data-root", str(taxi / "data"), "--output-dir", str(out),
                     "--model", target.format(protos=prototypes), *extra)

    assert result.exit_code == code, result.output
    message = result.stderr
    assert message.startswith("error: ") and "Traceback" not in result.output
    for word in words:
        assert word.format(protos=prototypes) in message, message
    assert "site-packages" not in message  # their code's lines, not TensorFlow's
    # Nothing trained (no checkpoint or event file under model_run/), nothing pushed; exit 2 ran
    # no component at all, exit 1 left the one FAILED Trainer execution of its refusal.
    before.assert_nothing_trained_or_pushed(trainer_failed_before_training=code == 1)


def test_a_model_that_calls_python_is_refused_by_the_serving_check_and_nothing_is_pushed(
        functional_run, prototypes, taxi, tmp_path):
    """A prototype whose Lambda cleans text with tf.py_function trains and is blessed by the
    Evaluator (same process), but no server can run it: the serving check refuses it, naming the
    layer, the run exits 1 and the versions already served stay byte for byte the same."""
    _, out = functional_run
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(out)))
    served = tree_digest(config.serving_dir)
    versions = sorted(os.listdir(config.serving_dir))
    result, terminal = run_cli_on_a_terminal(
        "--data-root", str(taxi / "data"), "--output-dir", str(out), "--model", f"{prototypes}:py_function_cleaning",
        "--max-accuracy-drop", "1", "--min-accuracy", "0")
    assert result.exit_code == 1, result.output + terminal
    reason = ("the model calls tf.py_function (layer 'clean_names'): a SavedModel cannot carry Python code, so "
              "TF Serving and every other process fail on it; do the cleaning with tf.strings ops or "
              "TextVectorization(standardize=...)")
    assert f"      serving check: failed: {reason}" in terminal.splitlines(), terminal
    assert f"serving check: failed: {reason}" in result.stdout.splitlines()
    assert "pushed: nothing (the model failed the serving check)" in result.stdout.splitlines()
    # The last words (before them, under CliRunner, only the run log's lines the terminal never shows).
    assert ("\n" + result.stderr).endswith(
        f"\nerror: ServingCheck: {reason}\nNothing was pushed; the versions already served are unchanged.\n")
    assert "Traceback" not in result.stdout + terminal
    summary = metadata.summarize(config)
    assert summary.blessed is True and summary.serving_check_failed and not summary.pushed
    assert summary.states[config_lib.SERVING_CHECK] == "ran" and summary.states[config_lib.PUSHER] == "ran"
    assert tree_digest(config.serving_dir) == served and sorted(os.listdir(config.serving_dir)) == versions
    # `runs` and ML Metadata say so too.
    runs = CliRunner().invoke(cli, ["runs", "--output-dir", str(out), "--limit", "1"], catch_exceptions=False)
    assert " blessed      not servable  not pushed" in runs.output, runs.output
    # predict, given the model anyway, says it cannot run it, in one message.
    trainer_model = os.path.join(_newest_trainer_model(out), "Format-Serving")
    write_csv(str(tmp_path / "rows.csv"), ["company", "trip_miles"], [{"company": "Flash Cab", "trip_miles": "1"}])
    refused = subprocess.run([sys.executable, "-m", "pipeline", "predict", "--input", str(tmp_path / "rows.csv"),
                              "--output", str(tmp_path / "scored.csv"), "--model", trainer_model],
                             capture_output=True, text=True, cwd=PROJECT, timeout=300)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.startswith(f"error: {trainer_model} cannot be run here: the model calls tf.py_function "
                                     "(layer 'clean_names')") and "Traceback" not in refused.stderr
    assert not (tmp_path / "scored.csv").exists()


def _newest_trainer_model(out) -> str:
    root = os.path.join(out, "pipeline_root", "Trainer", "model")
    return os.path.join(root, max(os.listdir(root), key=int))


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    """Every 4th row of the bundled sentiment data (about 5,800 sentences)."""
    with open(SENTIMENT_CSV, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, [r for i, r in enumerate(reader) if i % 4 == 0]
    root = tmp_path_factory.mktemp("sentiment")
    write_csv(str(root / "data" / "data.csv"), columns, rows)
    return root


RAW_TEXT_ROWS = [
    {"text": "An absolutely wonderful, moving film. I loved every minute!", "source": "movie_review"},
    {"text": 'Broke after two days, "customer service" never answered.\nAvoid.', "source": "product_review"},
]


def test_the_text_lstm_prototype_trains_as_an_estimator_is_pushed_and_scores_raw_text(sentiment, tmp_path):
    out = tmp_path / "out"
    result, terminal = run_cli_on_a_terminal(
        "--data-root", str(sentiment / "data"),
        "--schema", os.path.join(PROJECT, "schemas", "sentiment", "schema.pbtxt"),
        "--label", "label", "--slice", "source", "--output-dir", str(out),
        "--train-steps", "200", "--model", "examples.text_classifier:build_model",
        "--input-map", "input_1=text")
    assert result.exit_code == 0, result.output + terminal
    assert "input_1 (string, shape (None, 1)) <- text   (--input-map)" in terminal
    assert "Trainer: step 200/200" in terminal and "Evaluator" in terminal
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(out)))
    summary = metadata.summarize(config)
    assert summary.pushed, result.output
    assert summary.metrics["auc"] > 0.6, summary.metrics  # TFMA on the eval split

    rows_csv = tmp_path / "new.csv"
    write_csv(str(rows_csv), ["text", "source"], RAW_TEXT_ROWS)
    scored = predict(out, rows_csv, tmp_path / "scored.csv")
    assert [r["text"] for r in scored] == [r["text"] for r in RAW_TEXT_ROWS]
    assert [r["predicted_class"] for r in scored] == ["positive", "negative"]

    # Scoring needs only what the model reads (`text`); other columns are carried through.
    only_text = tmp_path / "only_text.csv"
    write_csv(str(only_text), ["id", "text"], [{"id": f"r{i}", "text": r["text"]} for i, r in enumerate(RAW_TEXT_ROWS)])
    scored_text = predict(out, only_text, tmp_path / "scored_text.csv")
    assert [(r["id"], r["text"]) for r in scored_text] == [(f"r{i}", r["text"]) for i, r in enumerate(RAW_TEXT_ROWS)]
    assert [r["probability_positive"] for r in scored_text] == [r["probability_positive"] for r in scored]
    no_text = tmp_path / "no_text.csv"
    write_csv(str(no_text), ["source"], [{"source": "movie_review"}])
    refused = CliRunner().invoke(cli, ["predict", "--input", str(no_text), "--output", str(tmp_path / "x.csv"),
                                       "--output-dir", str(out)])
    assert refused.exit_code == 2 and "the header lacks the feature(s) the model reads: ['text']" in refused.output


def test_the_built_in_model_learns_from_a_text_column_after_infer_schema(sentiment, tmp_path):
    schema = tmp_path / "schema.pbtxt"
    result = CliRunner().invoke(cli, ["infer-schema", "--data-root", str(sentiment / "data"),
                                      "--output", str(schema), "--label", "label",
                                      "--output-dir", str(tmp_path / "out")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "text features (natural_language_domain): text" in result.output
    out = tmp_path / "out"
    result = run_cli("--data-root", str(sentiment / "data"), "--schema", str(schema), "--label", "label",
                     "--slice", "source", "--output-dir", str(out), "--train-steps", "300")
    assert result.exit_code == 0, result.output
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(out)))
    summary = metadata.summarize(config)
    assert summary.pushed and summary.metrics["auc"] > 0.6, summary.metrics
    rows_csv = tmp_path / "new.csv"
    write_csv(str(rows_csv), ["text", "source"], RAW_TEXT_ROWS)
    scored = predict(out, rows_csv, tmp_path / "scored.csv")
    assert [r["predicted_class"] for r in scored] == ["positive", "negative"]


def test_the_example_compiles_for_kfp2_with_its_model_as_the_image_holds_it(sentiment, tmp_path):
    """compile --model names the dotted module the image holds, searched from /app. (A Vertex spec
    compiled so runs in the built image with run-compiled: tests/e2e/test_image.py.)"""
    spec = tmp_path / "byo-kfp2.json"
    result = CliRunner().invoke(cli, [
        "compile", "--target", "kfp2", "--output", str(spec), "--image", "registry.example/keras-tfx:test",
        "--pipeline-root", "gs://no-such-bucket/byo", "--data-root", str(sentiment / "data"),
        "--schema", os.path.join(PROJECT, "schemas", "sentiment", "schema.pbtxt"), "--label", "label",
        "--train-steps", "100", "--min-accuracy", "0", "--min-auc", "0",
        "--model", "examples.text_classifier:build_model",
        "--input-map", "input_1=text"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = spec.read_text()
    assert '\\"module\\": \\"examples.text_classifier\\"' in text and '\\"search_path\\": \\"/app\\"' in text
    assert '\\"input_map\\"' in text and "input_1" in text


def test_compile_refuses_a_model_file_the_image_does_not_hold(prototypes, tmp_path):
    result = CliRunner().invoke(cli, [
        "compile", "--target", "kfp2", "--output", str(tmp_path / "x.json"), "--image", "r/x:1",
        "--pipeline-root", "gs://b/r", "--model", f"{prototypes}:numeric_sequential"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "is outside the project, so the image (which copies the project) does not contain it" in result.stderr
    assert not (tmp_path / "x.json").exists()
