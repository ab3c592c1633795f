import json
import os

import pytest

from components.atomic_pusher import executor


def _model(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "variables" / "variables.index").write_bytes(b"index")
    return str(model)


def test_publish_creates_a_complete_numeric_version_and_clears_leftovers(tmp_path):
    base = tmp_path / "serving"
    (base / ".partial-123").mkdir(parents=True)  # what a killed push leaves
    (base / ".partial-123" / "saved_model.pb").write_bytes(b"half")
    model = _model(tmp_path)
    first = executor.publish(model, str(base))
    second = executor.publish(model, str(base))
    assert os.path.basename(first).isdigit() and int(os.path.basename(second)) > int(os.path.basename(first))
    assert sorted(os.listdir(base)) == sorted([os.path.basename(first), os.path.basename(second)])
    assert (base / os.path.basename(first) / "variables" / "variables.index").read_bytes() == b"index"


def test_a_failed_copy_leaves_no_version(tmp_path, monkeypatch):
    base = tmp_path / "serving"

    def broken_copy(source, target):
        os.makedirs(target)
        open(os.path.join(target, "saved_model.pb"), "wb").close()
        raise OSError("disk full")
    monkeypatch.setattr(executor.shutil, "copytree", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        executor.publish(_model(tmp_path), str(base))
    assert [n for n in os.listdir(base) if n.isdigit()] == []


# ---- the Executor: duplicate pushes, remote pushes (a local stand-in for gs://) ----

import contextlib
import glob as globlib
import shutil

from tfx.dsl.io import filesystem, filesystem_registry
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components.latest_pushed_model import records

MODEL_FILES = {"saved_model.pb": b"graph", "fingerprint.pb": b"fp",
               "variables/variables.index": b"index", "variables/variables.data-00000-of-00001": b"w" * 5000,
               "assets/vocab.txt": b"a\nb\n"}


class StandInBucket(filesystem.Filesystem):
    """`gs://` served from a local folder, with a hook run after every write (what a poller sees).

    Like an object store it has no atomic folder rename: `rename` is refused, so a push that
    relied on one would fail here.
    """
    SUPPORTED_SCHEMES = ["gs://"]
    root = None
    after_write = staticmethod(lambda path: None)
    writes = []

    @classmethod
    def local(cls, path):
        path = path.decode() if isinstance(path, bytes) else str(path)
        assert path.startswith("gs://"), path
        return os.path.join(cls.root, path[len("gs://"):])

    @classmethod
    def remote(cls, local):
        return "gs://" + os.path.relpath(local, cls.root).replace(os.sep, "/")

    @classmethod
    def _wrote(cls, path):
        cls.writes.append(str(path))
        cls.after_write(str(path))

    @staticmethod
    def open(name, mode="r"):
        local = StandInBucket.local(name)
        if "w" not in mode and "a" not in mode:
            return open(local, mode)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        handle = open(local, mode)
        close = handle.close

        def close_and_notify():
            close()
            StandInBucket._wrote(name)
        handle.close = close_and_notify
        return handle

    @staticmethod
    def copy(src, dst, overwrite=False):
        target = StandInBucket.local(dst)
        if os.path.exists(target) and not overwrite:
            raise OSError(f"{dst} exists")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(StandInBucket.local(src), target)
        StandInBucket._wrote(dst)

    @staticmethod
    def exists(path):
        return os.path.exists(StandInBucket.local(path))

    @staticmethod
    def glob(pattern):
        return [StandInBucket.remote(p) for p in globlib.glob(StandInBucket.local(pattern))]

    @staticmethod
    def isdir(path):
        return os.path.isdir(StandInBucket.local(path))

    @staticmethod
    def listdir(path):
        local = StandInBucket.local(path)
        if not os.path.isdir(local):
            raise filesystem.NotFoundError(path)
        return os.listdir(local)

    @staticmethod
    def makedirs(path):
        os.makedirs(StandInBucket.local(path), exist_ok=True)

    @staticmethod
    def mkdir(path):
        os.mkdir(StandInBucket.local(path))

    @staticmethod
    def remove(path):
        os.remove(StandInBucket.local(path))

    @staticmethod
    def rename(src, dst, overwrite=False):
        if StandInBucket.isdir(src):
            raise OSError("an object store has no atomic folder rename")
        os.replace(StandInBucket.local(src), StandInBucket.local(dst))  # one object: atomic
        StandInBucket._wrote(dst)

    @staticmethod
    def rmtree(path):
        shutil.rmtree(StandInBucket.local(path))

    @staticmethod
    def stat(path):
        return os.stat(StandInBucket.local(path))

    @staticmethod
    def walk(top, topdown=True, onerror=None):
        for folder, dirs, files in os.walk(StandInBucket.local(top), topdown=topdown, onerror=onerror):
            yield StandInBucket.remote(folder), dirs, files


@contextlib.contextmanager
def stand_in_bucket(root, after_write=lambda path: None):
    registry = filesystem_registry.DEFAULT_FILESYSTEM_REGISTRY
    saved = dict(registry._preferred_filesystem_by_scheme)
    StandInBucket.root, StandInBucket.after_write, StandInBucket.writes = str(root), after_write, []
    registry.register(StandInBucket, priority=0)
    try:
        yield StandInBucket
    finally:
        registry._preferred_filesystem_by_scheme.clear()
        registry._preferred_filesystem_by_scheme.update(saved)


def _trainer_model(folder, files=None):
    """A Model artifact laid out as the Trainer writes it (Format-Serving/...)."""
    for rel, content in (files or MODEL_FILES).items():
        path = os.path.join(folder, "Format-Serving", *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
    model = standard_artifacts.Model()
    model.uri, model.id = str(folder), 11
    return model


def _push(model, base, out):
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(out) + "-blessing"
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(out)
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=base))
    executor.Executor().Do({"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
                           {"push_destination": proto_utils.proto_to_json(destination)})
    return pushed


def _numeric(folder):
    return sorted(n for n in os.listdir(folder) if n.isdigit()) if os.path.isdir(folder) else []


@pytest.mark.parametrize("remote", [False, True], ids=["local", "gs"])
def test_the_same_model_is_not_pushed_twice_and_a_changed_one_is(tmp_path, remote):
    with stand_in_bucket(tmp_path / "bucket"):
        base = "gs://models/taxi" if remote else str(tmp_path / "serving")
        local_base = str(tmp_path / "bucket" / "models" / "taxi") if remote else base
        first = _push(_trainer_model(tmp_path / "m1"), base, tmp_path / "p1")
        assert first.get_int_custom_property("pushed") == 1
        [version] = _numeric(local_base)
        # The same files from another Trainer execution (a cached Trainer, or a rerun that
        # trained to the same bytes): not pushed; the artifact says which version serves it.
        again = _push(_trainer_model(tmp_path / "m2"), base, tmp_path / "p2")
        assert again.get_int_custom_property("pushed") == 0
        assert again.get_string_custom_property(executor.SERVING_VERSION) == version
        assert again.get_string_custom_property(executor.SERVING_DESTINATION).rstrip("/").endswith(version)
        reason = again.get_string_custom_property(executor.NOT_PUSHED_REASON)
        assert f"already served as version {version}" in reason
        assert _numeric(local_base) == [version]
        assert not os.path.exists(again.uri)  # no copy of a model that was not pushed
        # One byte changed: a new version, served next (a higher number).
        changed = dict(MODEL_FILES, **{"variables/variables.data-00000-of-00001": b"w" * 4999 + b"x"})
        third = _push(_trainer_model(tmp_path / "m3", changed), base, tmp_path / "p3")
        assert third.get_int_custom_property("pushed") == 1
        assert _numeric(local_base) == [version, third.get_string_custom_property("pushed_version")]
        assert int(_numeric(local_base)[-1]) > int(version)
        record = records.read_record(base, _numeric(local_base)[-1])
        assert record["model_uri"] == str(tmp_path / "m3") and len(record["model_digest"]) == 64


def test_a_served_version_without_a_record_is_compared_by_its_files_and_recorded(tmp_path):
    base = str(tmp_path / "serving")
    os.makedirs(os.path.join(base, "7"))
    shutil.copytree(os.path.join(_trainer_model(tmp_path / "m1").uri, "Format-Serving"),
                    os.path.join(base, "7"), dirs_exist_ok=True)  # pushed by hand, no record
    pushed = _push(_trainer_model(tmp_path / "m2"), base, tmp_path / "p")
    assert pushed.get_int_custom_property("pushed") == 0
    assert pushed.get_string_custom_property(executor.SERVING_VERSION) == "7"
    # Now recorded as this model's version, so the next run's baseline is the served version.
    assert records.latest_pushed(base)["model_uri"] == str(tmp_path / "m2")


def test_a_remote_push_never_shows_a_server_a_partial_version(tmp_path):
    source = os.path.join(_trainer_model(tmp_path / "m").uri, "Format-Serving")
    bucket = tmp_path / "bucket"
    served = os.path.join(str(bucket), "models", "taxi")
    seen = []

    def poll(path):
        """What a server polling the folder would load now: every whole numeric version."""
        for version in _numeric(served):
            folder = os.path.join(served, version)
            if any(os.path.exists(os.path.join(folder, n)) for n in records.SERVED_FILES):
                files = {os.path.relpath(os.path.join(d, n), folder).replace(os.sep, "/")
                         for d, _, names in os.walk(folder) for n in names}
                assert files == set(MODEL_FILES), f"after writing {path}: version {version} is partial"
                seen.append(path)

    with stand_in_bucket(bucket, poll) as bucket_fs:
        final = executor.publish_remote(source, "gs://models/taxi")
        into_version = [w for w in bucket_fs.writes if w.startswith(final.rstrip("/") + "/")]
    assert into_version[-1] == final + "/saved_model.pb"  # the file a server loads from: last
    assert len(into_version) == len(MODEL_FILES)
    assert seen and seen[0] == final + "/saved_model.pb"  # whole from the first moment it is loadable
    assert sorted(os.listdir(served)) == [os.path.basename(final)]  # the staging folder is gone
    assert executor.model_digest(os.path.join(served, os.path.basename(final))) == executor.model_digest(source)


@pytest.mark.parametrize("fail_at", ["staging", "version"])
def test_an_interrupted_remote_push_leaves_nothing_loadable_and_the_next_push_clears_it(tmp_path, fail_at):
    source = os.path.join(_trainer_model(tmp_path / "m").uri, "Format-Serving")
    served = os.path.join(str(tmp_path / "bucket"), "models", "taxi")

    def crash(path):
        in_staging = f"/{executor.PARTIAL_PREFIX}" in path
        if path.endswith("variables.index") and in_staging == (fail_at == "staging"):
            raise OSError("connection reset")

    with stand_in_bucket(tmp_path / "bucket", crash):
        with pytest.raises(OSError, match="connection reset"):
            executor.publish_remote(source, "gs://models/taxi")
        for version in _numeric(served):  # a server may see the folder, but cannot load it
            assert not os.path.exists(os.path.join(served, version, "saved_model.pb"))
        assert records.serving_version("gs://models/taxi") is None
    with stand_in_bucket(tmp_path / "bucket"):
        final = executor.publish_remote(source, "gs://models/taxi")
    assert sorted(os.listdir(served)) == [os.path.basename(final)]


# ---- every input form TFX's Pusher takes: Model, InfraBlessing carrying a model, either blessing ----

from tfx.types import standard_component_specs as specs
from tfx.utils import path_utils

from components.latest_pushed_model import executor as baseline_executor


def _infra_blessing(folder, blessed=1, files=None):
    """An InfraBlessing as TFX's InfraValidator leaves it with make_warmup: the model it checked
    under `<uri>/stamped_model`, `has_model` 1."""
    infra = standard_artifacts.InfraBlessing()
    infra.uri, infra.id = str(folder), 23
    for rel, content in (files or MODEL_FILES).items():
        path = os.path.join(path_utils.stamped_model_path(infra.uri), *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
    infra.set_int_custom_property("blessed", blessed)
    infra.set_int_custom_property("has_model", 1)
    return infra


def _blessing(blessed=1):
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = "/blessings/1"
    blessing.set_int_custom_property("blessed", blessed)
    return blessing


def _do(input_dict, base, out):
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(out)
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(base)))
    executor.Executor().Do(input_dict, {"pushed_model": [pushed]},
                           {"push_destination": proto_utils.proto_to_json(destination)})
    return pushed


