"""Every kind of bad input a user plausibly hits, through the real CLI, after a good run.

For each case: exit code 1, a one-paragraph message naming the file, line or feature and the
fix (no traceback), the pushed versions byte-for-byte unchanged, nothing trained (no Trainer
execution of any state, no checkpoint or event file under model_run/), ML Metadata still readable
and holding no new execution at all; and a good run after bad input succeeds. Each test sets up
what it checks, so the file passes in any order (--reverse, --random-order).
"""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from pipeline import config as config_lib
from pipeline.report import metadata
from pipeline import pipeline as pipeline_lib
from pipeline.__main__ import cli
from tests.conftest import read_taxi_rows, write_csv
from tests.e2e.outputs import Snapshot, open_store, tree_digest

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(50)]

LABEL = config_lib.DEFAULT_LABEL


def run_cli(data_root, output_dir, *extra):
    args = ["run", "--data-root", str(data_root), "--output-dir", str(output_dir),
            "--train-steps", "100", "--min-accuracy", "0.5", *extra]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def rows():
    return read_taxi_rows(every=6)


@pytest.fixture(scope="module")
def good_run(rows, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    columns, data = rows
    good = write_csv(str(root / "good" / "data.csv"), columns, data)
    output_dir = root / "out"
    result = run_cli(os.path.dirname(good), output_dir)
    assert result.exit_code == 0, result.output
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(output_dir)))
    assert os.listdir(config.serving_dir), "the good run pushed nothing"
    return os.path.dirname(good), config


def _csv(path, columns, data):
    return write_csv(str(path / "data.csv"), columns, data)


def _edit(rows, index, **changes):
    data = [dict(r) for r in rows]
    data[index].update(changes)
    return data


def _without(columns, data, name):
    return [c for c in columns if c != name], [{k: v for k, v in r.items() if k != name} for r in data]


def _renamed(columns, data, old, new):
    return ([new if c == old else c for c in columns],
            [{(new if k == old else k): v for k, v in r.items()} for r in data])


def _raw(path, text: bytes):
    path.mkdir(parents=True, exist_ok=True)
    (path / "data.csv").write_bytes(text)


def _header_line(columns):
    return ",".join(columns).encode() + b"\n"


def _row_line(columns, row):
    return ",".join(row[c] for c in columns).encode() + b"\n"


# Each case: (id, make(path, columns, rows) -> extra CLI args or None, words the message must hold).
# Line numbers count the header as line 1, so rows[i] is on line i + 2. Every case exits with 1
# (a failed run); a bad option would exit with 2, as the output-dir test below shows.
CASES = [
    ("too-many-columns",
     lambda p, c, r: _raw(p, _header_line(c) + _row_line(c, r[0]) + _row_line(c, r[1])[:-1] + b",extra\n"),
     ["data.csv, line 3: 19 values for 18 columns", "unquoted comma"]),
    ("too-few-columns",
     lambda p, c, r: _raw(p, _header_line(c) + b"1,2,3\n"),
     ["data.csv, line 2: 3 values for 18 columns"]),
    ("header-missing-a-feature",
     lambda p, c, r: _csv(p, *_without(c, r, "fare")),
     ["the schema lists but the file lacks: ['fare']", "infer-schema"]),
    ("header-missing-the-label",
     lambda p, c, r: _csv(p, *_without(c, r, LABEL)),
     [f"no label column '{LABEL}'", "--label"]),
    ("header-renamed-column",
     lambda p, c, r: _csv(p, *_renamed(c, r, "trip_miles", "miles")),
     ["lacks: ['trip_miles']", "does not list: ['miles']", "Rename the columns"]),
    ("text-in-a-numeric-column",
     lambda p, c, r: _csv(p, c, _edit(r, 5, fare="twelve")),
     ["data.csv, line 7, column 'fare': 'twelve' is not a number"]),
    ("empty-file",
     lambda p, c, r: _raw(p, b""),
     ["data.csv is empty"]),
    ("folder-without-csv",
     lambda p, c, r: (p.mkdir(), (p / "data.txt").write_text("fare\n1\n")),
     ["holds no .csv file"]),
    ("data-root-missing",
     lambda p, c, r: None,
     ["is not a folder; point it at a folder of CSV files"]),
    ("label-class-not-in-schema",
     lambda p, c, r: _csv(p, c, _edit(r, 3, **{LABEL: "2"})),
     [f"data.csv, line 5: the label '{LABEL}' is '2', not one of the schema's classes", "add the class"]),
    ("feature-entirely-missing",
     lambda p, c, r: _csv(p, c, [dict(row, trip_miles="") for row in r]),
     ["feature(s) ['trip_miles'] have no value in any of the", "DEPRECATED"]),
    ("nan-feature",
     lambda p, c, r: _csv(p, c, _edit(r, 0, trip_miles="nan")),
     ["data.csv, line 2, column 'trip_miles': 'nan' is not a finite number"]),
    ("inf-feature",
     lambda p, c, r: _csv(p, c, _edit(r, 9, fare="inf")),
     ["data.csv, line 11, column 'fare': 'inf' is not a finite number"]),
    ("non-utf8-bytes",
     lambda p, c, r: _raw(p, _header_line(c) + _row_line(c, dict(r[0], company="Caf?")).replace(b"Caf?", b"Caf\xe9")),
     ["data.csv, line 2: not UTF-8 text (byte 0xe9", "save the file as UTF-8"]),
    ("huge-line",
     lambda p, c, r: _raw(p, _header_line(c) + _row_line(c, dict(r[0], company="x" * (17 * 2**20)))),
     ["data.csv, line 2: cannot be read as CSV", "quote that is never closed"]),
    ("invalid-schema-file",
     lambda p, c, r: (_csv(p, c, r), (p / "schema.pbtxt").write_text("feature { name: 'x' typo: 1 }"),
                      ["--schema", str(p / "schema.pbtxt")])[-1],
     ["schema.pbtxt: not a valid TFX schema", "infer-schema"]),
]


