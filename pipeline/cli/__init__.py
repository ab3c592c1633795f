"""The `python -m pipeline` commands, in groups; `pipeline/__main__.py` gathers them into one click group.

Importable without TensorFlow: each command imports TFX, Beam or TensorFlow only when it runs, so
`--help` and option errors come back at once.
"""
