"""Example Keras prototypes for `python -m pipeline run --model MODULE:FUNCTION`."""
