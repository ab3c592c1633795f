"""`predict`: score CSV rows with a pushed model, streaming, and report rows that do not fit."""
from __future__ import annotations

import csv
import os
from typing import Iterator, List, Optional, Tuple

from pipeline.config import ConfigError

BATCH = 1024
REJECTS_SUFFIX = ".rejected.csv"  # <output>.rejected.csv: the rows that were not scored, and why
REJECTS_COLUMNS = ("file", "line", "reason")  # line: its number, or its text from a Beam job


class ModelCannotRun(Exception):
    """The model given cannot be run in this process; the message says why and what to do."""


def check_runnable(model_dir: str) -> None:
    """Refuses a model no process but the one that trained it can run (tf.py_function inside)."""
    from components.serving_check.graph import python_ops, python_ops_reason
    if not os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        raise ConfigError(f"--model {model_dir}: no SavedModel there (no saved_model.pb); give a pushed "
                          "version folder, e.g. outputs/serving_model/<version>")
    ops = python_ops(model_dir)
    if ops:
        raise ModelCannotRun(f"{model_dir} cannot be run here: {python_ops_reason(ops)}. Such a model is refused "
                             "by the pipeline's serving check, so it is never pushed.")


def load_signature(model_dir: str):
    """The pushed model's `serving_default` signature (tf.Examples in); ModelCannotRun when
    TensorFlow cannot load it."""
    import tensorflow as tf
    from pipeline.serving import model as serving
    try:
        return tf.saved_model.load(model_dir).signatures[serving.SIGNATURE]
    except (tf.errors.OpError, ValueError, KeyError, OSError) as exc:
        raise ModelCannotRun(f"{model_dir} cannot be loaded: {type(exc).__name__}: {_what(exc)}") from None


def score(signature, examples, label):
    """The served output for `examples` (tf.Examples) as an array: a binary label's positive
    class probability [n, 1], each class's probability [n, classes], or a number [n, 1]."""
    import tensorflow as tf
    serialized = tf.constant([e.SerializeToString() for e in examples])
    return signature(examples=serialized)[served_output(label)].numpy()


def _what(exc: BaseException) -> str:
    """The line of a TensorFlow error that says what went wrong (its first lines say where)."""
    from components.serving_check.replay import first_line
    return first_line(exc)


def _input_files(path: str) -> List[str]:
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(".csv"))
        if not files:
            raise ConfigError(f"--input {path!r} holds no .csv file")
        return files
    if not os.path.isfile(path):
        raise ConfigError(f"--input {path!r} does not exist")
    return [path]


def load_model_features(model_dir: str):
    """The FeatureSet a pushed model was trained with (from its assets.extra/)."""
    from components.trainer import constants
    from components.trainer.features import features_from_schema, load_schema
    extra = os.path.join(model_dir, constants.ASSETS_EXTRA)
    schema_path = os.path.join(extra, constants.SCHEMA_FILE)
    if not os.path.isfile(schema_path):
        raise ConfigError(f"{model_dir} carries no schema ({schema_path}); was it pushed by this pipeline?")
    with open(os.path.join(extra, constants.LABEL_FILE)) as f:
        label = f.read().strip()
    return features_from_schema(load_schema(schema_path), label)


def _rows(files: List[str], delimiter: str = ","
          ) -> Iterator[Tuple[str, int, Optional[dict], Optional[str]]]:
    """(file, line, row or None, reason it does not fit or None), one CSV row at a time."""
    for path in files:
        with open(path, newline="", encoding="utf-8-sig", errors="strict") as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except (UnicodeDecodeError, csv.Error) as exc:
                    yield path, reader.line_num + 1, None, f"unreadable: {exc}"
                    break
                if None in row or any(v is None for v in row.values()):
                    yield path, reader.line_num, None, "wrong number of values for the header"
                    continue
                yield path, reader.line_num, row, None


def _read_and_required(model_dir: str, features, path: str, header: List[str], delimiter: str):
    """Refuses a header without a feature the model reads; returns those the schema requires in
    every row, whose empty cells are rejected rows."""
    from pipeline.serving import model as serving
    read = serving.features_read(model_dir, features)
    _check_header(path, header, read, delimiter)
    return serving.required_features(model_dir, read)


