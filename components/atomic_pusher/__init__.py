"""AtomicPusher: TFX's Pusher that never shows a partial version and never pushes a model twice.

Importable without TensorFlow: the names of what it records and the words the CLI's summaries use.
"""

# The PushedModel's custom properties. TFX's Pusher writes the first three (_MarkPushed,
# _MarkNotPushed); a blessed model that is already served gets `pushed` 0 and the other three.
PUSHED = "pushed"                            # 1: pushed, 0: not
PUSHED_DESTINATION = "pushed_destination"    # the version folder it was pushed to
PUSHED_VERSION = "pushed_version"            # that folder's name
NOT_PUSHED_REASON = "not_pushed_reason"
SERVING_VERSION = "serving_version"          # the version already serving the same model
SERVING_DESTINATION = "serving_destination"  # and its folder


def already_served_line(version: str, path: str) -> str:
    """The summary line for a blessed model that the Pusher found already served."""
    return f"pushed: nothing new; the same model is already served as version {version} at {path}"