def executions(config) -> int:
    return len(open_store(config.metadata_path).get_executions())


def bad_run(kind, rows, tmp_path, output_dir):
    """Makes the bad input of CASES' `kind` under tmp_path and runs the CLI on it."""
    make = next(c[1] for c in CASES if c[0] == kind)
    data_root = tmp_path / "data"
    extra = make(data_root, *rows)
    extra = extra if isinstance(extra, list) else []  # a case may return extra CLI args
    return run_cli(data_root, output_dir, *extra)


@pytest.mark.parametrize("kind, words", [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_stops_the_run_and_changes_nothing(good_run, rows, tmp_path, kind, words):
    _, config = good_run
    before = Snapshot(config)
    ran = executions(config)

    result = bad_run(kind, rows, tmp_path, config.output_dir)

    assert result.exit_code == 1, result.output
    message = result.stderr
    for word in words:
        assert word in message, message
    assert message.startswith("error: ") and "Traceback" not in result.output
    before.assert_nothing_trained_or_pushed()
    assert executions(config) == ran  # ML Metadata readable; refused before any component ran


def test_an_output_dir_that_cannot_be_written_exits_2_and_names_it(good_run, tmp_path):
    data_root, _ = good_run
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli(data_root, blocker / "out")
    assert result.exit_code == 2, result.output
    assert f"--output-dir '{blocker / 'out'}' cannot be written" in result.stderr
    assert "Choose a folder you can write" in result.stderr


def _next_good_run_succeeds(data_root, config):
    before = set(os.listdir(config.serving_dir))
    result = run_cli(data_root, config.output_dir)
    assert result.exit_code == 0, result.output
    summary = metadata.summarize(config)
    for node in (pipeline_lib.EXAMPLE_GEN, pipeline_lib.STATISTICS_GEN, pipeline_lib.TRAINER):
        assert summary.states[node] == "cached", summary.states
    assert summary.blessed is True
    assert set(os.listdir(config.serving_dir)) >= before
    assert not [n for n in os.listdir(config.serving_dir) if not n.isdigit()]


def test_a_nan_loss_fails_the_run_with_that_reason_and_pushes_nothing(good_run):
    """Then the next good run succeeds: a FAILED Trainer execution in ML Metadata harms nothing."""
    data_root, config = good_run
    before = Snapshot(config)
    result = run_cli(data_root, config.output_dir, "--hparam", "learning_rate=1e30")
    assert result.exit_code == 1, result.output
    assert "Trainer: the training loss became NaN" in result.stderr and "Traceback" not in result.output
    assert tree_digest(config.serving_dir) == before.served
    assert list(before.new_trainer_executions().values()) == ["FAILED"]
    _next_good_run_succeeds(data_root, config)


def test_after_bad_input_the_next_good_run_succeeds(good_run, rows, tmp_path):
    """Sets up its own bad input first, so it holds in any order."""
    data_root, config = good_run
    assert bad_run("text-in-a-numeric-column", rows, tmp_path, config.output_dir).exit_code == 1
    _next_good_run_succeeds(data_root, config)