def _check_header(path: str, header: List[str], needed: List[str], delimiter: str) -> None:
    """Refuses a header that lacks a feature the model reads (the others are optional)."""
    missing = [n for n in needed if n not in header]
    if not missing:
        return
    hint = ""
    if len(header) == 1:
        from pipeline.data import dialect
        found = dialect.sniff_delimiter(header[0])
        if found and found != delimiter:
            hint = f"; its fields seem separated by {found!r}: pass --delimiter {found!r}"
    raise ConfigError(f"{path}: the header lacks the feature(s) the model reads: {missing} "
                      f"(header: {header[:20]}){hint}")


def predict_csv(input_path: str, output: str, model_dir: str, delimiter: str = ",",
                decimal: str = ".") -> Tuple[int, int, str]:
    """Writes input rows plus predicted class and class probabilities; returns (scored, rejected, rejects path).

    Only the features the model reads must be columns of the input; every input column is
    carried through to the output. `delimiter`/`decimal` read a European export (';' and ',').
    """
    import tensorflow as tf

    from pipeline.serving import model as serving

    check_runnable(model_dir)
    features = load_model_features(model_dir)
    signature = load_signature(model_dir)
    files = _input_files(input_path)
    with open(files[0], newline="", encoding="utf-8-sig", errors="replace") as f:
        header = next(csv.reader(f, delimiter=delimiter), [])
    required = _read_and_required(model_dir, features, files[0], header, delimiter)
    out_columns = header + prediction_columns(features.label)
    rejects_path = output + REJECTS_SUFFIX
    tmp, tmp_rejects = output + ".partial", rejects_path + ".partial"
    scored = rejected = 0
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as out, \
                open(tmp_rejects, "w", newline="", encoding="utf-8") as bad:
            writer = csv.writer(out, delimiter=delimiter)
            writer.writerow(out_columns)
            rejects = csv.writer(bad)
            rejects.writerow(REJECTS_COLUMNS)
            batch: List[Tuple[dict, "tf.train.Example"]] = []

            def flush():
                if not batch:
                    return
                try:
                    values = score(signature, [e for _, e in batch], features.label)
                except tf.errors.OpError as exc:
                    raise ModelCannotRun(f"{model_dir} failed scoring a batch of {len(batch)} rows: "
                                         f"{type(exc).__name__}: {_what(exc)}") from None
                for (row, _), p in zip(batch, values):
                    writer.writerow([row.get(c, "") for c in header]
                                    + prediction_values(features.label, p, decimal))
                batch.clear()

            for path, line, row, reason in _rows(files, delimiter):
                if row is not None:
                    try:
                        batch.append((row, serving.to_example(row, features, decimal, required)))
                    except serving.MissingRequired as exc:
                        reason = str(exc)
                    except ValueError as exc:
                        reason = f"a value does not fit its schema type: {exc}"
                if reason:
                    rejects.writerow([path, line, reason])
                    rejected += 1
                    continue
                scored += 1
                if len(batch) >= BATCH:
                    flush()
            flush()
    except ModelCannotRun:
        for path in (tmp, tmp_rejects):  # nothing half-written beside the output
            if os.path.exists(path):
                os.remove(path)
        raise
    os.replace(tmp, output)
    if rejected:
        os.replace(tmp_rejects, rejects_path)
    else:
        os.remove(tmp_rejects)
    return scored, rejected, rejects_path


def prediction_columns(label) -> List[str]:
    """The columns `predict` adds: `predicted_<label>` (regression), or the predicted class and
    each class's probability."""
    if label.is_regression:
        return [f"predicted_{label.name}"]
    return ["predicted_class"] + [f"probability_{c}" for c in label.classes]


def served_output(label) -> str:
    return "predictions" if label.is_regression else "probabilities"


def prediction_values(label, output, decimal: str = ".") -> List[str]:
    """One row's added values, from its row of the served output, numbers with `decimal`'s mark."""
    import numpy as np
    output = np.asarray(output, dtype=float).reshape(-1)
    if label.is_regression:
        return [f"{output[0]:.6g}".replace(".", decimal)]
    if output.shape[0] == 1:  # binary: the positive class
        output = np.array([1 - output[0], output[0]])
    return [str(label.classes[int(output.argmax())])] + [f"{v:.6f}".replace(".", decimal) for v in output]


def _csv_line(values, delimiter: str = ",") -> str:
    import io
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="", delimiter=delimiter).writerow(values)
    return buffer.getvalue()


