"""ServingCheck: loads the candidate model as a server would, before any push (TFX's InfraValidator's
job, without Docker or Kubernetes, so it runs on every target, Vertex AI included).

Importable without TensorFlow: only names here (the CLI's progress lines and the run summary use them).
"""
# Logged by the executor once the check is done; the terminal shows the message as a note.
SERVING_CHECK_LOG = "ServingCheck: %s"

# The InfraBlessing artifact's custom properties. `blessed` (1/0) is TFX's own key, as its
# InfraValidator sets it and the Pusher's CheckBlessing reads it.
BLESSED = "blessed"
REASON = "reason"
LOAD_SECONDS = "load_seconds"
REQUESTS = "warmup_requests"
# Latencies in milliseconds, "<signature>_p50_ms_batch_1" etc.: see latency_key.
RESULT_FILE = "serving_check.json"
# The serving contract's names, spelled once in the Trainer's constants (no TensorFlow there).
from components.trainer.constants import (ASSETS_EXTRA, DEFAULT_SIGNATURE, RAW_SIGNATURE,  # noqa: E402,F401
                                          WARMUP_FILE)
BATCH_SIZES = (1, 100)


def latency_key(signature: str, percentile: int, batch: int) -> str:
    """The custom property holding one latency: e.g. `serving_default_p99_ms_batch_100`."""
    return f"{signature}_p{percentile}_ms_batch_{batch}"


def describe_latencies(properties, signature: str = DEFAULT_SIGNATURE) -> str:
    """'p50/p99 2.1/3.4 ms at batch 1, 6.0/9.1 ms at batch 100' from a mapping of property values."""
    parts = []
    for batch in BATCH_SIZES:
        p50, p99 = (properties.get(latency_key(signature, p, batch)) for p in (50, 99))
        if p50 is not None and p99 is not None:
            parts.append(f"{p50:.1f}/{p99:.1f} ms at batch {batch}")
    return ("p50/p99 " + ", ".join(parts)) if parts else ""


def passed_line(properties) -> str:
    """What the terminal and run-compiled say about a passed check."""
    load = properties.get(LOAD_SECONDS)
    requests = properties.get(REQUESTS)
    latency = describe_latencies(properties)
    return ("passed: " + (f"loaded in {load:.1f} s in a fresh TensorFlow process" if load is not None else "loaded")
            + (f", {int(requests)} warm-up requests answered through both signatures" if requests else "")
            + (f"; {latency}" if latency else ""))
