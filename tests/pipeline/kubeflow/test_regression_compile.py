"""A regression pipeline compiles for Kubeflow as the same graph, with its metrics and gates."""
from __future__ import annotations

import json
import os

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline import pipeline as pipeline_lib
from pipeline.config import PROJECT_ROOT, PipelineConfig
from pipeline.kubeflow import compiled_exit, runner as kubeflow_runner
from tests.pipeline.kubeflow.test_runner import IMAGE, LOCAL_DEPENDENCIES, ROOT

SCHEMA = os.path.join(PROJECT_ROOT, "schemas", "progression", "schema.pbtxt")


def _strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


@pytest.mark.parametrize("target", ["kfp2", "vertex"])
def test_the_regression_graph_compiles_with_its_metrics_and_gates(tmp_path, target):
    config = PipelineConfig(data_root=os.path.join(PROJECT_ROOT, "data", "progression"), schema_path=SCHEMA,
                            label="progression", max_mae_rise=0.25)
    path = kubeflow_runner.compile_pipeline(config, target=target, output=str(tmp_path / "p.json"),
                                            image=IMAGE, pipeline_root=ROOT)
    document = json.loads(open(path).read())
    spec = document if target == "kfp2" else document["pipelineSpec"]
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # strict: unknown fields fail
    tasks = compiled_exit.pipeline_tasks(spec)  # the steps, in the exit handler's sub-DAG
    assert set(tasks) == set(LOCAL_DEPENDENCIES) | {pipeline_lib.LATEST_PUSHED_MODEL}
    texts = list(_strings(spec))
    eval_config = next(json.loads(t) for t in texts if t.lstrip().startswith("{") and "MeanAbsoluteError" in t)
    names = [json.loads(m.get("config", "{}")).get("name") for m in eval_config["metrics_specs"][0]["metrics"]]
    assert {"mae", "mse", "rmse", "prediction_plot"} <= set(names)
    gates = next(json.loads(t) for t in texts if '"task": "regression"' in t)
    assert gates == {"task": "regression", "label": "progression", "label_dtype": "int64", "min_lift": 0.01,
                     "max_mae": None, "min_auc": None}
