"""DriftGuard: stops a run whose new data drifted from the data the served model was trained on.

Importable without TensorFlow: the names, the log line and the error the CLI uses.
"""
from __future__ import annotations

from typing import Dict, List, Optional

# Logged by the executor with one line saying what it found; the terminal shows it as a note.
DRIFT_LOG = "DriftGuard: %s"
ACCEPT_DRIFT_OPTION = "--accept-drift"

# The outcomes a DriftGuard output artifact records (`drift_status`); a drift stop has no output.
NO_BASELINE = "no_baseline"        # nothing pushed yet: nothing to compare with
NO_STATISTICS = "no_statistics"    # the served model's push record names no training statistics
PASSED = "passed"
ACCEPTED = "accepted"              # drifted, let through by --accept-drift
DRIFTED = "drifted"                # the run stopped (only in the DriftError, never published)

COMPARATOR_NAMES = {"jensen_shannon_divergence": "Jensen-Shannon divergence",
                    "infinity_norm": "L-infinity distance",
                    "normalized_abs_difference": "normalized abs difference"}


def drifted_lines(features: List[Dict[str, object]]) -> List[str]:
    """One line per drifted feature: its name, the measure, its distance and threshold."""
    return [f"  feature {f['name']!r}: {COMPARATOR_NAMES.get(str(f['comparator']), f['comparator'])} "
            f"{float(f['distance']):.4f} > threshold {float(f['threshold']):g}"
            for f in features if f.get("drifted")]


class DriftError(RuntimeError):
    """The new data drifted past the schema's thresholds; training on it was not allowed."""

    def __init__(self, features: List[Dict[str, object]], served_version: Optional[str] = None,
                 schema_hint: str = ""):
        self.features = [f for f in features if f.get("drifted")]
        self.served_version = served_version
        served = f" (version {served_version})" if served_version else ""
        where = f" ({schema_hint})" if schema_hint else ""
        self.report = (
            f"the new data drifted from the data the served model{served} was trained on, so the run "
            "stopped before training:\n" + "\n".join(drifted_lines(self.features)) +
            f"\nWhat to do: look at these features in the new data. If the change is real and the model "
            f"should learn it, rerun with {ACCEPT_DRIFT_OPTION} (recorded in ML Metadata and the report); "
            "if the data is wrong, fix it and rerun; if the threshold is too tight, raise the feature's "
            f"drift_comparator threshold in the schema{where}.")
        super().__init__(self.report)
