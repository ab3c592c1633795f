"""Issue 12, item 7 (and issue 20, item 10): bring your own model: Estimator against model.fit.

`--prototype` picks the prototype and its data (PROTOTYPES): `text_lstm` (the default,
examples.text_classifier on data/sentiment), `taxi_structured` (the keras.io structured-data
notebook on data/taxi), `text_tfidf` and `text_characters` (on data/sentiment).

1. Runs the example (`python -m pipeline run ... --model examples.text_classifier:build_model
   --input-map input_1=text`) into a fresh output dir under --workdir and times it (whole
   process). Its CsvExampleGen output (Split-train, Split-eval) is the split both sides use.
2. Estimator side, the pipeline's own code path: `task.trainer_settings` with the pipeline's
   custom_config, `user_model_build.users_keras_model` (the user's function, binding, graph-safe
   copy), `task.estimator_from_keras` with `task.run_config`, `estimator.train` with run_fn's
   train input_fn and `hooks.train_hooks`; then `estimator.evaluate` over the whole eval split.
3. model.fit side: `examples.text_classifier.build_model` called as the pipeline calls it (same
   raw train dataset, hparams, seed, fresh Keras session), `model.fit` on the same bound,
   shuffled, repeated input for the same steps, `model.evaluate` on the same eval split.

Each side runs in its own process (model_to_estimator invalidates the Keras objects built
before it in the process), repeats interleaved E, F, E, F, ... Examples/s is steps * batch /
the seconds of the whole `train`/`fit` call (graph building or tracing, session start and the
final checkpoint included, as a run pays them); `steady_examples_per_s` leaves out everything
before the end of the first step and after the end of the last one.

    .venv/bin/python bench/byo_vs_fit.py --workdir DIR [--prototype text_lstm] [--steps 2000]
        [--repeats 3] [--batch-size 128]
"""
from __future__ import annotations

import argparse
import cProfile
import glob
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _common import PYTHON, load_average, newest_subdir, run_measured  # noqa: E402

PROTOTYPES = {
    "text_lstm": dict(model="examples.text_classifier:build_model", input_map={"input_1": "text"},
                      data_root="data/sentiment", schema="schemas/sentiment/schema.pbtxt",
                      label="label", slice="source"),
    "taxi_structured": dict(model="examples/taxi_structured.ipynb:build_model", input_map={},
                            data_root="data/taxi", schema="schemas/taxi/schema.pbtxt",
                            label="big_tipper", slice="trip_start_hour"),
    "text_tfidf": dict(model="examples/text_tfidf.py:build_model", input_map={},
                       data_root="data/sentiment", schema="schemas/sentiment/schema.pbtxt",
                       label="label", slice="source"),
    "text_characters": dict(model="examples/text_characters.py:build_model", input_map={},
                            data_root="data/sentiment", schema="schemas/sentiment/schema.pbtxt",
                            label="label", slice="source"),
}
MODEL, INPUT_MAP, DATA_ROOT, SCHEMA, LABEL, SLICE = None, None, None, None, None, None


def use_prototype(name: str) -> None:
    global MODEL, INPUT_MAP, DATA_ROOT, SCHEMA, LABEL, SLICE  # pylint: disable=global-statement
    p = PROTOTYPES[name]
    MODEL, INPUT_MAP, DATA_ROOT = p["model"], dict(p["input_map"]), p["data_root"]
    SCHEMA, LABEL, SLICE = p["schema"], p["label"], p["slice"]


SEED = 42  # the pipeline's default --seed
RESULT_PREFIX = "BYO_RESULT "


def example_command(output_dir: str, steps: int, batch_size: int):
    argv = [PYTHON, "-m", "pipeline", "run", "--data-root", DATA_ROOT, "--schema", SCHEMA,
            "--label", LABEL, "--slice", SLICE, "--model", MODEL, "--output-dir", output_dir]
    for name, feature in INPUT_MAP.items():
        argv += ["--input-map", f"{name}={feature}"]
    if steps != 2000:
        argv += ["--train-steps", str(steps)]
    if batch_size != 128:
        argv += ["--hparam", f"batch_size={batch_size}"]
    return argv


