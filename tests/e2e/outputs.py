"""What a run leaves on disk, read without the product's own readers where it can be: the
serving dir's bytes, ML Metadata's Trainer executions, the Trainer's model_run/ files, TFMA's
metrics through TFMA's loader. Shared by the e2e tests."""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline import config as config_lib

TRAINER = config_lib.TRAINER


def tree_digest(root: str) -> dict:
    digests = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    """ML Metadata's SQLite store, opened with ML Metadata's own client (read only)."""
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def trainer_executions(config) -> dict:
    """Every Trainer execution in ML Metadata, whatever its state: {id: state name}."""
    if not os.path.exists(config.metadata_path):
        return {}
    store = open_store(config.metadata_path)
    return {e.id: metadata_store_pb2.Execution.State.Name(e.last_known_state)
            for e in store.get_executions() if e.type.endswith(TRAINER)}


def training_files(config) -> set:
    """What training leaves under the Trainer's model_run/: checkpoints, their index, TensorBoard
    event files. A run stopped before training adds none."""
    found = set()
    for pattern in ("model.ckpt*", "checkpoint", "events.out.tfevents*"):
        found |= set(glob.glob(os.path.join(config.pipeline_root, TRAINER, "model_run", "**", pattern),
                               recursive=True))
    return found


class Snapshot:
    """The serving dir's bytes, the Trainer executions and the training files, before a run that
    must change none of them; `unchanged()` says what changed."""

    def __init__(self, config):
        self.config = config
        self.served = tree_digest(config.serving_dir)
        self.trainers = trainer_executions(config)
        self.trained = training_files(config)

    def new_trainer_executions(self) -> dict:
        return {i: s for i, s in trainer_executions(self.config).items() if i not in self.trainers}

    def assert_nothing_trained_or_pushed(self, trainer_failed_before_training: bool = False):
        """No pushed byte changed, no file of training added under model_run/, and no Trainer
        execution of any state added, except, for a refusal inside the Trainer (exit 1, before
        training), the one FAILED execution that TFX records for the failed component."""
        assert tree_digest(self.config.serving_dir) == self.served, "the serving dir changed"
        assert not [n for n in os.listdir(self.config.serving_dir) if not n.isdigit()], \
            "a partial version where servers look"
        assert training_files(self.config) == self.trained, "something was trained"
        added = self.new_trainer_executions()
        if trainer_failed_before_training:
            assert list(added.values()) == ["FAILED"], added
        else:
            assert added == {}, added


def run_cli(*args, timeout=900) -> subprocess.CompletedProcess:
    """`python -m pipeline ...` in a process of its own, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          timeout=timeout)


def invoke_cli(*args):
    """The CLI's own entry point in this process (click's runner: its exit code, and what it
    echoed on stdout and stderr; the progress lines go to file descriptor 1, not captured).
    Saves the seconds a new process spends importing TensorFlow and TFX."""
    from click.testing import CliRunner
    from pipeline.__main__ import cli
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def own_copy(config, tmp_path):
    """A copy of a shared run's output dir for a test that adds runs or pushes, so the shared dir
    stays as its run left it for the tests that only read it, in any order. (ML Metadata in the
    copy still points at the original's artifacts, which no test changes.)"""
    copy = tmp_path / "own-out"
    shutil.copytree(config.output_dir, copy, ignore=shutil.ignore_patterns(".run.lock"))
    return config_lib.absolute(config_lib.replace(config, output_dir=str(copy)))


def artifact_dirs(config, component: str, output: str) -> list:
    """An output's artifact folders under this output dir's pipeline root, oldest first."""
    root = os.path.join(config.pipeline_root, component, output)
    return [os.path.join(root, d) for d in sorted(os.listdir(root), key=int)] if os.path.isdir(root) else []


def tfma_overall(evaluation_uri: str) -> dict:
    """The candidate model's metrics on the whole eval split, through TFMA's own loader."""
    import tensorflow_model_analysis as tfma
    (overall,) = [m for m in tfma.load_metrics(evaluation_uri) if not m.slice_key.single_slice_keys]
    return {kv.key.name: kv.value.double_value.value for kv in overall.metric_keys_and_values
            if not kv.key.is_diff and not kv.key.model_name.startswith("baseline")
            and kv.value.HasField("double_value")}
