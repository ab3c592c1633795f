"""Where the Trainer's time goes: Estimator training steps/s with input-pipeline variants.

The same model and RunConfig as run_fn, on the bundled taxi rows (as ExampleGen's gzipped
TFRecords), `--steps` steps per variant after a warm-up, variants interleaved `--repeats`
times:

- `pipeline`: the input_fn run_fn uses;
- `constant`: one parsed batch repeated (no input cost at all: the ceiling of the model step);
- `pipeline+xla`: run_fn's input_fn, with XLA auto-clustering (JIT) in the session config;
- `floor`: a one-weight Keras model (one input, Dense(1)) on a constant batch, through the same
  model_to_estimator and RunConfig: what an Estimator training step costs whatever the model;
- `fused`: an experiment, not the project's model: the same features with all numeric columns
  normalized in one op and all categorical ids in one shared embedding table (8 wide), i.e.
  fewer, larger ops per step. It measures what restructuring the model would buy.

With `--trace`, it also prints where one training step of run_fn's model goes: a full
`RunMetadata` trace of 20 steps of the Estimator's train_op in a plain session, op time summed
by op type and by node (summed over threads, so more than the wall time on 2 cores).

    .venv/bin/python bench/trainer_profile.py [--steps 2000] [--repeats 2]
        [--variants pipeline constant pipeline+xla floor fused] [--trace]
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import _common  # noqa: E402
from components.trainer import hooks as hooks_lib, inputs, model as model_lib, task  # noqa: E402
from components.trainer.features import (  # noqa: E402
    MISSING_NUMERIC_INT, Kind, features_from_schema, load_schema)
from components.trainer.hparams import HParams  # noqa: E402
from pipeline import config as config_lib  # noqa: E402
from estimator_overhead import write_records  # noqa: E402


VARIANTS = ("pipeline", "constant", "pipeline+xla", "floor", "fused")


def xla_config():
    """XLA auto-clustering (JIT) of the graph."""
    xla = tf.compat.v1.ConfigProto()
    xla.graph_options.optimizer_options.global_jit_level = tf.compat.v1.OptimizerOptions.ON_1
    return xla


def one_weight_model():
    """The smallest Keras model model_to_estimator takes: one input, one Dense unit."""
    tf.keras.utils.set_random_seed(1)
    x = tf.keras.Input(shape=(1,), name="x")
    model = tf.keras.Model(x, tf.keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer=tf.keras.optimizers.Adam(), loss="binary_crossentropy")
    return model


def fused_model(features, prep, hparams):
    """Experiment: the project's features and layers with fewer, larger ops per step.

    Numeric columns are concatenated and normalized (missing -> mean, plus a flag) in one op;
    categorical ids are offset into one shared embedding table of width 8 instead of one
    table per feature. Same dense layers, dropout, L2, loss and optimizer as the real model.
    """
    tf.keras.utils.set_random_seed(1)
    ins = {f.name: tf.keras.Input(shape=(1,), dtype=f.dtype, name=f.name) for f in features.features}
    numeric = [f for f in features.features if f.kind is Kind.NUMERIC]
    columns = []
    for f in numeric:
        x = ins[f.name]
        if x.dtype.is_integer:
            missing, x = tf.equal(x, MISSING_NUMERIC_INT), tf.cast(x, tf.float32)
            x = tf.where(missing, tf.fill(tf.shape(x), math.nan), x)
        columns.append(x)
    values = tf.keras.layers.Concatenate()(columns)
    mean = tf.constant([[prep.moments[f.name][0] for f in numeric]], tf.float32)
    std = tf.constant([[math.sqrt(prep.moments[f.name][1]) or 1.0 for f in numeric]], tf.float32)
    missing = tf.math.logical_not(tf.math.is_finite(values))
    encoded = [tf.where(missing, tf.zeros_like(values), (values - mean) / std), tf.cast(missing, tf.float32)]
    ids, offset = [], 0
    for f in features.features:
        if f.kind is Kind.NUMERIC:
            continue
        lookup = model_lib.lookup_layer(f, prep)  # the real model's lookups
        ids.append(lookup(ins[f.name]) + offset)
        offset += lookup.vocabulary_size()
    l2 = tf.keras.regularizers.L2(hparams.l2)
    embedded = tf.keras.layers.Embedding(offset, 8, embeddings_regularizer=l2)(tf.keras.layers.Concatenate()(ids))
    x = tf.keras.layers.Concatenate()(encoded + [tf.keras.layers.Flatten()(embedded)])
    for i, units in enumerate(hparams.hidden_units):
        x = tf.keras.layers.Dense(units, activation="relu", kernel_regularizer=l2)(x)
        x = tf.keras.layers.Dropout(hparams.dropout, seed=1 + i)(x)
    model = tf.keras.Model(ins, tf.keras.layers.Dense(1, activation="sigmoid", name="probabilities")(x))
    model.compile(optimizer=tf.keras.optimizers.Adam(hparams.learning_rate),
                  loss=tf.keras.losses.BinaryCrossentropy())
    return model


def variant(name, pattern, features, prep, hparams):
    """(Keras model, input_fn, session config) of a variant."""
    def pipeline():
        return inputs.make_dataset([pattern], features, hparams.batch_size, training=True, seed=1)

    if name == "floor":
        def one_batch():
            batch = ({"x": tf.ones([hparams.batch_size, 1])}, tf.ones([hparams.batch_size, 1]))
            return tf.data.Dataset.from_tensors(batch).repeat()
        return one_weight_model(), one_batch, None
    model = (fused_model(features, prep, hparams) if name == "fused"
             else model_lib.build_keras_model(features, prep, hparams, seed=1))
    if name == "constant":
        return model, lambda: pipeline().take(1).cache().repeat(), None
    return model, pipeline, xla_config() if name == "pipeline+xla" else None


def steps_per_s(model, input_fn, steps, batch_size, workdir, session_config=None) -> float:
    config = task.run_config(workdir, seed=1, train_steps=steps)
    if session_config is not None:
        config = config.replace(session_config=session_config)
    estimator = task.estimator_from_keras(model, config)
    estimator.train(input_fn, steps=50)
    hooks = hooks_lib.train_hooks(estimator.config, steps, batch_size)  # run_fn's hooks
    start = time.perf_counter()
    estimator.train(input_fn, steps=steps, hooks=hooks)
    return steps / (time.perf_counter() - start)


def trace(features, prep, hparams, pattern, workdir, steps: int = 20) -> dict:
    """Per-step op time of run_fn's model, from a full trace of `steps` training steps."""
    model = model_lib.build_keras_model(features, prep, hparams, seed=1)
    estimator = task.estimator_from_keras(model, task.run_config(workdir, seed=1, train_steps=steps))
    with tf.Graph().as_default() as graph:
        dataset = inputs.make_dataset([pattern], features, hparams.batch_size, training=True, seed=1)
        batch, label = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
        tf.compat.v1.train.get_or_create_global_step()
        spec = estimator.model_fn(batch, label, tf.estimator.ModeKeys.TRAIN, estimator.config)
        session = tf.compat.v1.Session(graph=graph)
        session.run([tf.compat.v1.global_variables_initializer(), tf.compat.v1.tables_initializer()])
        for _ in range(50):  # warm-up
            session.run(spec.train_op)
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        by_op, by_node, nodes = collections.Counter(), collections.Counter(), 0
        for _ in range(steps):
            metadata = tf.compat.v1.RunMetadata()
            session.run(spec.train_op, options=options, run_metadata=metadata)
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    label_text = node.timeline_label
                    op = label_text.split("=", 1)[1].split("(")[0].strip() if "=" in label_text else node.node_name
                    by_op[op] += node.all_end_rel_micros
                    by_node[node.node_name] += node.all_end_rel_micros
                    nodes += 1
    per_step = lambda counter: {k: round(v / steps) for k, v in counter.most_common(15)}  # noqa: E731
    return {"graph_ops": len(graph.get_operations()), "nodes_run_per_step": nodes // steps,
            "op_microseconds_per_step": round(sum(by_op.values()) / steps),
            "by_op_type_us": per_step(by_op), "by_node_us": per_step(by_node)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS[:3]))
    parser.add_argument("--trace", action="store_true", help="also trace 20 steps op by op")
    args = parser.parse_args()
    features = features_from_schema(load_schema(config_lib.DEFAULT_SCHEMA), config_lib.DEFAULT_LABEL)
    hparams = HParams()
    results = {"steps": args.steps, "batch_size": hparams.batch_size, "load_at_start": _common.load_average()}
    with tempfile.TemporaryDirectory() as tmp:
        pattern = os.path.join(tmp, "train", "data.gz")
        write_records(pattern, features)
        prep = inputs.learn_preprocessing([pattern], features)
        measured = {}
        for i in range(args.repeats):
            for name in args.variants:
                model, input_fn, session_config = variant(name, pattern, features, prep, hparams)
                measured.setdefault(name, []).append(round(steps_per_s(
                    model, input_fn, args.steps, hparams.batch_size, os.path.join(tmp, f"{name}{i}"),
                    session_config), 1))
        if args.trace:
            results["trace"] = trace(features, prep, hparams, pattern, os.path.join(tmp, "trace"))
    results["steps_per_s"] = measured
    results["median_steps_per_s"] = {k: statistics.median(v) for k, v in measured.items()}
    results["load_at_end"] = _common.load_average()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
