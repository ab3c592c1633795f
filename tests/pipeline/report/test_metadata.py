"""The report's ML Metadata reads, on a real SQLite store."""
from __future__ import annotations

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.report import metadata


def _store(tmp_path):
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(tmp_path / "metadata.sqlite")
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def test_an_artifact_is_found_by_its_type_name(tmp_path):
    store = _store(tmp_path)
    types = {name: store.put_artifact_type(metadata_store_pb2.ArtifactType(name=name))
             for name in ("Examples", "ModelRun")}
    ids = store.put_artifacts([metadata_store_pb2.Artifact(type_id=types[name], uri=f"/{name}")
                               for name in ("Examples", "ModelRun")])
    artifacts = store.get_artifacts_by_id(ids)
    assert metadata.artifact_of_type(store, artifacts, "ModelRun").uri == "/ModelRun"
    assert metadata.artifact_of_type(store, artifacts[:1], "ModelRun") is None


def test_a_type_no_run_ever_recorded_is_none_not_an_error(tmp_path):
    """A first run whose Trainer failed left no ModelRun type: its report is still written."""
    store = _store(tmp_path)
    type_id = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="Examples"))
    artifacts = store.get_artifacts_by_id(store.put_artifacts([metadata_store_pb2.Artifact(type_id=type_id)]))
    assert metadata.artifact_of_type(store, artifacts, "ModelRun") is None
