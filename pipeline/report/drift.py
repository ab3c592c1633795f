"""The report's drift section: per feature, the distance against its threshold, and the served
and new training distributions side by side (from the drift guard's drift.json and the two
StatisticsGen outputs it names)."""
from __future__ import annotations

from typing import Dict, Optional

import markupsafe

from components import drift_guard
from pipeline.report import collect, plots

_SAID = {
    drift_guard.PASSED: "No drift: every feature is within its threshold.",
    drift_guard.ACCEPTED: "Drift accepted with --accept-drift: the features marked drifted were trained on "
                          "after review.",
    drift_guard.DRIFTED: "The new data drifted, so the run stopped before training (the features and "
                         "distances are in the error on the terminal and in the run's log).",
}


def _train_bars(statistics_uri: Optional[str]) -> Dict[str, list]:
    """Feature name -> bars of the train split's distribution ({} when the statistics are gone)."""
    if not statistics_uri:
        return {}
    try:
        split = collect.split_statistics(statistics_uri).get("train")
    except Exception:  # pylint: disable=broad-except  # deleted or unreadable: show the numbers only
        return {}
    return {name: f.bars for name, f in split.features.items()} if split else {}


def section(drift: Optional[Dict[str, object]]) -> Optional[dict]:
    """The template's values for the drift section; None when the drift guard did not run."""
    if not drift:
        return None
    status = str(drift.get("status"))
    served = _train_bars(drift.get("served_statistics_uri"))
    new = _train_bars(drift.get("statistics_uri"))
    rows = []
    for feature in drift.get("features") or []:
        name = feature["name"]
        rows.append({
            "name": name, "drifted": feature["drifted"], "distance": feature["distance"],
            "threshold": feature["threshold"],
            "comparator": drift_guard.COMPARATOR_NAMES.get(feature["comparator"], feature["comparator"]),
            "share": min(feature["distance"] / feature["threshold"], 1.0) if feature["threshold"] else 1.0,
            "served": markupsafe.Markup(plots.bar_chart(served.get(name, []), title=f"{name} (served)")),
            "new": markupsafe.Markup(plots.bar_chart(new.get(name, []), title=f"{name} (new)")),
        })
    return {"status": status, "said": _SAID.get(status, f"Not checked: {drift.get('note')}"),
            "served_version": drift.get("served_version"), "accept_drift": bool(drift.get("accept_drift")),
            "features": rows}
