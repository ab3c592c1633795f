"""The step cache, as KFP's: a step whose command and inputs equal those of a step in an earlier
run under the same pipeline root is taken from that run, while its outputs are still there."""
from __future__ import annotations

import hashlib
import json
import os
from typing import Dict, List, Optional, Sequence

from pipeline.kubeflow.launcher.records import Artifact


def cache_key(container: Dict[str, object], invocation: Dict[str, object]) -> str:
    """Like KFP's cache key: the step's command, its inputs (parameters, artifacts) and output types.

    Args:
      container: the step's container spec (image, command, args).
      invocation: its ExecutorInput (after its driver, if it has one).
    """
    outputs = {k: [a["type"] for a in v["artifacts"]]
               for k, v in invocation["outputs"]["artifacts"].items()}
    material = {"image": container.get("image"), "command": container.get("command"),
                "args": container.get("args"), "inputs": invocation["inputs"], "outputs": outputs}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def cached_outputs(records: Sequence[Dict[str, object]], key: str) -> Optional[Dict[str, List[Artifact]]]:
    """Outputs of the newest earlier step with the same cache key whose files are still there.

    Args:
      records: earlier runs' run.json, oldest first (records.load_records).
      key: the step's cache_key.

    Returns:
      Its outputs by key, or None if no earlier step can answer.
    """
    for record in reversed(records):
        for step in record["tasks"].values():
            if step.get("cache_key") != key or step["state"] not in ("ran", "cached"):
                continue
            outputs = {k: [Artifact.from_dict(a) for a in v] for k, v in step["outputs"].items()}
            if all(os.path.exists(a.uri) for v in outputs.values() for a in v):
                return outputs
    return None
