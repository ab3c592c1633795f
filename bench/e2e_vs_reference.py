"""Benchmark 1 of issue 5: our whole pipeline against TFX 1.15.1's own Estimator taxi pipeline.

Both run fresh (empty output and metadata), one after the other in this one benchmark run, on
the same 15,002 Chicago taxi trips, with the same Trainer train and eval steps:

- the reference: `taxi_pipeline_local.py` + `taxi_utils.py` from the installed tfx package,
  copied at run time into a temp dir, its paths pointed there and its `TrainArgs` /
  `EvalArgs` steps set; nothing else changed (its own Beam args: DirectRunner
  multi_processing with one worker per core; its own data, `data/simple/data.csv`).
- ours: `python -m pipeline run` on `data/taxi/data.csv`, which is that same file with the
  reference's label (`tips > 20% of fare`) precomputed and `tips` dropped (data/README.md).

Reported: wall time of each process (start-up included), peak RSS summed over its process
tree, per-component time from its ML Metadata, and the overall-slice eval accuracy and AUC of
each Evaluator.

    .venv/bin/python bench/e2e_vs_reference.py [--train-steps 10000] [--eval-steps 5000]
        [--order ours-first|reference-first] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

REFERENCE_PACKAGE = "tfx/examples/chicago_taxi_pipeline"


def reference_dir() -> str:
    import importlib.util
    spec = importlib.util.find_spec("tfx")  # no import: importing tfx is slow
    return os.path.join(os.path.dirname(spec.origin), "examples", "chicago_taxi_pipeline")


def stage_reference(workdir: str, train_steps: int, eval_steps: int) -> str:
    """Copies the reference pipeline, module and data under `workdir`; returns the script."""
    source = reference_dir()
    data_dir = os.path.join(workdir, "data", "simple")
    os.makedirs(data_dir, exist_ok=True)
    shutil.copyfile(os.path.join(source, "data", "simple", "data.csv"), os.path.join(data_dir, "data.csv"))
    shutil.copyfile(os.path.join(source, "taxi_utils.py"), os.path.join(workdir, "taxi_utils.py"))
    with open(os.path.join(source, "taxi_pipeline_local.py")) as f:
        text = f.read()
    replacements = [
        (r"_taxi_root = .*", f"_taxi_root = {workdir!r}"),
        (r"_tfx_root = .*", f"_tfx_root = {os.path.join(workdir, 'tfx')!r}"),
        (r"num_steps=10000", f"num_steps={train_steps}"),
        (r"num_steps=5000", f"num_steps={eval_steps}"),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text, count=1)
        if count != 1:
            raise RuntimeError(f"the reference script changed: {pattern!r} not found")
    script = os.path.join(workdir, "taxi_pipeline_local.py")
    with open(script, "w") as f:
        f.write(text)
    return script


def evaluator_metrics(pipeline_root: str, component: str = "Evaluator") -> dict:
    evaluation = _common.newest_subdir(os.path.join(pipeline_root, component, "evaluation"))
    return _common.overall_metrics(evaluation, ("accuracy", "auc"))


def run_reference(workdir: str, train_steps: int, eval_steps: int) -> dict:
    script = stage_reference(workdir, train_steps, eval_steps)
    result = _common.run_measured([_common.PYTHON, script], cwd=workdir,
                                  log_path=os.path.join(workdir, "run.log"))
    metadata = os.path.join(workdir, "tfx", "metadata", "chicago_taxi_beam", "metadata.db")
    if result["exit_code"] == 0:
        result["components"] = _common.with_peak_memory(_common.component_times(metadata),
                                                        result["_samples"])
        result["metrics"] = evaluator_metrics(
            os.path.join(workdir, "tfx", "pipelines", "chicago_taxi_beam"))
    result.pop("_samples")
    return result


def run_ours(workdir: str, train_steps: int, eval_steps: int, extra: list) -> dict:
    argv = [_common.PYTHON, "-m", "pipeline", "run", "--output-dir", workdir,
            "--train-steps", str(train_steps), "--eval-steps", str(eval_steps)] + extra
    result = _common.run_measured(argv, cwd=_common.PROJECT_ROOT,
                                  log_path=os.path.join(workdir, "..", "ours-stdout.log"))
    if result["exit_code"] == 0:
        result["components"] = _common.with_peak_memory(
            _common.component_times(os.path.join(workdir, "metadata.sqlite")), result["_samples"])
        result["metrics"] = evaluator_metrics(os.path.join(workdir, "pipeline_root"))
    result.pop("_samples")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-steps", type=int, default=10_000)
    parser.add_argument("--eval-steps", type=int, default=5_000)
    parser.add_argument("--order", choices=["ours-first", "reference-first"], default="ours-first")
    parser.add_argument("--workdir", default=None, help="Keep everything here (default: a temp dir, removed).")
    parser.add_argument("--ours-arg", action="append", default=[],
                        help="Extra `pipeline run` option for our side (repeatable), e.g. --ours-arg=--hparam=batch_size=40")
    args = parser.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix="bench-e2e-")
    results = {"train_steps": args.train_steps, "eval_steps": args.eval_steps, "order": args.order,
               "cpus": os.cpu_count(), "load_at_start": _common.load_average()}
    runs = [("ours", lambda: run_ours(os.path.join(workdir, "ours"), args.train_steps,
                                      args.eval_steps, args.ours_arg)),
            ("reference", lambda: run_reference(os.path.join(workdir, "reference"), args.train_steps,
                                                args.eval_steps))]
    if args.order == "reference-first":
        runs.reverse()
    try:
        for name, fn in runs:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = fn()
            print(json.dumps({name: results[name]}, indent=1), file=sys.stderr, flush=True)
        if results["ours"]["exit_code"] == 0 and results["reference"]["exit_code"] == 0:
            results["wall_ratio_ours_over_reference"] = round(
                results["ours"]["wall_s"] / results["reference"]["wall_s"], 3)
            results["peak_rss_ratio_ours_over_reference"] = round(
                results["ours"]["peak_rss_gib"] / max(results["reference"]["peak_rss_gib"], 1e-9), 3)
        results["load_at_end"] = _common.load_average()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