# --- one side, in its own process ----------------------------------------------------------

def _split(examples: str):
    """The schema's features and the example run's train and eval files: what both sides use."""
    return (_features(), [os.path.join(examples, "Split-train", "*")],
            [os.path.join(examples, "Split-eval", "*")])


def _features():
    from components.trainer import features as features_lib
    return features_lib.features_from_schema(
        features_lib.load_schema(os.path.join(PROJECT_ROOT, SCHEMA)), LABEL)


def _hparams(batch_size: int) -> dict:
    return {} if batch_size == 128 else {"batch_size": batch_size}


def _profiled(enabled: bool, out_path: str, call):
    """Runs `call()`, under cProfile if asked (top functions by cumulative time to out_path)."""
    if not enabled:
        return call()
    profiler = cProfile.Profile()
    result = profiler.runcall(call)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
    stats.print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    with open(out_path, "w") as f:
        f.write(text.getvalue())
    return result


def side_estimator(args) -> dict:
    import tensorflow as tf
    from components.trainer import constants, hooks as hooks_lib, inputs, task, user_model, user_model_build

    class StepTimes(tf.compat.v1.train.SessionRunHook):
        """Wall clock at session creation, at the end of the first step and of the last one."""
        def after_create_session(self, session, coord):
            self.created = time.perf_counter()
            self.first = self.last = None

        def after_run(self, run_context, run_values):
            self.last = time.perf_counter()
            if self.first is None:
                self.first = self.last

    features, train_files, eval_files = _split(args.examples)
    custom_config = {
        constants.LABEL_KEY: LABEL, constants.HPARAMS_KEY: _hparams(args.batch_size), constants.SEED_KEY: SEED,
        constants.MODEL_KEY: user_model.parse_spec(MODEL, PROJECT_ROOT).to_dict(),
        constants.INPUT_MAP_KEY: dict(INPUT_MAP),
    }
    settings = task.trainer_settings(custom_config)
    batch = settings.batch_size
    phases = {}
    t0 = time.perf_counter()
    model, binding, _head = user_model_build.users_keras_model(
        settings.model, train_files, features, seed=settings.seed, batch_size=batch,
        hparams=settings.hparams, input_map=settings.input_map)
    phases["build_bind_convert_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    estimator = task.estimator_from_keras(model, task.run_config(args.model_dir, settings.seed,
                                                                 args.steps))
    phases["model_to_estimator_s"] = time.perf_counter() - t0
    hooks = hooks_lib.train_hooks(estimator.config, args.steps, batch)  # run_fn's hooks
    step_times = StepTimes()
    input_fn = inputs.make_input_fn(train_files, features, batch, training=True,
                                    seed=settings.seed, binding=binding)
    start = time.perf_counter()
    _profiled(args.profile, os.path.join(os.path.dirname(args.model_dir), "profile_estimator.txt"),
              lambda: estimator.train(input_fn, steps=args.steps, hooks=hooks + [step_times]))
    end = time.perf_counter()
    t0 = time.perf_counter()
    metrics = estimator.evaluate(inputs.make_input_fn(eval_files, features, batch, training=False,
                                                      binding=binding), steps=None)
    phases["evaluate_s"] = time.perf_counter() - t0
    train_s = end - start
    phases.update({
        "train_call_s": train_s,
        "before_first_step_s": step_times.first - start,  # graph, session, restore, first step
        "graph_and_session_s": step_times.created - start,
        "steps_2_to_n_s": step_times.last - step_times.first,
        "after_last_step_s": end - step_times.last,         # final checkpoint, hooks' end
    })
    return {
        "side": "estimator", "examples_per_s": args.steps * batch / train_s,
        "steady_examples_per_s": (args.steps - 1) * batch / (step_times.last - step_times.first),
        "accuracy": float(metrics["accuracy"]), "eval_loss": float(metrics["loss"]),
        "global_step": int(metrics["global_step"]),
        "phases": {k: round(v, 2) for k, v in phases.items()},
    }


