"""AtomicPusher: TFX's Pusher that never shows a partial version and never pushes a model twice.

Importable without TensorFlow: the words the CLI's summaries use.
"""


def already_served_line(version: str, path: str) -> str:
    """The summary line for a blessed model that the Pusher found already served."""
    return f"pushed: nothing new; the same model is already served as version {version} at {path}"
