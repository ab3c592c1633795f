import csv
import os

import pytest
from tfx.components.trainer.fn_args_utils import FnArgs

from components.trainer import constants, task
from pipeline import config as config_lib
from pipeline.serving import predict
from pipeline.config import ConfigError
from tests.conftest import read_taxi_rows, write_csv


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, taxi_records):
    root = tmp_path_factory.mktemp("model")
    fn_args = FnArgs(train_files=[taxi_records + "/Split-train/*"], eval_files=[taxi_records + "/Split-eval/*"],
                     schema_path=config_lib.DEFAULT_SCHEMA, model_run_dir=str(root / "run"),
                     serving_model_dir=str(root / "serving"), train_steps=30, eval_steps=None,
                     custom_config={constants.LABEL_KEY: "big_tipper"})
    task.run_fn(fn_args)
    return fn_args.serving_model_dir


def test_predict_scores_rows_and_reports_those_that_do_not_fit(tmp_path, model_dir):
    columns, rows = read_taxi_rows(every=100)
    source = write_csv(str(tmp_path / "in" / "trips.csv"), columns, rows)
    with open(source, "a") as f:
        f.write(",12.5,5,19,6,1400269500,,,,,0.0,,,Cash,Flash Cab,0,,0,EXTRA\n")   # 19 values
        f.write(",abc,5,19,6,1400269500,,,,,0.0,,,Cash,Flash Cab,0,,0\n")         # fare not a number
    output = str(tmp_path / "scored.csv")
    scored, rejected, rejects = predict.predict_csv(str(tmp_path / "in"), output, model_dir)
    assert (scored, rejected) == (len(rows), 2)
    with open(output) as f:
        result = list(csv.DictReader(f))
    assert len(result) == len(rows)
    assert result[0]["company"] == rows[0]["company"]
    for row in result:
        p0, p1 = float(row["probability_0"]), float(row["probability_1"])
        assert abs(p0 + p1 - 1) < 1e-5 and row["predicted_class"] == ("1" if p1 > p0 else "0")
    with open(rejects) as f:
        reasons = list(csv.DictReader(f))
    assert [r["line"] for r in reasons] == [str(len(rows) + 2), str(len(rows) + 3)]
    assert "wrong number of values" in reasons[0]["reason"]
    assert "could not convert string to float: 'abc'" in reasons[1]["reason"]
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".partial")]


def test_predict_needs_the_models_features(tmp_path, model_dir):
    write_csv(str(tmp_path / "x.csv"), ["a"], [{"a": "1"}])
    with pytest.raises(ConfigError, match=r"lacks the feature\(s\) the model reads"):
        predict.predict_csv(str(tmp_path / "x.csv"), str(tmp_path / "o.csv"), model_dir)
    assert not os.path.exists(tmp_path / "o.csv")


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path, model_dir):
    # Excel's "CSV UTF-8" starts with one; the first column must still be found by its name.
    columns, rows = read_taxi_rows(every=500)
    plain = write_csv(str(tmp_path / "plain.csv"), columns, rows)
    with open(plain, encoding="utf-8") as f:
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "bom.csv").write_text("\ufeff" + f.read(), encoding="utf-8")
    predict.predict_csv(plain, str(tmp_path / "plain_scored.csv"), model_dir)
    scored, rejected, _ = predict.predict_csv(str(tmp_path / "in"), str(tmp_path / "bom_scored.csv"), model_dir)
    assert (scored, rejected) == (len(rows), 0)
    assert (tmp_path / "bom_scored.csv").read_text() == (tmp_path / "plain_scored.csv").read_text()
    predict.predict_beam(str(tmp_path / "in"), str(tmp_path / "beam_scored.csv"), model_dir,
                         ["--runner=DirectRunner", "--direct_num_workers=1"])
    assert (tmp_path / "beam_scored.csv").read_text().startswith(",".join(columns) + ",")


def test_predict_through_beam_scores_like_the_streaming_path(tmp_path, model_dir):
    columns, rows = read_taxi_rows(every=200)
    source = write_csv(str(tmp_path / "in" / "trips.csv"), columns, rows)
    with open(source, "a") as f:
        f.write(",abc,5,19,6,1400269500,,,,,0.0,,,Cash,Flash Cab,0,,0\n")         # fare not a number
    streamed, beamed = str(tmp_path / "streamed.csv"), str(tmp_path / "beamed.csv")
    predict.predict_csv(source, streamed, model_dir)
    scored, rejected, rejects = predict.predict_beam(source, beamed, model_dir,
                                                     ["--runner=DirectRunner", "--direct_num_workers=1"])
    assert (scored, rejected) == (len(rows), 1)

    def by_row(path):
        with open(path) as f:
            reader = csv.DictReader(f)
            return {tuple(r[c] for c in columns): r for r in reader}
    expected, got = by_row(streamed), by_row(beamed)
    assert got.keys() == expected.keys()
    for key, row in got.items():
        assert row["predicted_class"] == expected[key]["predicted_class"]
        assert abs(float(row["probability_1"]) - float(expected[key]["probability_1"])) < 1e-5
    with open(rejects) as f:
        reasons = list(csv.DictReader(f))
    assert len(reasons) == 1 and "abc" in reasons[0]["line"]
    assert "could not convert string to float: 'abc'" in reasons[0]["reason"]


def test_predict_refuses_a_model_it_cannot_run_in_one_readable_error(tmp_path):
    """A model with tf.py_function inside (it loads, then fails on every row in any other process)."""
    import subprocess
    import sys
    from tests.components.serving_check import saved_models
    model = saved_models.save(str(tmp_path / "serving_model" / "17"), defect="py_function")
    write_csv(str(tmp_path / "in.csv"), ["x", "n", "text"], [{"x": "1.0", "n": "2", "text": "Hi"}])
    output = tmp_path / "scored.csv"
    result = subprocess.run([sys.executable, "-m", "pipeline", "predict", "--input", str(tmp_path / "in.csv"),
                             "--output", str(output), "--model", model], capture_output=True, text=True,
                            cwd=config_lib.PROJECT_ROOT, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {model} cannot be run here: the model calls tf.py_function "
                                    "(layer 'lambda'): a SavedModel cannot carry Python code")
    assert "Traceback" not in result.stderr and result.stderr.count("error:") == 1
    assert "Nothing was scored." in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "serving_model"]  # no output, nothing half-written


def test_a_gap_in_a_feature_every_training_row_had_is_rejected_not_scored_silently(tmp_path, model_dir):
    """The taxi schema requires fare (presence min_fraction 1) and lets pickup_latitude be empty:
    a row without its fare is rejected with the reason; a row without a latitude is scored."""
    columns, rows = read_taxi_rows(every=1000)
    no_fare, no_latitude = dict(rows[0], fare=""), dict(rows[1], pickup_latitude="")
    source = write_csv(str(tmp_path / "gaps.csv"), columns, [no_fare, no_latitude] + rows[2:])
    for run in (predict.predict_csv,
                lambda *a: predict.predict_beam(*a, ["--runner=DirectRunner", "--direct_num_workers=1"])):
        output = str(tmp_path / f"scored-{run is predict.predict_csv}.csv")
        scored, rejected, rejects = run(source, output, model_dir)
        assert (scored, rejected) == (len(rows) - 1, 1)
        with open(rejects) as f:
            (reason,) = [r["reason"] for r in csv.DictReader(f)]
        assert reason.startswith("'fare' is empty, and every row the model was trained on had a value"), reason
        with open(output) as f:
            assert len(list(csv.reader(f))) == len(rows)  # the header and every row but the one
