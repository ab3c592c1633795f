"""Hand-written specs and helpers for the launcher's tests (the compiled one is in conftest.py)."""
from __future__ import annotations

import json

MODEL_TYPE = {"instanceSchema": "title: tfx.Model\ntype: object\n"}
BLESSING_TYPE = {"instanceSchema": "title: tfx.ModelBlessing\ntype: object\n"}
ROOT = "gs://no-such-bucket/keras-tfx"


def container(executor_class, pre_cache_check=False):
    spec = {"command": ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"],
            "args": ["--executor_class_path", executor_class, "--json_serialized_invocation_args", "{{$}}",
                     "--runner=DirectRunner"],
            "image": "registry.example/keras-tfx:test"}
    if pre_cache_check:
        spec["lifecycle"] = {"preCacheCheck": {
            "command": ["python", "-m", "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"],
            "args": ["--json_serialized_invocation_args", "{{$}}"]}}
    return {"container": spec}


def tasks_of(job):
    return job["pipelineSpec"]["root"]["dag"]["tasks"]


def downstream(name, tasks):
    """Every task that needs `name`'s outputs, directly or not (computed here, not by the launcher)."""
    found, frontier = set(), {name}
    while frontier:
        frontier = {t for t, spec in tasks.items() if set(spec.get("dependentTasks", [])) & frontier} - found
        found |= frontier
    return found


def small_job():
    """A three-step job with a resolver task, shaped like TFX 1.15's kubeflow-v2 output (schema
    2.0.0) for a graph with a Resolver node: for the resolver checks only."""
    return {
        "pipelineSpec": {
            "root": {
                "inputDefinitions": {"parameters": {"data_root": {"type": "STRING"},
                                                    "train_steps": {"type": "INT"},
                                                    "min_accuracy": {"type": "DOUBLE"}}},
                "dag": {"tasks": {
                    "Trainer": {
                        "componentRef": {"name": "Trainer"}, "taskInfo": {"name": "Trainer"},
                        "dependentTasks": ["Gen"],
                        "inputs": {
                            "artifacts": {"examples": {"taskOutputArtifact": {
                                "producerTask": "Gen", "outputArtifactKey": "examples"}}},
                            "parameters": {
                                "train_steps": {"componentInputParameter": "train_steps"},
                                "run_fn": {"runtimeValue": {"constantValue": {"stringValue": "m.run_fn"}}},
                                "push_destination": {"runtimeValue": {"constantValue": {"stringValue":
                                    '{"filesystem": {"base_directory": "' + ROOT + '/serving_model"}}'}}},
                            }}},
                    "Gen": {
                        "componentRef": {"name": "Gen"}, "taskInfo": {"name": "Gen"},
                        "inputs": {"parameters": {
                            "input_base": {"componentInputParameter": "data_root"},
                            "output_data_format": {"runtimeValue": {"constantValue": {"intValue": "6"}}}}}},
                    "Blessing-resolver": {
                        "componentRef": {"name": "Blessing-resolver"},
                        "taskInfo": {"name": "Blessing-resolver"}},
                }}},
            "components": {
                "Gen": {"executorLabel": "Gen_executor",
                        "inputDefinitions": {"parameters": {"input_base": {"type": "STRING"},
                                                            "output_data_format": {"type": "INT"}}},
                        "outputDefinitions": {"artifacts": {"examples": {"artifactType": {
                            "instanceSchema": "title: tfx.Examples\ntype: object\n"}}}}},
                "Trainer": {"executorLabel": "Trainer_executor",
                            "inputDefinitions": {"parameters": {"train_steps": {"type": "INT"},
                                                                "run_fn": {"type": "STRING"},
                                                                "push_destination": {"type": "STRING"}}},
                            "outputDefinitions": {"artifacts": {"model": {"artifactType": MODEL_TYPE}}}},
                "Blessing-resolver": {"executorLabel": "Blessing-resolver_executor",
                                      "outputDefinitions": {"artifacts": {"model_blessing": {
                                          "artifactType": BLESSING_TYPE}}}},
            },
            "deploymentSpec": {"executors": {
                "Gen_executor": container("tfx.components.example_gen.csv_example_gen.executor.Executor",
                                          pre_cache_check=True),
                "Trainer_executor": container("components.run_parameters.executor.TrainerExecutor"),
                "Blessing-resolver_executor": {"resolver": {"outputArtifactQueries": {"model_blessing": {
                    "filter": 'schema_title="tfx.ModelBlessing" AND state=LIVE AND '
                              'metadata.blessed.number_value=1'}}}},
            }},
        },
        "runtimeConfig": {"gcsOutputDirectory": ROOT,
                          "parameters": {"data_root": {"stringValue": "/app/data/taxi"},
                                         "train_steps": {"intValue": "50"},
                                         "min_accuracy": {"doubleValue": 0.6}}},
    }