FORMS = {
    "model": lambda m, i: {specs.MODEL_KEY: [m]},
    "model+model_blessing": lambda m, i: {specs.MODEL_KEY: [m], specs.MODEL_BLESSING_KEY: [_blessing()]},
    "model+infra_blessing": lambda m, i: {specs.MODEL_KEY: [m], specs.INFRA_BLESSING_KEY: [i]},
    "model+both blessings": lambda m, i: {specs.MODEL_KEY: [m], specs.MODEL_BLESSING_KEY: [_blessing()],
                                          specs.INFRA_BLESSING_KEY: [i]},
    "infra_blessing as model": lambda m, i: {specs.INFRA_BLESSING_KEY: [i]},
    "infra_blessing as model+model_blessing": lambda m, i: {specs.INFRA_BLESSING_KEY: [i],
                                                            specs.MODEL_BLESSING_KEY: [_blessing()]},
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_input_form_pushes_records_skips_a_duplicate_and_gives_the_next_baseline(form, tmp_path):
    model = _trainer_model(tmp_path / "trainer_model")
    infra = _infra_blessing(tmp_path / "infra_blessing")
    source = model if specs.MODEL_KEY in FORMS[form](model, infra) else infra
    base = tmp_path / "serving"

    first = _do(FORMS[form](model, infra), base, tmp_path / "push1")
    assert first.get_int_custom_property("pushed") == 1
    version = first.get_string_custom_property("pushed_version")
    assert _numeric(base) == [version]
    with open(base / version / "variables" / "variables.data-00000-of-00001", "rb") as f:
        assert f.read() == MODEL_FILES["variables/variables.data-00000-of-00001"]
    with open(str(base) + records.RECORDS_SUFFIX + f"/{version}.json") as f:
        record = json.load(f)
    assert record["model_uri"] == source.uri and record["model_type"] == source.type_name
    assert record["infra_blessing_uri"] == (infra.uri if specs.INFRA_BLESSING_KEY in FORMS[form](model, infra)
                                            else None)

    # The same model again: not pushed a second time, and says which version serves it.
    second = _do(FORMS[form](model, infra), base, tmp_path / "push2")
    assert second.get_int_custom_property("pushed") == 0
    assert second.get_string_custom_property(executor.SERVING_VERSION) == version
    assert _numeric(base) == [version]

    # The baseline step finds it from the record, whatever artifact it came from.
    baseline = standard_artifacts.Model()
    baseline.uri = str(tmp_path / "baseline")
    baseline_executor.Executor().Do({}, {baseline_executor.MODEL_KEY: [baseline]},
                                    {baseline_executor.SERVING_DIR_KEY: str(base)})
    assert baseline_executor.has_model(baseline)
    assert baseline.get_string_custom_property(baseline_executor.VERSION_PROPERTY) == version
    assert baseline.get_string_custom_property(baseline_executor.SOURCE_URI_PROPERTY) == source.uri
    assert records.last_pushed_model(str(base)) == source.uri


@pytest.mark.parametrize("form", ["model+infra_blessing", "infra_blessing as model"])
def test_an_infra_blessing_that_failed_pushes_nothing(form, tmp_path):
    model = _trainer_model(tmp_path / "trainer_model")
    infra = _infra_blessing(tmp_path / "infra_blessing", blessed=0)
    pushed = _do(FORMS[form](model, infra), tmp_path / "serving", tmp_path / "push")
    assert pushed.get_int_custom_property("pushed") == 0
    assert _numeric(tmp_path / "serving") == []
    assert not os.path.isdir(str(tmp_path / "serving") + records.RECORDS_SUFFIX)
