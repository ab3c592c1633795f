"""`rollback`: an earlier pushed version served again, atomically, recorded, and the next baseline."""
import json
import os
import subprocess
import sys

import pytest
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components.atomic_pusher import executor as pusher_executor
from components.latest_pushed_model import executor as baseline_executor, records
from pipeline.serving import rollback as rollback_lib
from tests.components.atomic_pusher.test_executor import stand_in_bucket
from tests.e2e.outputs import tree_digest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _push(base, tmp_path, name, weights: bytes):
    """A real push through the Pusher's executor of a Trainer model whose weights are `weights`."""
    model = standard_artifacts.Model()
    model.uri, model.id = str(tmp_path / "trainer" / name), len(name)
    for rel, content in {"saved_model.pb": b"graph", "variables/variables.index": b"index",
                         "variables/variables.data-00000-of-00001": weights}.items():
        path = os.path.join(model.uri, "Format-Serving", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing" / name)
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed" / name)
    destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=base))
    pusher_executor.Executor().Do({"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
                                  {"push_destination": proto_utils.proto_to_json(destination)})
    return pushed.get_string_custom_property("pushed_version"), model.uri


def _baseline(serving_dir, tmp_path):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "baseline")
    baseline_executor.Executor().Do({}, {baseline_executor.MODEL_KEY: [model]},
                                    {baseline_executor.SERVING_DIR_KEY: serving_dir})
    return model


def test_rollback_serves_the_previous_model_as_the_newest_version_and_it_is_the_next_baseline(tmp_path):
    base = str(tmp_path / "serving")
    first, first_model = _push(base, tmp_path, "a", b"weights of a")
    second, _ = _push(base, tmp_path, "b", b"weights of b")
    before = {v: tree_digest(os.path.join(base, v)) for v in (first, second)}

    done = rollback_lib.rollback(base)
    assert (done.from_version, done.to_version) == (second, first)
    assert int(done.new_version) > int(second)
    assert records.serving_version(base) == (done.new_version, done.path)
    assert tree_digest(done.path) == before[first]  # the first model's files, byte for byte
    assert {v: tree_digest(os.path.join(base, v)) for v in (first, second)} == before  # earlier versions untouched
    assert not [n for n in os.listdir(base) if not n.isdigit()]  # no staging folder left
    with open(os.path.join(records.records_dir(base), f"{done.new_version}.json")) as f:
        record = json.load(f)
    assert record["rollback"] == {"from_version": second, "to_version": first}
    assert record["model_uri"] == first_model

    baseline = _baseline(base, tmp_path)
    assert baseline.get_string_custom_property(baseline_executor.VERSION_PROPERTY) == done.new_version
    assert baseline.get_string_custom_property(baseline_executor.SOURCE_URI_PROPERTY) == first_model
    assert tree_digest(os.path.join(baseline.uri, "Format-Serving")) == before[first]

    # A second rollback without --to undoes the first: the second model again.
    again = rollback_lib.rollback(base)
    assert again.to_version == second and tree_digest(again.path) == before[second]


def test_to_an_unknown_incomplete_or_served_version_is_refused_listing_the_versions_and_changes_nothing(tmp_path):
    base = str(tmp_path / "serving")
    first, _ = _push(base, tmp_path, "a", b"a")
    second, _ = _push(base, tmp_path, "b", b"b")
    broken = str(int(second) + 5)
    os.makedirs(os.path.join(base, broken, "variables"))  # a version folder a killed push left without saved_model.pb
    snapshot = tree_digest(str(tmp_path))
    for to, words in [("123", "no such version"), ("abc", "no such version"), (broken, "incomplete"),
                      (second, "the one served now")]:
        with pytest.raises(rollback_lib.RollbackError, match=words) as info:
            rollback_lib.rollback(base, to)
        assert first in str(info.value) and f"{second} (served now)" in str(info.value)
        assert f"{broken} (incomplete" in str(info.value)
        assert tree_digest(str(tmp_path)) == snapshot


def test_with_one_version_there_is_nothing_to_roll_back_to(tmp_path):
    base = str(tmp_path / "serving")
    _push(base, tmp_path, "a", b"a")
    with pytest.raises(rollback_lib.RollbackError, match="no earlier version to roll back to"):
        rollback_lib.rollback(base)


def test_a_remote_rollback_is_atomic_like_a_push(tmp_path):
    """On a stand-in gs:// (no folder rename), after every write each loadable version is whole."""
    bucket = tmp_path / "bucket"
    local = str(bucket / "serving")
    first, _ = _push(local, tmp_path, "a", b"a" * 3000)
    _push(local, tmp_path, "b", b"b" * 3000)
    expected = tree_digest(os.path.join(local, first))
    seen_partial = []

    def after_write(path):
        for version in (n for n in os.listdir(local) if n.isdigit()):
            folder = os.path.join(local, version)
            if os.path.exists(os.path.join(folder, "saved_model.pb")) and len(tree_digest(folder)) != len(expected):
                seen_partial.append(version)
    with stand_in_bucket(bucket, after_write):
        done = rollback_lib.rollback("gs://serving")
    assert not seen_partial
    assert tree_digest(os.path.join(local, done.new_version)) == expected


def test_the_cli_rolls_back_exits_2_on_a_bad_version_and_runs_lists_the_rollback(tmp_path):
    out = tmp_path / "out"
    base = str(out / "serving_model")
    first, _ = _push(base, tmp_path, "a", b"a")
    second, _ = _push(base, tmp_path, "b", b"b")
    cli = [sys.executable, "-m", "pipeline"]
    bad = subprocess.run(cli + ["rollback", "--output-dir", str(out), "--to", "42"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2, bad.stderr
    assert "no such version" in bad.stderr and "Nothing was changed." in bad.stderr
    assert "Traceback" not in bad.stderr
    good = subprocess.run(cli + ["rollback", "--output-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert good.returncode == 0, good.stderr
    new = records.serving_version(base)[0]
    assert f"version {second} was served; version {first} is served again as version {new}" in good.stdout
    runs = subprocess.run(cli + ["runs", "--output-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert runs.returncode == 0, runs.stderr
    assert "rollback" in runs.stdout and f"pushed {new}  (version {first} again, was {second})" in runs.stdout
