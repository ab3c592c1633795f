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
