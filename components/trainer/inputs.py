"""Input functions over ExampleGen's records, parsed with the schema's spec."""
from __future__ import annotations

import collections
from typing import Callable, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from components.trainer import binding as binding_lib
from components.trainer.features import MISSING_NUMERIC_INT, FeatureSet, Kind
from components.trainer.model import Preprocessing

_SHUFFLE_BUFFER = 10_000


def without_autotune_thread(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` without tf.data's autotuning thread, whose shutdown can stall a run for up to 60 s.

    With autotuning on, each iterator starts a `tf_data_model` thread (RootDataset's
    `EnsureModelThreadStarted`) running `Model::OptimizeLoop`, which sleeps 10 ms, 20 ms, 40 ms,
    ... (doubling, capped at 60 s) between optimizations. When the iterator is destroyed (the end
    of `Estimator.train`/`evaluate`: the session closes; the end of a `fit`), its destructor calls
    `CancellationManager::StartCancel`, whose callback wakes that thread; but StartCancel sets
    `is_cancelled_` only after its callbacks have run, so a thread that wakes first sees
    `IsCancelled()` still false and sleeps out the rest of its period (a lost wake-up), and the
    destructor joins it. Measured: 8-37 s after the last step in 11 of 19 training calls
    (BENCHMARKS.md). Without autotuning there is no such thread; `AUTOTUNE` parallelism and
    prefetch then take TF's defaults (the core count, and the prefetch buffer's own tuner).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def list_files(patterns: Sequence[str]) -> List[str]:
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise FileNotFoundError(f"no TFRecord files match {list(patterns)}")
    return files


def label_to_ids(label, features: FeatureSet):
    """Class ids for a [batch, 1] label tensor: ints as they are, strings by class order; a
    regression label's values as float32."""
    spec = features.label
    if spec.is_regression:
        return tf.cast(label, tf.float32)
    if spec.is_string:
        matches = tf.cast(tf.equal(label, tf.constant(list(spec.classes))), tf.int64)
        ids = tf.argmax(matches, axis=-1, output_type=tf.int64)[:, tf.newaxis]
    else:
        ids = tf.cast(label, tf.int64)
    return tf.cast(ids, tf.float32) if spec.is_binary else ids


def raw_dataset(file_patterns: Sequence[str], features: FeatureSet, batch_size: int) -> tf.data.Dataset:
    """The split's raw features, batched, in file order, once: what a user's model function gets.

    Each element is a dict from column name to a (batch, 1) tensor: tf.string for strings,
    float32 with NaN for missing numbers. No label.
    """
    dataset = tf.data.TFRecordDataset(list_files(file_patterns), compression_type="GZIP")
    return without_autotune_thread(dataset.batch(batch_size).map(
        lambda serialized: features.parse(serialized, with_label=False, raw=True),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE))


def make_dataset(file_patterns: Sequence[str], features: FeatureSet, batch_size: int,
                 training: bool, seed: int = 0, binding: Optional[binding_lib.Binding] = None
                 ) -> tf.data.Dataset:
    """(features dict keyed by the Keras input names, class ids) batches.

    With a `binding` (a user's model), features are parsed raw and fed to the inputs it names
    (`binding.model_feed`, as the serving signature feeds them).
    """
    label_name = features.label.name
    files = list_files(file_patterns)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if training:
        dataset = dataset.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=False)

    def parse(serialized):
        values = features.parse_values(serialized, with_label=True, raw=binding_lib.feeds_raw(binding))
        label = tf.reshape(values.pop(label_name), [-1, 1])
        return binding_lib.model_feed(values, features, binding), label_to_ids(label, features)

    return without_autotune_thread(dataset.map(
        parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE))


def make_input_fn(file_patterns: Sequence[str], features: FeatureSet, batch_size: int,
                  training: bool, seed: int = 0, binding=None) -> Callable[[], tf.data.Dataset]:
    def input_fn():
        return make_dataset(file_patterns, features, batch_size, training, seed, binding)
    return input_fn


def learn_preprocessing(file_patterns: Sequence[str], features: FeatureSet,
                        max_examples: int = 200_000, max_vocabulary: int = 1_000,
                        max_text_vocabulary: int = 10_000) -> Preprocessing:
    """Means and variances of numeric features (and of a regression label), and vocabularies the
    schema does not give.

    One pass over at most `max_examples` training examples (NaN-aware); a vocabulary keeps
    the `max_vocabulary` most frequent values seen at least twice; a text feature's vocabulary
    the `max_text_vocabulary` most frequent tokens.
    """
    dataset = make_dataset(file_patterns, features, 1024, training=False).take(
        -(-max_examples // 1024))
    sums = collections.defaultdict(float)
    squares = collections.defaultdict(float)
    counts = collections.defaultdict(int)
    counters = collections.defaultdict(collections.Counter)
    # Parsed for the built-in model: keyed by the features' identifiers (`Feature.key`).
    by_key = {f.key: f for f in features.features}
    numeric = [f.key for f in features.features if f.kind is Kind.NUMERIC]
    to_learn = [f.key for f in features.features if f.is_categorical and not f.vocabulary]
    texts = [f.key for f in features.features if f.kind is Kind.TEXT]
    # Text is tokenized exactly as the model will: by the same Keras layer, adapted here.
    tokenizers = {name: tf.keras.layers.TextVectorization(max_tokens=max_text_vocabulary)
                  for name in texts}
    for name, tokenizer in tokenizers.items():
        tokenizer.adapt(dataset.map(lambda batch, _, name=name: batch[name][:, 0]))
    label_sum = label_squares = 0.0
    label_count = 0
    for batch, labels in dataset:
        if features.label.is_regression:
            values = labels.numpy().astype(np.float64).ravel()
            label_sum += values.sum()
            label_squares += np.square(values).sum()
            label_count += values.size
        for name in numeric:
            raw = batch[name].numpy().ravel()
            values = raw.astype(np.float64)[raw != MISSING_NUMERIC_INT] if raw.dtype.kind == "i" \
                else raw.astype(np.float64)
            values = values[np.isfinite(values)]
            sums[name] += values.sum()
            squares[name] += np.square(values).sum()
            counts[name] += values.size
        for name in to_learn:
            counters[name].update(batch[name].numpy().ravel().tolist())
    moments = {}
    for name in numeric:
        n = counts[name]
        mean = sums[name] / n if n else 0.0
        variance = max(squares[name] / n - mean * mean, 0.0) if n else 1.0
        moments[name] = (mean, variance)
    vocabularies = {}
    for name in to_learn:
        feature = by_key[name]
        common = [v for v, c in counters[name].most_common(max_vocabulary + 1) if c >= 2]
        if feature.kind is Kind.CATEGORICAL_STRING:
            common = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in common]
        common = [v for v in common if v != feature.missing_value][:max_vocabulary]
        vocabularies[name] = tuple(sorted(common, key=str))
    for name, tokenizer in tokenizers.items():
        vocabularies[name] = tuple(tokenizer.get_vocabulary(include_special_tokens=False))
    label_mean = label_sum / label_count if label_count else 0.0
    label_variance = max(label_squares / label_count - label_mean ** 2, 0.0) if label_count else 1.0
    return Preprocessing(vocabularies=vocabularies, moments=moments,
                         label_moments=(label_mean, label_variance))
