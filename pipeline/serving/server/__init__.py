"""The model server `python -m pipeline serve` runs: KServe + a current TensorFlow, in `.venv-serving`.

Nothing here imports the pipeline's TF 2.15 stack: `server.py` runs as a script in the serving
environment and imports only kserve, tensorflow and the stdlib, and its siblings here by their
bare names (the script's folder is first on sys.path). Those that import no sibling
(tf_serving_json, body_limit, versions) are tested in the pipeline's own environment.
"""
