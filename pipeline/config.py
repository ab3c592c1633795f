"""One typed, validated config object for every pipeline setting.

The CLI fills it, `create_pipeline` reads it; nothing else carries settings.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from typing import Any, Dict, Optional, Tuple

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PIPELINE_NAME = "keras-tfx"
RUN_FN = "components.trainer.task.run_fn"

# Bundled defaults: the Chicago taxi sample shipped in the tfx wheel (see data/README.md).
DEFAULT_DATA_ROOT = os.path.join(PROJECT_ROOT, "data", "taxi")
DEFAULT_SCHEMA = os.path.join(PROJECT_ROOT, "schemas", "taxi", "schema.pbtxt")
DEFAULT_LABEL = "big_tipper"
DEFAULT_SLICE_FEATURES = ("trip_start_hour",)

# Component ids of the graph that create_pipeline builds.
EXAMPLE_GEN = "CsvExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
TRAINER = "Trainer"
LATEST_PUSHED_MODEL = "LatestPushedModel"  # the baseline: the model the Pusher pushed last
DRIFT_GUARD = "DriftGuard"
EVALUATOR = "Evaluator"
SERVING_CHECK = "ServingCheck"
PUSHER = "Pusher"
COMPONENT_IDS = (EXAMPLE_GEN, STATISTICS_GEN, SCHEMA_GEN, EXAMPLE_VALIDATOR, LATEST_PUSHED_MODEL, DRIFT_GUARD,
                 TRAINER, EVALUATOR, SERVING_CHECK, PUSHER)

# Pipeline names: Kubeflow v2's characters (a-z, 0-9, '-'; not '-' first), at most 63 of them (a DNS
# label's length; Kubeflow v2 allows 128), checked for every target so each one accepts the name.
_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class ConfigError(ValueError):
    """A setting is out of bounds or points nowhere; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    data_root: str = DEFAULT_DATA_ROOT
    schema_path: str = DEFAULT_SCHEMA
    label: str = DEFAULT_LABEL
    output_dir: str = "outputs"
    pipeline_name: str = PIPELINE_NAME
    train_steps: int = 2000
    eval_steps: int = 0             # 0: the whole eval split
    # Classification: accuracy must be >= min_accuracy when given, else >= the eval split's
    # majority-class rate + min_lift; a binary label's AUC >= min_auc when given, else >= 0.5 +
    # min_lift. An explicit value replaces the data's baseline (0: no bound on that metric).
    min_accuracy: Optional[float] = None
    min_auc: Optional[float] = None
    max_accuracy_drop: float = 0.0  # change threshold: how far below the last blessed model
    min_lift: float = 0.01          # how far a model must beat the data's own baseline
    # Regression: MAE must be <= max_mae when given, else <= (1 - min_lift) x the MAE of always
    # predicting the training split's mean; and at most max_mae_rise above the served model's.
    max_mae: Optional[float] = None
    max_mae_rise: float = 0.0
    train_hash_buckets: int = 2     # train:eval split, as hash buckets
    eval_hash_buckets: int = 1
    slice_features: Tuple[str, ...] = DEFAULT_SLICE_FEATURES
    hparams: Tuple[Tuple[str, object], ...] = ()
    seed: int = 42
    enable_cache: bool = True
    warm_start: bool = False        # Trainer starts from the last blessed model's weights
    accept_drift: bool = False      # a reviewed drifted span may be trained on (DriftGuard)
    beam_args: Tuple[str, ...] = ()
    # A user's model function (--model), as the CLI parsed it: components.trainer.user_model's
    # ModelSpec. None: the built-in model.
    model: Optional[Any] = None
    input_map: Tuple[Tuple[str, str], ...] = ()  # --input-map: model input -> feature

    def __post_init__(self):
        _check(_NAME_PATTERN.fullmatch(self.pipeline_name),
               f"pipeline name {self.pipeline_name!r}: use lower-case letters, digits and '-' "
               "(starting with a letter or digit, at most 63 characters)")
        _check(isinstance(self.train_steps, int) and self.train_steps > 0,
               f"--train-steps must be a whole number > 0 (got {self.train_steps!r})")
        _check(isinstance(self.eval_steps, int) and self.eval_steps >= 0,
               f"--eval-steps must be a whole number >= 0, 0 meaning the whole eval split "
               f"(got {self.eval_steps!r})")
        _check(self.min_accuracy is None or 0.0 <= self.min_accuracy <= 1.0,
               f"--min-accuracy must be between 0 and 1 (got {self.min_accuracy!r})")
        _check(self.min_auc is None or 0.0 <= self.min_auc <= 1.0,
               f"--min-auc must be between 0 and 1 (got {self.min_auc!r})")
        _check(0.0 <= self.min_lift < 1.0,
               f"--min-lift must be >= 0 and < 1 (got {self.min_lift!r})")
        _check(self.max_mae is None or self.max_mae > 0,
               f"--max-mae must be > 0 (got {self.max_mae!r})")
        _check(self.max_mae_rise >= 0, f"--max-mae-rise must be >= 0 (got {self.max_mae_rise!r})")
        _check(0.0 <= self.max_accuracy_drop <= 1.0,
               f"--max-accuracy-drop must be between 0 and 1 (got {self.max_accuracy_drop!r})")
        _check(self.train_hash_buckets > 0 and self.eval_hash_buckets > 0,
               "split hash buckets must be > 0 for both train and eval")
        _check(self.label.strip() != "", "--label must name the label column")
        _check(self.seed >= 0, f"--seed must be >= 0 (got {self.seed})")

    # Paths, all under the output dir.
    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_dir, "metadata.sqlite")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.output_dir, "serving_model")

    @property
    def hparams_dict(self) -> Dict[str, object]:
        return dict(self.hparams)

    def check_output_dir(self) -> None:
        """Creates the output dir if needed and proves a file can be written in it."""
        try:
            os.makedirs(self.output_dir, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.output_dir):
                pass
        except OSError as exc:
            raise ConfigError(
                f"--output-dir {self.output_dir!r} cannot be written ({exc.strerror or exc}); nothing "
                "was run. Choose a folder you can write with --output-dir, or fix its permissions."
            ) from None

    def check_paths(self) -> None:
        """Checks the inputs exist and the output dir is writable; done by runners, not by
        create_pipeline (pure)."""
        self.check_output_dir()
        _check(os.path.isdir(self.data_root),
               f"--data-root {self.data_root!r} is not a folder; point it at a folder of CSV files")
        csvs = [f for f in os.listdir(self.data_root) if f.lower().endswith(".csv")]
        spans = span_folders(self.data_root)
        _check(not (csvs and spans),
               f"--data-root {self.data_root!r} holds both CSV files and span folders ({spans[:1]}...); "
               "keep the CSV files inside span-N/ folders, or remove the span folders")
        if spans:
            for span in spans:
                folder = os.path.join(self.data_root, span)
                _check(any(f.lower().endswith(".csv") for f in os.listdir(folder)),
                       f"span folder {folder!r} holds no .csv file")
        else:
            _check(csvs, f"--data-root {self.data_root!r} holds no .csv file (nor span-N/ folders)")
        _check(os.path.isfile(self.schema_path),
               f"--schema {self.schema_path!r} does not exist; write one with "
               "`python -m pipeline infer-schema --data-root DIR --output FILE`")


SPAN_PATTERN = re.compile(r"^span-(\d+)$")
# CsvExampleGen's pattern for span folders: it ingests the newest span.
SPAN_INPUT_PATTERN = "span-{SPAN}/*.csv"


def span_folders(data_root: str) -> list:
    """`span-N` subfolders of a local data root, oldest first."""
    if not os.path.isdir(data_root):
        return []
    names = [n for n in os.listdir(data_root)
             if SPAN_PATTERN.match(n) and os.path.isdir(os.path.join(data_root, n))]
    return sorted(names, key=lambda n: int(SPAN_PATTERN.match(n).group(1)))


def _check(condition, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def replace(config: PipelineConfig, **changes) -> PipelineConfig:
    return dataclasses.replace(config, **changes)


def absolute(config: PipelineConfig) -> PipelineConfig:
    """The same config with absolute local paths (runners work from any cwd)."""
    def fix(path: Optional[str]) -> Optional[str]:
        return path if path is None or "://" in path else os.path.abspath(path)
    return replace(config, data_root=fix(config.data_root), schema_path=fix(config.schema_path),
                   output_dir=fix(config.output_dir))
