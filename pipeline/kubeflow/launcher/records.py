"""What a run records and the next run reads back: artifacts, step results, and the run.json
of every run under `<pipeline-root>/run-compiled/<run id>/` (written by run.Run.save)."""
from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Dict, List, Optional, Sequence

RUNS_DIR = "run-compiled"
RECORD_FILE = "run.json"


@dataclasses.dataclass
class Artifact:
    """One artifact as a KFP launcher sees it: the RuntimeArtifact fields that matter here."""
    name: str
    type: Dict[str, str]          # ArtifactTypeSchema JSON: {"instanceSchema": ...} or {"schemaTitle": ...}
    uri: str
    metadata: Dict[str, object]

    def runtime_artifact(self) -> Dict[str, object]:
        return {"name": self.name, "type": self.type, "uri": self.uri, "metadata": self.metadata}

    @property
    def schema_title(self) -> str:
        if "schemaTitle" in self.type:
            return self.type["schemaTitle"]
        match = re.search(r"^title:\s*(\S+)", self.type.get("instanceSchema", ""), re.MULTILINE)
        return match.group(1) if match else ""

    @classmethod
    def from_dict(cls, data: Dict[str, object]) -> "Artifact":
        return cls(data["name"], data["type"], data["uri"], data.get("metadata") or {})


@dataclasses.dataclass
class StepResult:
    """One finished task, as run.json records it."""
    task: str
    state: str                    # "ran", "cached", "resolved", "imported"; the exit task: "failed", "skipped"
    seconds: float
    outputs: Dict[str, List[Artifact]]
    log_path: Optional[str] = None
    cache_key: Optional[str] = None


def load_records(pipeline_root: str, exclude_run: Optional[str] = None) -> List[Dict[str, object]]:
    """The run.json of every earlier run-compiled run under the root, oldest first."""
    runs_dir = os.path.join(pipeline_root, RUNS_DIR)
    records = []
    for run_id in sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []:
        path = os.path.join(runs_dir, run_id, RECORD_FILE)
        if run_id != exclude_run and os.path.isfile(path):
            with open(path) as f:
                records.append(json.load(f))
    return sorted(records, key=lambda r: r["started"])


def recorded_artifacts(records: Sequence[Dict[str, object]]) -> List[Artifact]:
    """Artifacts that steps created (not took from the cache) in these runs, oldest first."""
    artifacts = []
    for record in records:
        for task in record["order"]:
            step = record["tasks"].get(task)
            if step and step["state"] == "ran":
                for key in sorted(step["outputs"]):
                    artifacts.extend(Artifact.from_dict(a) for a in step["outputs"][key])
    return artifacts