def predict_beam(input_path: str, output: str, model_dir: str, beam_args: List[str],
                 delimiter: str = ",", decimal: str = ".") -> Tuple[int, int, str]:
    """The same scoring as a Beam job (tfx_bsl RunInference), for a runner named by `beam_args`.

    Writes `output` (the header, then each scored row; row order is not kept) and, when some
    rows do not fit the schema, `<output>.rejected.csv` with file, line and reason, the line being
    the row's text (a parallel reader knows no line numbers). Returns (scored, rejected, rejects path).
    """
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from tfx_bsl.public.beam import RunInference
    from tensorflow.core.example import example_pb2
    from tfx_bsl.public.proto import model_spec_pb2

    check_runnable(model_dir)
    features = load_model_features(model_dir)
    files = _input_files(input_path)
    headers = []
    for path in files:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            headers.append(next(csv.reader(f, delimiter=delimiter), []))
    header = headers[0]
    different = [path for path, h in zip(files, headers) if h != header]
    if different:
        raise ConfigError(f"{different[0]}: its header differs from {files[0]}'s; a Beam prediction "
                          "needs one header for all input files")
    from pipeline.serving import model as serving
    required = _read_and_required(model_dir, features, files[0], header, delimiter)
    rejects_path = output + REJECTS_SUFFIX

    class Parse(beam.DoFn):
        def process(self, file_and_line):
            from pipeline.serving import model as serving  # imported where the DoFn runs
            path, line = file_and_line
            try:
                values = next(csv.reader([line], delimiter=delimiter))
            except (csv.Error, StopIteration) as exc:
                yield beam.pvalue.TaggedOutput("rejected", _csv_line([path, line, f"unreadable: {exc}"]))
                return
            if len(values) != len(header):
                yield beam.pvalue.TaggedOutput(
                    "rejected", _csv_line([path, line, "wrong number of values for the header"]))
                return
            try:
                example = serving.to_example(dict(zip(header, values)), features, decimal, required)
            except serving.MissingRequired as exc:
                yield beam.pvalue.TaggedOutput("rejected", _csv_line([path, line, str(exc)]))
                return
            except ValueError as exc:
                yield beam.pvalue.TaggedOutput(
                    "rejected", _csv_line([path, line, f"a value does not fit its schema type: {exc}"]))
                return
            yield line, example

    def scored_line(keyed):
        import tensorflow as tf
        line, log = keyed
        values = next(csv.reader([line], delimiter=delimiter))
        p = tf.make_ndarray(log.predict_log.response.outputs[served_output(features.label)]).reshape(-1)
        return _csv_line(list(values) + prediction_values(features.label, p, decimal), delimiter)

    spec = model_spec_pb2.InferenceSpecType(saved_model_spec=model_spec_pb2.SavedModelSpec(
        model_path=model_dir, signature_name=[serving.SIGNATURE]))
    out_header = _csv_line(header + prediction_columns(features.label), delimiter)
    scored_counter = beam.metrics.Metrics.counter("predict", "scored")
    rejected_counter = beam.metrics.Metrics.counter("predict", "rejected")

    def count(counter):
        def inc(element):
            counter.inc()
            return element
        return inc

    pipeline = beam.Pipeline(options=PipelineOptions(list(beam_args)))
    parsed = (pipeline
              | "Files" >> beam.Create(files)
              | "Read" >> beam.io.ReadAllFromText(skip_header_lines=1, with_filename=True)
              | "Parse" >> beam.ParDo(Parse()).with_outputs("rejected", main="rows"))
    _ = (parsed.rows
         | "Typed" >> beam.Map(lambda keyed: keyed).with_output_types(Tuple[str, example_pb2.Example])
         | "Predict" >> RunInference(spec)
         | "Format" >> beam.Map(scored_line)
         | "CountScored" >> beam.Map(count(scored_counter))
         | "Write" >> beam.io.WriteToText(output, shard_name_template="", header=out_header))
    _ = (parsed.rejected
         | "CountRejected" >> beam.Map(count(rejected_counter))
         | "WriteRejected" >> beam.io.WriteToText(rejects_path, shard_name_template="",
                                                  header=_csv_line(REJECTS_COLUMNS)))
    result = pipeline.run()
    result.wait_until_finish()
    counters = {}
    for counter in result.metrics().query(beam.metrics.MetricsFilter().with_namespace("predict"))["counters"]:
        counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + counter.committed
    rejected = counters.get("rejected", 0)
    if not rejected and os.path.exists(rejects_path):
        os.remove(rejects_path)
    return counters.get("scored", 0), rejected, rejects_path
