"""Resolver queries answered from the artifacts recorded so far (TFX's latest-blessed-model pair)."""
from __future__ import annotations

import pytest

from pipeline.kubeflow.launcher import resolver_handler
from pipeline.kubeflow.launcher.records import Artifact
from pipeline.kubeflow.launcher.spec import SpecError
from tests.pipeline.kubeflow.launcher.specs import BLESSING_TYPE, MODEL_TYPE


def blessing(name, model_name, blessed):
    return Artifact(name, BLESSING_TYPE, f"/r/{name}", {"blessed": float(blessed), "current_model_id": model_name})


def test_latest_blessed_model_queries_pick_the_newest_blessed_model():
    blessing_query = 'schema_title="tfx.ModelBlessing" AND state=LIVE AND metadata.blessed.number_value=1'
    model_query = ('schema_title="tfx.Model" AND state=LIVE AND '
                   'name="{{$.inputs.artifacts[\'input\'].metadata[\'current_model_id\']}}"')
    models = [Artifact(f"m{i}", MODEL_TYPE, f"/r/m{i}", {}) for i in range(3)]
    history = [models[0], blessing("b0", "m0", True), models[1], blessing("b1", "m1", True),
               models[2], blessing("b2", "m2", False)]
    found = resolver_handler.resolve_query(blessing_query, {}, history)
    assert [a.name for a in found] == ["b1"]
    model = resolver_handler.resolve_query(model_query, {"input": found}, history)
    assert [a.uri for a in model] == ["/r/m1"]
    # First run: nothing blessed yet, so both resolve to nothing (the Evaluator gets no baseline).
    assert resolver_handler.resolve_query(blessing_query, {}, models) == []
    assert resolver_handler.resolve_query(model_query, {"input": []}, models) == []
    with pytest.raises(SpecError, match="not supported"):
        resolver_handler.resolve_query("create_time=5", {}, history)
