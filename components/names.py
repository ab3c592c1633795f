"""Names that become file and folder names (features, compiled steps): no path syntax.

Importable without TensorFlow (the `run-compiled` launcher uses it too).
"""
import re

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def is_plain_name(name) -> bool:
    """Letters, digits, '_', '-' and '.', at most 128, not starting with '.' or '-', no '..'."""
    return isinstance(name, str) and bool(_PLAIN.fullmatch(name)) and ".." not in name
