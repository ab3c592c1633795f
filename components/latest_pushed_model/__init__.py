"""LatestPushedModel: the baseline model for the Evaluator, found as a plain container step.

Importable without TensorFlow: only names here (the CLI's progress lines use them).
"""
# Logged by the executor when no model was pushed before; the terminal shows NO_BASELINE for it.
NO_BASELINE_LOG = "LatestPushedModel: no pushed model recorded under %s"

# The output Model's custom properties: whether a pushed model was found, and which.
FOUND_PROPERTY = "baseline_found"
VERSION_PROPERTY = "pushed_version"
SOURCE_URI_PROPERTY = "source_model_uri"
SOURCE_ID_PROPERTY = "source_model_id"