def side_fit(args) -> dict:
    import tensorflow as tf
    from components.trainer import binding as binding_lib, inputs, user_model

    class StepTimes(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.begin, self.first, self.last = time.perf_counter(), None, None

        def on_train_batch_end(self, batch, logs=None):
            self.last = time.perf_counter()
            if self.first is None:
                self.first = self.last

    features, train_files, eval_files = _split(args.examples)
    hparams = _hparams(args.batch_size)
    batch = args.batch_size
    spec = user_model.parse_spec(MODEL, PROJECT_ROOT)
    function = user_model.load_function(spec)
    phases = {}
    t0 = time.perf_counter()
    tf.keras.backend.clear_session()  # as users_keras_model does
    tf.keras.utils.set_random_seed(SEED)
    label = features.label
    model = user_model.call(  # with the arguments it declares, as the pipeline calls it
        function, spec, train_dataset=inputs.raw_dataset(train_files, features, batch),
        num_classes=label.num_classes, class_names=[str(c) for c in label.classes],
        hparams=dict(hparams))
    binding = binding_lib.bind(binding_lib.model_inputs(model), features, dict(INPUT_MAP))
    phases["build_bind_s"] = time.perf_counter() - t0
    dataset = inputs.make_dataset(train_files, features, batch, training=True, seed=SEED,
                                  binding=binding)
    step_times = StepTimes()
    start = time.perf_counter()
    _profiled(args.profile, os.path.join(os.path.dirname(args.model_dir), "profile_fit.txt"),
              lambda: model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0,
                                callbacks=[step_times]))
    end = time.perf_counter()
    t0 = time.perf_counter()
    loss, accuracy, *_ = model.evaluate(
        inputs.make_dataset(eval_files, features, batch, training=False, binding=binding),
        verbose=0)
    phases["evaluate_s"] = time.perf_counter() - t0
    train_s = end - start
    phases.update({
        "train_call_s": train_s,
        "before_first_step_s": step_times.first - start,  # tracing, first step
        "steps_2_to_n_s": step_times.last - step_times.first,
        "after_last_step_s": end - step_times.last,
    })
    return {
        "side": "fit", "examples_per_s": args.steps * batch / train_s,
        "steady_examples_per_s": (args.steps - 1) * batch / (step_times.last - step_times.first),
        "accuracy": float(accuracy), "eval_loss": float(loss),
        "phases": {k: round(v, 2) for k, v in phases.items()},
    }


def run_side(args) -> None:
    load_before = load_average()
    result = (side_estimator if args.side == "estimator" else side_fit)(args)
    result.update(load_before=load_before, load_after=load_average())
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


# --- the driver -----------------------------------------------------------------------------

def summary_lines(log_path: str):
    keep = ("pipeline finished", "eval metrics", "blessed:", "pushed:", "[6/8] Trainer", "Trainer: step")
    with open(log_path, errors="replace") as f:
        return [line.rstrip() for line in f if line.lstrip().startswith(keep) or
                any(k in line for k in keep[:4])]