def kfp2_spec(tmp_path):
    """A bare 2.1.0 PipelineSpec, shaped like `compile --target kfp2`: an importer, then a container
    step (a tiny Python program) that writes the ExecutorInput it gets and its lifecycle hook, if run."""
    show = ("import json, os, sys; invocation = json.loads(sys.argv[1]); "
            "out = os.path.dirname(invocation['outputs']['outputFile']); os.makedirs(out, exist_ok=True); "
            "open(os.path.join(out, sys.argv[2]), 'w').write(json.dumps(invocation))")
    return {
        "pipelineInfo": {"name": "small"}, "schemaVersion": "2.1.0", "defaultPipelineRoot": ROOT,
        "root": {
            "inputDefinitions": {"parameters": {
                "train_steps": {"parameterType": "NUMBER_INTEGER", "defaultValue": 50, "isOptional": True},
                "data_root": {"parameterType": "STRING", "defaultValue": "/app/data/taxi", "isOptional": True}}},
            "dag": {"tasks": {
                "Import": {"componentRef": {"name": "Import"}, "taskInfo": {"name": "Import"},
                           "inputs": {"parameters": {"uri": {"componentInputParameter": "data_root"}}}},
                "Show": {"componentRef": {"name": "Show"}, "taskInfo": {"name": "Show"},
                         "dependentTasks": ["Import"],
                         "inputs": {"artifacts": {"data": {"taskOutputArtifact": {
                                        "producerTask": "Import", "outputArtifactKey": "artifact"}}},
                                    "parameters": {
                                        "train_steps": {"componentInputParameter": "train_steps"},
                                        "label": {"runtimeValue": {"constant": "big_tipper"}}}}}}}},
        "components": {
            "Import": {"executorLabel": "Import_executor",
                       "inputDefinitions": {"parameters": {"uri": {"parameterType": "STRING"}}},
                       "outputDefinitions": {"artifacts": {"artifact": {"artifactType": {"schemaTitle": "system.Dataset"}}}}},
            "Show": {"executorLabel": "Show_executor",
                     "inputDefinitions": {"artifacts": {"data": {"artifactType": {"schemaTitle": "system.Dataset"}}},
                                          "parameters": {"train_steps": {"parameterType": "NUMBER_INTEGER"},
                                                         "label": {"parameterType": "STRING"}}}}},
        "deploymentSpec": {"executors": {
            "Import_executor": {"importer": {"artifactUri": {"runtimeParameter": "uri"},
                                             "typeSchema": {"schemaTitle": "system.Dataset"}}},
            "Show_executor": {"container": {
                "image": "registry.example/keras-tfx:test", "command": ["python", "-c", show],
                "args": ["{{$}}", "executor.json"],
                "lifecycle": {"preCacheCheck": {"command": ["python", "-c", show],
                                                "args": ["{{$}}", "hook.json"]}}}}}},
    }


def kfp2_spec_file(tmp_path):
    path = tmp_path / "kfp2.json"
    path.write_text(json.dumps(kfp2_spec(tmp_path)))
    return str(path)
