"""The model server `python -m pipeline serve` runs: KServe + a current TensorFlow, in `.venv-serving`.

Nothing here imports the pipeline's TF 2.15 stack: `server.py` runs as a script in the serving
environment and imports only kserve, tensorflow and the stdlib (and its sibling `versions.py`).
"""
