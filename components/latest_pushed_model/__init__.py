"""LatestPushedModel: the baseline model for the Evaluator, found as a plain container step.

Importable without TensorFlow: only names here (the CLI's progress lines use them).
"""
# Logged by the executor when no model was pushed before; the terminal shows NO_BASELINE for it.
NO_BASELINE_LOG = "LatestPushedModel: no pushed model recorded under %s"
