"""A prototype's edges, through the CLI on a data set of single words: no per-row slices by
default, an edited helper module trains again, and a model with nothing to train ends with the
reason instead of looping (issue 20). Every run also posts its outcome to a webhook once, while a
second, dead webhook changes nothing (--notify)."""
from __future__ import annotations

import os
import random
import re
import string
import subprocess
import sys

import pytest

from pipeline import config as config_lib
from pipeline.report import metadata
from tests.conftest import write_csv
from tests.e2e.outputs import tree_digest
from tests.pipeline.test_notify import _Hook

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(70)]

SCHEMA = """
feature { name: "word" type: BYTES presence { min_fraction: 1.0 } }
feature { name: "label" type: INT int_domain { min: 0 max: 1 is_categorical: true } presence { min_fraction: 1.0 } }
"""

MODEL = '''\
import tensorflow as tf

from helpers import WIDTH


def build_model(train_dataset):
    lookup = tf.keras.layers.StringLookup()
    lookup.adapt(train_dataset.map(lambda batch: batch["word"]))
    word = tf.keras.Input(shape=(1,), dtype=tf.string, name="word")
    x = tf.keras.layers.Embedding(lookup.vocabulary_size(), WIDTH)(lookup(word))
    x = tf.keras.layers.Flatten()(x)
    model = tf.keras.Model(word, tf.keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def frozen(train_dataset):
    """A pretrained model deployed as it is: every layer frozen."""
    model = build_model(train_dataset)
    for layer in model.layers:
        layer.trainable = False
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model
'''


def _cli(*args, cwd):
    proc = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=1200, env=dict(os.environ, PYTHONPATH=config_lib.PROJECT_ROOT))
    return proc


@pytest.fixture(scope="module")
def hook():
    server = _Hook()
    yield server
    server.close()


def _dead_url():
    import socket
    with socket.socket() as probe:  # bound, never listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/dead", probe.detach()


@pytest.fixture(scope="module")
def words(tmp_path_factory, hook):
    """1,200 rows of nearly unique words (label: the word has an 'a'), a schema, a prototype with a
    helper module, and one run of it."""
    root = tmp_path_factory.mktemp("words")
    rng = random.Random(5)
    rows = []
    for _ in range(1200):
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))
        rows.append({"word": word, "label": int("a" in word)})
    write_csv(str(root / "data" / "words.csv"), ["word", "label"], rows)
    (root / "schema.pbtxt").write_text(SCHEMA)
    (root / "proto").mkdir()
    (root / "proto" / "model.py").write_text(MODEL)
    (root / "proto" / "helpers.py").write_text("WIDTH = 8\n")
    args = ["run", "--data-root", str(root / "data"), "--schema", str(root / "schema.pbtxt"),
            "--label", "label", "--model", "proto/model.py:build_model", "--train-steps", "40",
            "--min-accuracy", "0", "--min-auc", "0", "--output-dir", str(root / "out"), "--notify", hook.url]
    dead, _held = _dead_url()
    first = _cli(*args, "--notify", dead, cwd=str(root))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    # The dead webhook is reported and changes nothing; the live one got the outcome once.
    assert f"notify: POST to {dead} failed" in first.stderr and "outcome is unchanged" in first.stderr
    assert [body["status"] for _, body in hook.bodies] == ["pushed"]
    assert hook.bodies[0][1]["versions"]["pushed"] == os.path.basename(
        metadata.summarize(config_lib.absolute(config_lib.PipelineConfig(output_dir=str(root / "out")))).pushed_path)
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(root / "out")))
    return root, args, first, config, hook


def _trainer_states(config):
    store = metadata.open_store(config.metadata_path)
    return [e.last_known_state for e in store.get_executions() if e.type.endswith("Trainer")]


def test_a_near_unique_word_column_is_no_default_slice_and_the_run_says_so(words):
    import tensorflow_model_analysis as tfma
    root, _, first, config, _ = words
    assert "eval metrics overall only" in first.stdout
    summary = metadata.summarize(config)
    slices = [tuple(m.slice_key.single_slice_keys) for m in tfma.load_metrics(summary.evaluation_uri)]
    assert slices == [()], slices[:5]  # TFMA wrote the overall slice only, not one per word


def test_an_edited_helper_module_trains_again(words):
    from ml_metadata.proto import metadata_store_pb2
    root, args, _, config, _ = words
    complete = metadata_store_pb2.Execution.COMPLETE
    before = _trainer_states(config).count(complete)
    posts = len(_hook_of(words))
    (root / "proto" / "helpers.py").write_text("WIDTH = 12\n")
    try:
        second = _cli(*args, cwd=str(root))
    finally:
        (root / "proto" / "helpers.py").write_text("WIDTH = 8\n")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    trainer_line = next(line for line in second.stdout.splitlines() if re.match(r"\[\d+/\d+\] +Trainer ", line))
    assert " ran " in trainer_line, trainer_line
    assert _trainer_states(config).count(complete) == before + 1
    assert "CsvExampleGen                cached" in second.stdout  # the data did not change
    assert len(_hook_of(words)) == posts + 1


def test_a_model_with_nothing_to_train_is_refused_and_never_loops(words):
    from ml_metadata.proto import metadata_store_pb2
    root, args, _, config, _ = words
    complete = metadata_store_pb2.Execution.COMPLETE
    served = tree_digest(config.serving_dir)
    before = _trainer_states(config).count(complete)
    posts = len(_hook_of(words))
    frozen = [a if a != "proto/model.py:build_model" else "proto/model.py:frozen" for a in args]
    proc = _cli(*frozen, cwd=str(root))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "has nothing to train: every layer with weights is frozen" in proc.stderr
    assert "Nothing was trained or pushed." in proc.stderr and "Traceback" not in proc.stderr
    assert _trainer_states(config).count(complete) == before
    assert tree_digest(config.serving_dir) == served
    (_, failed), = _hook_of(words)[posts:]
    assert failed["status"] == "failed" and failed["failed_component"] == "Trainer"
    assert "nothing to train" in failed["reason"] and "FAILED in Trainer" in failed["text"]


def _hook_of(words):
    return words[4].bodies
