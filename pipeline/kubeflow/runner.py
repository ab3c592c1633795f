"""Compiles the same graph for Kubeflow Pipelines and Vertex AI Pipelines.

Targets, each for the backends named:
- `kfp2`: open-source Kubeflow Pipelines 2.x. Pipeline spec schema 2.1 (TFX's
  `use_pipeline_spec_2_1=True`): typed parameters (`parameterType`), constants as
  `runtimeValue.constant`, and the step entrypoint told the inputs' types so it reads the
  `parameterValues` the KFP 2.x driver sends. Written as the bare PipelineSpec (what KFP's API
  server accepts on upload), with the run parameters' defaults as `defaultValue` and the
  compiled root as `defaultPipelineRoot`.
- `vertex`: Vertex AI Pipelines. Schema 2.0.0 (TFX's default, the form TFX's own Vertex tests run).
- `kubeflow-v1`: Argo Workflow YAML for KFP 1.8, and for KFP 2.x in its v1 (legacy) mode.
The graph has no resolver node (see components/latest_pushed_model), so every target runs it.

Offline and side-effect free apart from the output file: remote roots (gs://, s3://,
minio://) are only strings here, and user code is referenced by dotted path (baked into
the image, see Dockerfile), so no wheel is built or uploaded at compile time.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from typing import Dict, Optional

from tfx.orchestration.kubeflow import kubeflow_dag_runner
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner
from tfx.orchestration import data_types

from components.run_parameters import gates
from components.trainer.features import features_from_schema, load_schema
from pipeline import config as config_lib
from components.trainer.user_model import ModelSpec
from pipeline.config import ConfigError, PipelineConfig
from pipeline.kubeflow import compiled_exit, parameters
from pipeline.kubeflow.targets import IMAGE_PROJECT_ROOT, KFP2, KUBEFLOW_V1, PIPELINE_JSON, TARGETS, VERTEX
from pipeline.pipeline import LATEST_PUSHED_MODEL, create_pipeline, with_resolved_slices

TARGET_BACKENDS = {
    KFP2: "open-source Kubeflow Pipelines 2.x",
    VERTEX: "Vertex AI Pipelines",
    KUBEFLOW_V1: "Kubeflow Pipelines 1.8, and KFP 2.x in v1 mode",
}
# Before there were three targets, one JSON target served both KFP 2.x and Vertex; it ran on Vertex only.
RETIRED_TARGETS = {"kubeflow-v2": f"--target kubeflow-v2 is gone: its JSON ran on Vertex AI only. Use "
                                  f"--target {KFP2} for open-source Kubeflow Pipelines 2.x or --target "
                                  f"{VERTEX} for Vertex AI Pipelines (--target {KUBEFLOW_V1}: KFP 1.8)"}

# Run parameters a Kubeflow user can set per run, without recompiling.
DATA_ROOT_PARAM = parameters.DATA_ROOT
TRAIN_STEPS_PARAM = parameters.TRAIN_STEPS
EVAL_STEPS_PARAM = parameters.EVAL_STEPS
MIN_ACCURACY_PARAM = parameters.MIN_ACCURACY
ACCEPT_DRIFT_PARAM = parameters.ACCEPT_DRIFT
NOTIFY_URLS_PARAM = parameters.NOTIFY_URLS
RUN_PARAMETERS = (DATA_ROOT_PARAM, TRAIN_STEPS_PARAM, EVAL_STEPS_PARAM, MIN_ACCURACY_PARAM, ACCEPT_DRIFT_PARAM,
                  NOTIFY_URLS_PARAM)


def path_in_image(local_path: str) -> str:
    """The path of a project file inside the image, for files the Dockerfile copies."""
    local_path = os.path.abspath(local_path)
    relative = os.path.relpath(local_path, config_lib.PROJECT_ROOT)
    if relative.startswith(".."):
        raise ConfigError(
            f"{local_path} is outside the project, so it is not in the image; put it under the "
            "project (e.g. schemas/) and rebuild the image, or pass its URI (--schema-uri / --data-root)")
    return f"{IMAGE_PROJECT_ROOT}/{relative}"


def model_in_image(spec: ModelSpec) -> ModelSpec:
    """The user's model function as the steps find it inside the image (the Dockerfile copies
    the project to /app, the working directory of every step); `spec` as `user_model.parse_spec`
    gave it, with the file it found the module in (`origin`)."""
    if spec.is_file:
        try:
            module = path_in_image(spec.module)
        except ConfigError:
            how = ("pass its path in the project (examples/my_model.ipynb:build_model)" if spec.is_notebook
                   else "pass it as a dotted module (examples.my_model:build_model)")
            raise ConfigError(
                f"--model {spec}: {spec.module} is outside the project, so the image (which copies the "
                f"project) does not contain it. Move it under the project, e.g. examples/, rebuild the "
                f"image, and {how}") from None
        return dataclasses.replace(spec, module=module, search_path=os.path.dirname(module))
    origin = os.path.abspath(spec.origin)
    if os.path.relpath(origin, config_lib.PROJECT_ROOT).startswith(".."):
        raise ConfigError(
            f"--model {spec}: module {spec.module} is {origin}, outside the project, so the image does "
            "not contain it. Put it under the project (e.g. examples/) and rebuild the image")
    if os.path.abspath(spec.search_path) != config_lib.PROJECT_ROOT:
        raise ConfigError(
            f"--model {spec}: a dotted module is imported from the project's root inside the image "
            f"(/app); compile from the project root ({config_lib.PROJECT_ROOT}) with a module path "
            "relative to it")
    return dataclasses.replace(spec, search_path=IMAGE_PROJECT_ROOT)


def run_parameters(config: PipelineConfig, data_root: str) -> Dict[str, data_types.RuntimeParameter]:
    return {
        DATA_ROOT_PARAM: data_types.RuntimeParameter(name=DATA_ROOT_PARAM, ptype=str, default=data_root),
        TRAIN_STEPS_PARAM: data_types.RuntimeParameter(name=TRAIN_STEPS_PARAM, ptype=int,
                                                      default=config.train_steps),
        EVAL_STEPS_PARAM: data_types.RuntimeParameter(name=EVAL_STEPS_PARAM, ptype=int,
                                                     default=config.eval_steps),
        MIN_ACCURACY_PARAM: data_types.RuntimeParameter(
            name=MIN_ACCURACY_PARAM, ptype=float, default=gates.min_accuracy_parameter(config.min_accuracy)),
        ACCEPT_DRIFT_PARAM: data_types.RuntimeParameter(name=ACCEPT_DRIFT_PARAM, ptype=int,
                                                       default=int(config.accept_drift)),
    }  # and notify_urls, the exit handler's (declared by compiled_exit.wire_exit_handler)


def compile_pipeline(config: PipelineConfig, *, target: str, output: str, image: str,
                     pipeline_root: str, data_root: Optional[str] = None,
                     serving_dir: Optional[str] = None, schema_uri: Optional[str] = None) -> str:
    """Writes the compiled pipeline to `output` (atomically) and returns its path."""
    if target in RETIRED_TARGETS:
        raise ConfigError(RETIRED_TARGETS[target])
    if target not in TARGETS:
        raise ConfigError(f"--target {target!r}: choose one of {list(TARGETS)}")
    if not image or any(c.isspace() for c in image):
        raise ConfigError(f"--image {image!r}: give the image reference, e.g. gcr.io/project/keras-tfx:1.0")
    if not os.path.isfile(config.schema_path):
        raise ConfigError(f"--schema {config.schema_path!r} does not exist")
    features = features_from_schema(load_schema(config.schema_path), config.label)
    config = with_resolved_slices(config, features)
    if config.model is not None:
        config = config_lib.replace(config, model=model_in_image(config.model))

    data_root = data_root or path_in_image(config.data_root)
    params = run_parameters(config, data_root)
    serving_dir = serving_dir or pipeline_root.rstrip("/") + "/serving_model"
    pipeline = create_pipeline(
        config, features.label,
        pipeline_root=pipeline_root,
        data_root=params[DATA_ROOT_PARAM],
        schema_path=schema_uri or path_in_image(config.schema_path),
        serving_dir=serving_dir,
        beam_pipeline_args=list(config.beam_args) or ["--runner=DirectRunner"],
        train_steps=params[TRAIN_STEPS_PARAM],
        eval_steps=params[EVAL_STEPS_PARAM],
        min_accuracy=params[MIN_ACCURACY_PARAM],
        accept_drift=params[ACCEPT_DRIFT_PARAM],
    )
    output = os.path.abspath(output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(output)) as staging:
        filename = os.path.basename(output)
        if target in PIPELINE_JSON:
            if not filename.endswith(".json"):
                raise ConfigError(f"--output {output!r}: a {target} pipeline is a JSON file; end the name in .json")
            runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
                config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
                    default_image=image, use_pipeline_spec_2_1=(target == KFP2)),
                output_dir=staging, output_filename=filename)
            runner.set_exit_handler(compiled_exit.exit_handler_component(
                config.pipeline_name, pipeline_root=pipeline_root, serving_dir=serving_dir))
        else:
            if not filename.endswith((".yaml", ".yml", ".tar.gz", ".tgz", ".zip")):
                raise ConfigError(f"--output {output!r}: a kubeflow-v1 package ends in .yaml, .tar.gz or .zip")
            runner = _KubeflowV1Runner(
                config=kubeflow_dag_runner.KubeflowDagRunnerConfig(
                    kubeflow_metadata_config=(
                        kubeflow_dag_runner.get_default_kubeflow_metadata_config()),
                    tfx_image=image,
                    pipeline_operator_funcs=[
                        *kubeflow_dag_runner.get_default_pipeline_operator_funcs(),
                        _no_kfp_cache_for_the_baseline]),
                output_dir=staging, output_filename=filename)
        if target in PIPELINE_JSON:
            # Defaults of the run parameters go into the job's runtimeConfig.
            runner.run(pipeline, parameter_values={k: p.default for k, p in params.items()})
            compiled_exit.wire_exit_handler(os.path.join(staging, filename))
            without_cache_for_the_baseline(os.path.join(staging, filename))
            if target == KFP2:
                as_kfp2_pipeline_spec(os.path.join(staging, filename))
        else:
            runner.run(pipeline)
            compiled_exit.add_argo_on_exit(os.path.join(staging, filename), image=image,
                                           pipeline_name=config.pipeline_name, serving_dir=serving_dir)
        shutil.move(os.path.join(staging, filename), output)
    return output


# The baseline step has no inputs: any cache would answer it forever with its first result.


def without_cache_for_the_baseline(job_path: str) -> None:
    """Rewrites a compiled pipeline job JSON with caching off for the baseline task."""
    with open(job_path) as f:
        job = json.load(f)
    tasks = compiled_exit.pipeline_tasks(job["pipelineSpec"])
    if LATEST_PUSHED_MODEL not in tasks:
        raise RuntimeError(f"the compiled pipeline has no {LATEST_PUSHED_MODEL} task")
    tasks[LATEST_PUSHED_MODEL].pop("cachingOptions", None)  # KFP and Vertex: no cachingOptions = not cached
    with open(job_path, "w") as f:
        json.dump(job, f, indent=2, sort_keys=True)


def as_kfp2_pipeline_spec(job_path: str) -> None:
    """Rewrites TFX's PipelineJob JSON as the PipelineSpec document that KFP 2.x's API server reads.

    KFP's upload keeps only a document that parses as a PipelineSpec of schema 2.1.0
    (kubeflow/pipelines backend/src/apiserver/template/v2_template.go:220-236, template.go:112-120),
    so the job's runtimeConfig would be dropped: its parameter defaults become the root inputs'
    `defaultValue` (which KFP's compiler fills in for a run without them: argocompiler/argo.go:103-110)
    and its output directory the spec's `defaultPipelineRoot`.
    """
    with open(job_path) as f:
        job = json.load(f)
    spec = job["pipelineSpec"]
    defaults = job.get("runtimeConfig", {}).get("parameterValues", {})
    for name, definition in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
        value = defaults[name]
        if definition.get("parameterType") == "NUMBER_INTEGER":
            value = int(value)
        definition["defaultValue"] = value
        definition["isOptional"] = True
    spec["defaultPipelineRoot"] = job["runtimeConfig"]["gcsOutputDirectory"]
    with open(job_path, "w") as f:
        json.dump(spec, f, indent=2, sort_keys=True)


def _no_kfp_cache_for_the_baseline(container_op) -> None:
    """KFP 1.8's step cache (keyed on the pod spec): never for the baseline step."""
    if container_op.name.lower() == LATEST_PUSHED_MODEL.lower():
        container_op.execution_options.caching_strategy.max_cache_staleness = "P0D"


class _KubeflowV1Runner(kubeflow_dag_runner.KubeflowDagRunner):
    """TFX's KubeflowDagRunner with TFX's own (MLMD) cache off for the baseline step."""

    def _dehydrate_tfx_ir(self, original_pipeline, node_id):
        ir = super()._dehydrate_tfx_ir(original_pipeline, node_id)
        if node_id == LATEST_PUSHED_MODEL:
            ir.nodes[0].pipeline_node.execution_options.caching_options.enable_cache = False
        return ir
