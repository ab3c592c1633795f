"""The run parameters a Kubeflow user sets per run without recompiling: their names and types.

Importable without TFX: `compile` declares them (pipeline/kubeflow/runner.py) and `submit` types
a kubeflow-v1 package's `--param` values by them (an Argo workflow declares every parameter as
text, so without this a `train_steps=abc` would only fail in the Trainer's step on the cluster).
"""
from pipeline import pairs

DATA_ROOT = "data_root"
TRAIN_STEPS = "train_steps"
EVAL_STEPS = "eval_steps"
MIN_ACCURACY = "min_accuracy"
ACCEPT_DRIFT = "accept_drift"  # 1: the drift guard lets a reviewed, drifted span through
NOTIFY_URLS = "notify_urls"  # the exit handler's webhooks (pipeline/kubeflow/exit_handler.py)
TYPES = {DATA_ROOT: pairs.STRING, TRAIN_STEPS: pairs.INTEGER, EVAL_STEPS: pairs.INTEGER,
         MIN_ACCURACY: pairs.FLOAT, ACCEPT_DRIFT: pairs.INTEGER, NOTIFY_URLS: pairs.STRING}