def spawn_side(side: str, examples: str, model_dir: str, args, log_path: str) -> dict:
    argv = [PYTHON, os.path.abspath(__file__), "--side", side, "--prototype", args.prototype,
            "--examples", examples,
            "--model-dir", model_dir, "--steps", str(args.steps),
            "--batch-size", str(args.batch_size)] + (["--profile"] if args.profile else [])
    started = time.perf_counter()
    with open(log_path, "w") as log:
        done = subprocess.run(argv, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    lines = [l for l in done.stdout.splitlines() if l.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"--side {side} failed (exit {done.returncode}); see {log_path}")
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    result["process_s"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="where the example run and the sides write (required "
                        "unless --side)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--examples", help="reuse this CsvExampleGen examples/<id> dir instead "
                        "of running the example (then no wall time is measured)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile each side's training call (profile_*.txt in the workdir)")
    parser.add_argument("--prototype", choices=sorted(PROTOTYPES), default="text_lstm",
                        help="which prototype and data set (default: text_lstm)")
    parser.add_argument("--side", choices=["estimator", "fit"], help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    use_prototype(args.prototype)
    if args.side:
        run_side(args)
        return
    if not args.workdir:
        parser.error("--workdir is required")
    workdir = os.path.abspath(args.workdir)
    os.makedirs(workdir, exist_ok=True)
    load_start = load_average()
    print(f"load (1/5/15 min) at start: {load_start}", flush=True)

    example = None
    if args.examples:
        examples = os.path.abspath(args.examples)
    else:
        run_dir = os.path.join(workdir, "example_run")
        shutil.rmtree(run_dir, ignore_errors=True)
        argv = example_command(run_dir, args.steps, args.batch_size)
        print("example run:", " ".join(argv[1:]), flush=True)
        measured = run_measured(argv, PROJECT_ROOT, os.path.join(workdir, "example_run.log"))
        measured.pop("_samples", None)
        if measured["exit_code"] != 0:
            sys.exit(f"the example run failed; see {measured['log']}")
        measured["summary"] = summary_lines(measured["log"])
        example = measured
        print(f"example run: {measured['wall_s']} s wall, peak {measured['peak_rss_gib']} GiB, "
              f"load {measured['load_before']} -> {measured['load_after']}")
        for line in measured["summary"]:
            print("   ", line)
        examples = newest_subdir(os.path.join(run_dir, "pipeline_root", "CsvExampleGen", "examples"))
    for split in ("Split-train", "Split-eval"):
        if not glob.glob(os.path.join(examples, split, "*")):
            sys.exit(f"no {split} files under {examples}")
    print("split:", examples, flush=True)

    runs = {"estimator": [], "fit": []}
    for i in range(args.repeats):
        for side in ("estimator", "fit"):
            model_dir = os.path.join(workdir, f"{side}_{i}", "model")
            shutil.rmtree(os.path.dirname(model_dir), ignore_errors=True)
            os.makedirs(os.path.dirname(model_dir))
            result = spawn_side(side, examples, model_dir, args,
                                os.path.join(workdir, f"{side}_{i}", "side.log"))
            runs[side].append(result)
            print(f"repeat {i + 1} {side:9s}: {result['examples_per_s']:8.0f} examples/s "
                  f"(steady {result['steady_examples_per_s']:.0f}), accuracy "
                  f"{result['accuracy']:.4f}, phases {result['phases']}, load "
                  f"{result['load_before']} -> {result['load_after']}", flush=True)

    def median(side, key):
        return statistics.median(r[key] for r in runs[side])

    ratios = [e["examples_per_s"] / f["examples_per_s"] for e, f in zip(runs["estimator"], runs["fit"])]
    diffs = [e["accuracy"] - f["accuracy"] for e, f in zip(runs["estimator"], runs["fit"])]
    ratio = median("estimator", "examples_per_s") / median("fit", "examples_per_s")
    diff = median("estimator", "accuracy") - median("fit", "accuracy")
    result = {
        "prototype": args.prototype, "model": MODEL,
        "steps": args.steps, "batch_size": args.batch_size, "repeats": args.repeats,
        "examples_dir": examples, "example_run": example,
        "load_start": load_start, "load_end": load_average(),
        "estimator_examples_per_s": round(median("estimator", "examples_per_s")),
        "fit_examples_per_s": round(median("fit", "examples_per_s")),
        "ratio_estimator_to_fit": round(ratio, 3),
        "ratio_per_repeat": [round(r, 3) for r in ratios],
        "estimator_steady_examples_per_s": round(median("estimator", "steady_examples_per_s")),
        "fit_steady_examples_per_s": round(median("fit", "steady_examples_per_s")),
        "steady_ratio": round(median("estimator", "steady_examples_per_s")
                              / median("fit", "steady_examples_per_s"), 3),
        "estimator_accuracy": round(median("estimator", "accuracy"), 4),
        "fit_accuracy": round(median("fit", "accuracy"), 4),
        "accuracy_diff": round(diff, 4),
        "accuracy_diff_per_repeat": [round(d, 4) for d in diffs],
        "target_ratio_met": ratio >= 0.9, "target_accuracy_met": abs(diff) <= 0.03,
        "runs": runs,
    }
    with open(os.path.join(workdir, "byo_vs_fit.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "example_run")}, indent=1))
    if example:
        print(f"example run wall time: {example['wall_s']} s")
    print(f"written: {os.path.join(workdir, 'byo_vs_fit.json')}")


if __name__ == "__main__":
    main()
