"""The baseline step: push records in, the newest whole pushed version out (or an empty model)."""
import json
import os

from tfx.types import standard_artifacts

from components.atomic_pusher import executor as pusher_executor
from components.latest_pushed_model import executor, records


def _saved_model(path, content=b"graph"):
    os.makedirs(os.path.join(path, "variables"))
    with open(os.path.join(path, "saved_model.pb"), "wb") as f:
        f.write(content)
    return str(path)


def _push(serving_dir, version, model_uri, tmp_path, content=b"graph"):
    destination = _saved_model(os.path.join(serving_dir, str(version)), content)
    model = standard_artifacts.Model()
    model.uri, model.id = model_uri, 7
    records.write_record(serving_dir, pusher_executor.push_record(
        version=str(version), pushed_destination=destination, model=model, blessing=None,
        pushed_model_uri=str(tmp_path / "pushed")))
    return destination


def _run(serving_dir, tmp_path, name="out"):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / name)
    executor.Executor().Do({}, {executor.MODEL_KEY: [model]}, {executor.SERVING_DIR_KEY: serving_dir})
    return model


def test_nothing_pushed_gives_an_empty_model_that_the_evaluator_drops(tmp_path):
    serving = str(tmp_path / "serving")
    model = _run(serving, tmp_path)
    assert model.get_int_custom_property(executor.FOUND_PROPERTY) == 0
    assert not executor.has_model(model)
    assert executor.without_empty_baseline({"baseline_model": [model], "model": ["m"]}, "baseline_model") == {
        "model": ["m"]}
    with open(os.path.join(model.uri, executor.RECORD_FILE)) as f:
        assert json.load(f)["found"] is False


def test_the_newest_whole_pushed_version_is_copied_and_named(tmp_path):
    serving = str(tmp_path / "serving")
    _push(serving, 100, "/root/Trainer/model/3", tmp_path, b"old")
    _push(serving, 200, "/root/Trainer/model/9", tmp_path, b"new")
    # A version whose folder is gone (deleted by hand) is no baseline, however new its record.
    _push(serving, 300, "/root/Trainer/model/12", tmp_path)
    import shutil
    shutil.rmtree(os.path.join(serving, "300"))
    model = _run(serving, tmp_path)
    assert executor.has_model(model)
    with open(os.path.join(model.uri, "Format-Serving", "saved_model.pb"), "rb") as f:
        assert f.read() == b"new"
    assert model.get_string_custom_property(executor.VERSION_PROPERTY) == "200"
    assert model.get_string_custom_property(executor.SOURCE_URI_PROPERTY) == "/root/Trainer/model/9"
    assert records.last_pushed_model(serving) == "/root/Trainer/model/9"
    assert executor.without_empty_baseline({"baseline_model": [model]}, "baseline_model") == {
        "baseline_model": [model]}


def test_records_live_beside_the_serving_dir_not_in_it(tmp_path):
    serving = str(tmp_path / "serving")
    _push(serving, 100, "/m", tmp_path)
    assert os.listdir(serving) == ["100"]  # servers see only numeric versions
    assert os.listdir(records.records_dir(serving)) == ["100.json"]
    # An unreadable record is skipped, not fatal.
    with open(os.path.join(records.records_dir(serving), "150.json"), "w") as f:
        f.write("{not json")
    assert [r["version"] for r in records.read_records(serving)] == ["100"]


def test_the_pusher_writes_a_record_naming_the_trainer_model(tmp_path):
    from tfx.proto import pusher_pb2
    from tfx.types import standard_component_specs as keys
    from tfx.utils import proto_utils
    model = standard_artifacts.Model()
    model.uri, model.id = str(tmp_path / "Trainer" / "model" / "5"), 5
    _saved_model(os.path.join(model.uri, "Format-Serving"))
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    serving = str(tmp_path / "serving")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving))
    pusher_executor.Executor().Do(
        {keys.MODEL_KEY: [model], keys.MODEL_BLESSING_KEY: [blessing]}, {keys.PUSHED_MODEL_KEY: [pushed]},
        {keys.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)})
    (record,) = records.read_records(serving)
    assert record["model_uri"] == model.uri and record["model_id"] == 5
    assert record["pushed_destination"] == os.path.join(serving, record["version"])
    assert record["model_blessing_uri"] == blessing.uri
    assert records.latest_pushed(serving) == record
