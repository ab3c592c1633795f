"""Runs the pipeline with TFX's LocalDagRunner: Beam DirectRunner, ML Metadata in SQLite.

Thin on purpose: resolves paths, stages the schema, picks the orchestrator; the graph
comes from `pipeline.pipeline.create_pipeline`.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from typing import List, Tuple

from absl import logging as absl_logging
from tfx.orchestration import metadata, pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.latest_pushed_model import records
from components.trainer.features import FeatureSet, features_from_schema, load_schema
from pipeline import config as config_lib, logs
from pipeline.data import csv_check
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline, slices_note, with_resolved_slices

# Beam args used when the user names none: in-process DirectRunner.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


def stage_schema(schema_path: str, pipeline_root: str) -> str:
    """Copies the schema to a content-addressed path under the pipeline root.

    ImportSchemaGen caches on its `schema_file` argument, a path: without this, an
    edited schema at the same path would be served stale from the cache.
    """
    with open(schema_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    target_dir = os.path.join(pipeline_root, "schemas", digest)
    target = os.path.join(target_dir, "schema.pbtxt")
    if not os.path.exists(target):
        os.makedirs(target_dir, exist_ok=True)
        tmp = target + ".tmp"
        shutil.copyfile(schema_path, tmp)
        os.replace(tmp, target)
    return target


def prepare(config: PipelineConfig) -> Tuple[PipelineConfig, FeatureSet, tfx_pipeline.Pipeline]:
    """Checks inputs, then builds the pipeline for a local run (no TFX execution yet)."""
    config = config_lib.absolute(config)
    config.check_paths()
    schema = load_schema(config.schema_path)
    features = features_from_schema(schema, config.label)
    csv_check.check_data(config.data_root, schema, config.label,
                         classes=None if features.label.is_regression else features.label.classes,
                         used=features.names)
    requested = config.slice_features
    config = with_resolved_slices(config, features)
    absl_logging.info(logs.SLICES_LOG, slices_note(requested, config, features))
    os.makedirs(config.output_dir, exist_ok=True)
    beam_args: List[str] = list(config.beam_args) or list(DEFAULT_BEAM_ARGS)
    pipeline = create_pipeline(
        config,
        features.label,
        pipeline_root=config.pipeline_root,
        data_root=config.data_root,
        schema_path=stage_schema(config.schema_path, config.pipeline_root),
        serving_dir=config.serving_dir,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            config.metadata_path),
        beam_pipeline_args=beam_args,
        input_pattern=(config_lib.SPAN_INPUT_PATTERN if config_lib.span_folders(config.data_root)
                       else "*"),
        # The baseline step is cached until another model is pushed (see LatestPushedModel).
        last_pushed_model=records.last_pushed_model(config.serving_dir),
    )
    return config, features, pipeline


def run(config: PipelineConfig) -> PipelineConfig:
    """Runs the whole pipeline locally; returns the resolved config. Raises on failure."""
    config, _, pipeline = prepare(config)
    LocalDagRunner().run(pipeline)
    return config
