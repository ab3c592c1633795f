"""infer-schema: free text gets TFDV's natural_language_domain, categories and the label keep
their vocabularies, and the terminal shows only the command's own lines."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.config import ConfigError
from pipeline.data import dialect, schema_tools
from tests.conftest import write_csv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SENTIMENT_CSV = os.path.join(ROOT, "data", "sentiment", "data.csv")
SHOPS = ["north", "south", "east"]
# Several words each: TFDV's text heuristic matches these too, yet they are categories.
PAYMENTS = ["paid by credit card", "paid in cash", "paid with a mobile app"]
VERDICTS = {"positive": "the raters liked it", "negative": "the raters did not like it"}


def _rows(n: int = 240):
    """Real sentences from the bundled sentiment data, beside made-up categories and numbers."""
    with open(SENTIMENT_CSV, newline="", encoding="utf-8") as f:
        sentences = [row for _, row in zip(range(n), csv.DictReader(f))]
    return [{"review": s["text"], "shop": SHOPS[i % 3], "payment": PAYMENTS[i % 3 - 1],
             "price": f"{3.5 + i % 17 * 1.25:.2f}", "stars": str(1 + i % 5),
             "verdict": VERDICTS[s["label"]]} for i, s in enumerate(sentences)]


@pytest.fixture(scope="module")
def inferred(tmp_path_factory):
    """Runs `python -m pipeline infer-schema` once, as a user would, with TF's logs at their loudest."""
    tmp = tmp_path_factory.mktemp("infer")
    rows = _rows()
    write_csv(str(tmp / "data" / "reviews.csv"), list(rows[0]), rows)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "infer-schema", "--data-root", str(tmp / "data"),
         "--output", str(tmp / "schema.pbtxt"), "--label", "verdict", "--output-dir", str(tmp / "out")],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    schema = text_format.Parse(open(tmp / "schema.pbtxt").read(), schema_pb2.Schema())
    return completed, schema, tmp


def _feature(schema, name):
    return next(f for f in schema.feature if f.name == name)


def _string_domain(schema, feature):
    assert feature.HasField("domain"), feature
    return list(next(d for d in schema.string_domain if d.name == feature.domain).value)


def test_only_the_free_text_column_is_marked_as_text(inferred):
    _, schema, _ = inferred
    assert schema_tools.text_features(schema) == ["review"]
    review = _feature(schema, "review")
    assert review.type == schema_pb2.BYTES and not review.HasField("domain")
    assert not any(d.name == "review" for d in schema.string_domain)


def test_categories_keep_their_vocabulary_and_the_label_gets_its_classes(inferred):
    _, schema, _ = inferred
    assert sorted(_string_domain(schema, _feature(schema, "shop"))) == sorted(SHOPS)
    assert sorted(_string_domain(schema, _feature(schema, "payment"))) == sorted(PAYMENTS)
    verdict = _feature(schema, "verdict")
    assert sorted(_string_domain(schema, verdict)) == sorted(VERDICTS.values())
    assert verdict.presence.min_fraction == 1.0
    assert _feature(schema, "price").type == schema_pb2.FLOAT
    stars = _feature(schema, "stars")
    assert stars.type == schema_pb2.INT and stars.int_domain.is_categorical


def test_every_feature_gets_the_default_drift_threshold_of_its_kind(inferred):
    from components.drift_guard import thresholds
    _, schema, _ = inferred
    comparators = {f.name: f.drift_comparator for f in schema.feature}
    assert set(comparators) == {"review", "shop", "payment", "verdict", "price", "stars"}
    assert comparators["price"].jensen_shannon_divergence.threshold == thresholds.JS_THRESHOLD
    assert comparators["stars"].jensen_shannon_divergence.threshold == thresholds.JS_THRESHOLD
    assert comparators["shop"].infinity_norm.threshold == thresholds.LINF_THRESHOLD
    assert comparators["review"].infinity_norm.threshold == thresholds.TEXT_LINF_THRESHOLD


def test_the_checked_in_schemas_give_every_feature_the_comparator_of_its_kind():
    """As infer-schema writes them; thresholds may differ where BENCHMARKS.md says why (trip_miles)."""
    from components.drift_guard import thresholds
    for name in ("taxi", "sentiment"):
        schema = text_format.Parse(open(os.path.join(ROOT, "schemas", name, "schema.pbtxt")).read(),
                                   schema_pb2.Schema())
        for feature in schema.feature:
            field, default = thresholds.comparator_for(feature)
            if field is None:  # kept out of the model (DEPRECATED): not watched
                assert not feature.HasField("drift_comparator"), (name, feature.name)
                continue
            assert feature.drift_comparator.HasField(field), (name, feature.name)
            threshold = getattr(feature.drift_comparator, field).threshold
            assert threshold == default or (name, feature.name, threshold) == ("taxi", "trip_miles", 0.9)


def test_the_terminal_shows_only_the_commands_own_lines(inferred):
    completed, _, tmp = inferred
    assert completed.stderr == ""
    schema_path = tmp / "schema.pbtxt"
    logs = os.listdir(tmp / "out" / "logs")
    assert len(logs) == 1 and logs[0].startswith("infer-schema-"), logs
    log_path = tmp / "out" / "logs" / logs[0]
    assert completed.stdout.splitlines() == [
        f"wrote {schema_path}: 6 features; text features (natural_language_domain): review.",
        "label 'verdict': classification (its values are strings; its string_domain lists the classes). "
        "To change it, rerun with --task regression or edit the label's domain in the schema.",
        f"Review it (see the comments at the top), then pass it with --schema. (log: {log_path})"]
    # The library lines went to the log instead.
    log = log_path.read_text()
    assert "DirectRunner" in log and "tensorflow" in log.lower()


def test_a_text_feature_never_keeps_a_vocabulary():
    schema = text_format.Parse("""
        feature { name: "review" type: BYTES natural_language_domain {} }
        feature { name: "shop" type: BYTES domain: "shop" }
        string_domain { name: "review" value: "Great phone." value: "It broke, twice." }
        string_domain { name: "shop" value: "north" value: "south" }
    """, schema_pb2.Schema())
    schema_tools._drop_text_vocabularies(schema)
    assert [d.name for d in schema.string_domain] == ["shop"]


def test_the_checked_in_sentiment_schema_marks_its_text_and_classes():
    path = os.path.join(ROOT, "schemas", "sentiment", "schema.pbtxt")
    schema = text_format.Parse(open(path).read(), schema_pb2.Schema())
    assert schema_tools.text_features(schema) == ["text"]
    assert _string_domain(schema, _feature(schema, "label")) == ["negative", "positive"]
    assert sorted(_string_domain(schema, _feature(schema, "source"))) == [
        "movie_review", "news_editorial", "product_review", "tweet"]


def _infer(tmp_path, header, rows, label, **options):
    write_csv(str(tmp_path / "data" / "d.csv"), header, [dict(zip(header, r)) for r in rows])
    return schema_tools.infer_schema(str(tmp_path / "data"), str(tmp_path / "schema.pbtxt"), label,
                                     **options)


def test_a_whole_number_score_not_from_0_is_guessed_a_number_to_predict(tmp_path):
    # A wine's quality 3..9: classes must be 0..N-1, so the guess must not be classes it then refuses.
    rows = [(f"{8 + i % 13 * 0.3:.1f}", str(3 + i % 7)) for i in range(120)]
    schema, line, _ = _infer(tmp_path, ["alcohol", "quality"], rows, "quality")
    written = text_format.Parse(open(tmp_path / "schema.pbtxt").read(), schema_pb2.Schema())
    quality = _feature(written, "quality")
    assert quality.type == schema_pb2.INT and not quality.HasField("int_domain"), quality
    assert line.startswith("label 'quality': regression (whole numbers from 3 to 9: a score"), line
    assert "map its values to 0..N-1" in line


def test_two_classes_coded_other_than_0_and_1_are_refused_with_the_fix(tmp_path):
    rows = [(f"{i % 11}", str(1 + i % 2)) for i in range(60)]
    with pytest.raises(ConfigError, match=r"integer classes must be 0..N-1 \(found min 1\)"):
        _infer(tmp_path, ["x", "good"], rows, "good")
    assert not os.path.exists(tmp_path / "schema.pbtxt")


def test_classes_from_0_are_still_guessed_classes(tmp_path):
    rows = [(f"{i % 11}", str(i % 4)) for i in range(80)]
    _, line, _ = _infer(tmp_path, ["x", "grade"], rows, "grade")
    grade = _feature(text_format.Parse(open(tmp_path / "schema.pbtxt").read(), schema_pb2.Schema()), "grade")
    assert (grade.int_domain.min, grade.int_domain.max, grade.int_domain.is_categorical) == (0, 3, True)
    assert line.startswith("label 'grade': classification"), line


def test_a_column_empty_in_every_row_is_kept_out_of_the_model(tmp_path):
    # `run` refuses a model feature that no row fills; the schema infer-schema writes must run.
    rows = [(f"{i % 7}.5", "", "north" if i % 3 else "south", str(i % 2)) for i in range(60)]
    schema, _, kept_out = _infer(tmp_path, ["size", "comment", "shop", "sold"], rows, "sold")
    written = text_format.Parse(open(tmp_path / "schema.pbtxt").read(), schema_pb2.Schema())
    stages = {f.name: f.lifecycle_stage for f in written.feature}
    assert stages["comment"] == schema_pb2.DEPRECATED
    assert [n for n, stage in stages.items() if stage == schema_pb2.DEPRECATED] == ["comment"]
    assert schema_tools.deprecated_features(schema) == ["comment"]
    assert kept_out == ["no value in any row, so kept out of the model (lifecycle_stage: DEPRECATED): "
                        "'comment'."]


def test_a_label_empty_in_every_row_is_refused(tmp_path):
    rows = [(f"{i % 7}.5", "") for i in range(30)]
    with pytest.raises(ConfigError, match="'sold': the column has no value in any row"):
        _infer(tmp_path, ["size", "sold"], rows, "sold")


def test_quoted_newlines_are_read_as_run_reads_them(tmp_path):
    # tfdv.generate_statistics_from_csv reads lines, and stopped here with "Columns do not match".
    notes = ["plain", "has, a comma", 'has "quotes"', "line one\nline two", ""]
    rows = [(f"{i % 9 * 0.5}", notes[i % 5], str(i % 2)) for i in range(100)]
    _infer(tmp_path, ["x", "note", "y"], rows, "y")
    written = text_format.Parse(open(tmp_path / "schema.pbtxt").read(), schema_pb2.Schema())
    assert {f.name: f.type for f in written.feature} == {
        "x": schema_pb2.FLOAT, "note": schema_pb2.BYTES, "y": schema_pb2.INT}
    assert "line one\nline two" in _string_domain(written, _feature(written, "note"))


def test_a_byte_order_mark_is_refused_with_the_copy_command(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text("\ufeffx,y\n1.5,0\n2.5,1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        schema_tools.infer_schema(str(tmp_path / "data"), str(tmp_path / "schema.pbtxt"), "y")
    assert "starts with a byte-order mark" in str(error.value)
    assert f"convert-csv --input {tmp_path / 'data'} --output {tmp_path / 'data'}_comma --delimiter ','" \
        in str(error.value)


def test_files_with_different_headers_are_named(tmp_path):
    write_csv(str(tmp_path / "data" / "a.csv"), ["x", "color", "y"], [{"x": 1, "color": "red", "y": 0}])
    write_csv(str(tmp_path / "data" / "b.csv"), ["x", "colour", "y"], [{"x": 1, "colour": "red", "y": 0}])
    with pytest.raises(ConfigError) as error:
        schema_tools.infer_schema(str(tmp_path / "data"), str(tmp_path / "schema.pbtxt"), "y")
    assert str(error.value).startswith(
        f"{tmp_path / 'data' / 'b.csv'}: its header differs from {tmp_path / 'data' / 'a.csv'}'s "
        "(it lacks ['color'] and it has ['colour'] instead)")


def test_a_column_of_numbers_with_na_placeholders_is_named_with_the_command_that_empties_them(tmp_path):
    # 'N/A' and '?' make TFDV type the column BYTES: a category of 40 numbers, silently.
    hours = [str(20 + i % 40) if i % 25 else ("N/A" if i % 50 else "?") for i in range(200)]
    rows = [(h, "north" if i % 2 else "south", str(i % 2)) for i, h in enumerate(hours)]
    schema, _, _ = _infer(tmp_path, ["hours", "shop", "y"], rows, "y")
    assert _feature(schema, "hours").type == schema_pb2.BYTES
    data = str(tmp_path / "data")
    note = schema_tools.placeholder_note(data, schema, "y")
    assert note.startswith("column 'hours' holds numbers but for '?' (4 rows), 'N/A' (4 rows), so it is "
                           "typed BYTES: a category, not a number.")
    command = f"python -m pipeline convert-csv --input {data} --output {data}_comma --delimiter ',' --na-values '?,N/A'"
    assert note.endswith(command)
    # The command's copy gives a number.
    dialect.convert(data, data + "_comma", ",", ".", ["?", "N/A"])
    again = schema_tools.infer_schema(data + "_comma", str(tmp_path / "again.pbtxt"), "y")[0]
    assert _feature(again, "hours").type == schema_pb2.INT
    assert schema_tools.placeholder_note(data + "_comma", again, "y") == ""


def test_a_label_empty_in_some_rows_is_said_at_once(tmp_path):
    rows = [(f"{i % 7}.5", "" if i % 20 == 3 else str(i % 2)) for i in range(100)]
    _, line, _ = _infer(tmp_path, ["size", "sold"], rows, "sold")
    assert line.endswith("Its cell is empty in 5 of 100 rows, which `run` refuses (a row needs its label "
                         "to learn from): fill them, or move those rows out of the data.")


def test_a_label_of_whole_numbers_written_as_decimals_is_said_with_the_fix(tmp_path):
    # pandas writes an integer column with gaps as 1.0/0.0: TFDV types it FLOAT, a number to predict.
    rows = [(f"{i % 7}.5", f"{i % 2}.0") for i in range(60)]
    _, line, _ = _infer(tmp_path, ["size", "survived"], rows, "survived")
    assert line.startswith("label 'survived': regression (its values are decimal numbers")
    assert line.endswith("Its values (0, 1) are whole numbers written as decimals ('1.0'): if they are "
                         "classes, write them as 0..N-1 without the '.0' (or as strings) in the CSV and "
                         "rerun infer-schema.")
    with pytest.raises(ConfigError, match=r"Its values \(0, 1\) are whole numbers written as decimals"):
        _infer(tmp_path, ["size", "survived"], rows, "survived", task="classification")
    # A measured number gets no such advice.
    rows = [(f"{i % 7}.5", f"{i % 9}.25") for i in range(60)]
    assert "written as decimals" not in _infer(tmp_path, ["size", "weight"], rows, "weight")[1]


def _written(tmp_path):
    return text_format.Parse(open(tmp_path / "schema.pbtxt").read(), schema_pb2.Schema())


def _titanic_rows():
    """Shaped like Kaggle's Titanic train.csv: PassengerId 1..891; tickets shared as there (547
    passengers alone on theirs, 94 pairs, ...: 61% of rows hold a ticket no other row has);
    names of 3+ words (free text); cabins for a few."""
    import random
    rng = random.Random(7)
    group_sizes = [1] * 548 + [2] * 94 + [3] * 21 + [4] * 11 + [5] * 2 + [6] * 4 + [7] * 2
    prefixes = [rng.choice(["", "A/5 ", "PC ", "STON/O2. "]) for _ in group_sizes]
    tickets = [f"{prefixes[g]}{100000 + g}" for g, size in enumerate(group_sizes) for _ in range(size)]
    rng.shuffle(tickets)
    first = ["Owen", "John", "Laina", "Lily", "William", "Mary", "Anna", "Karl", "Elin", "James"]
    last = ["Braund", "Cumings", "Heikkinen", "Futrelle", "Allen", "Moran", "McCarthy", "Palsson"]
    rows = []
    for i, ticket in enumerate(tickets):
        sex = rng.choice(["male", "female"])
        rows.append((str(i + 1), rng.choice(["1", "2", "3"]),
                     f"{rng.choice(last)}, {rng.choice(['Mr.', 'Mrs.', 'Miss.'])} {rng.choice(first)} "
                     f"{rng.choice(first)}", sex, f"{rng.uniform(5, 250):.4f}", ticket,
                     str(int(rng.random() < (0.74 if sex == "female" else 0.19)))))
    return rows


def test_a_row_number_and_a_ticket_number_are_kept_out_of_the_model(tmp_path):
    rows = _titanic_rows()
    header = ["PassengerId", "Pclass", "Name", "Sex", "Fare", "Ticket", "Survived"]
    schema, _, kept_out = _infer(tmp_path, header, rows, "Survived")
    single = sum(1 for t in {r[5] for r in rows} if [r[5] for r in rows].count(t) == 1)
    assert single == 548 and len(rows) == 891  # the data is shaped as the brief says
    assert kept_out == [
        "column 'PassengerId': its 891 whole numbers (1 to 891, consecutive) are all different, as a "
        "row's identifier is, so it is kept out of the model (lifecycle_stage: DEPRECATED): a model "
        "learns nothing general from a row's key. If it is a measured number, delete its "
        "lifecycle_stage line in the schema.",
        "column 'Ticket': 548 of its 891 values occur in one row only, as an identifier's do, so it is "
        "kept out of the model (lifecycle_stage: DEPRECATED): each would be a category learned from "
        "one row, unknown in new data. If its values do group rows, delete its lifecycle_stage line "
        "in the schema."]
    written = _written(tmp_path)
    assert schema_tools.deprecated_features(written) == ["PassengerId", "Ticket"]
    assert schema_tools.text_features(written) == ["Name"]  # all different too, but free text
    assert not _feature(written, "PassengerId").HasField("int_domain")
    # The file says why, where the user edits it.
    text = open(tmp_path / "schema.pbtxt").read()
    assert ("  # Kept out of the model: an identifier, most of its values in one row only. Delete the "
            "next line to use it.\n  lifecycle_stage: DEPRECATED") in text
    assert "passengerid" not in schema_tools.identifiers_note(written, "Survived")


def test_a_small_table_of_customer_ids_loses_their_vocabulary_too(tmp_path):
    # 60 IDs: few enough for TFDV's string_domain, which would list every customer.
    import random
    rng = random.Random(3)
    ids = [f"{rng.randint(1000, 9999)}-{''.join(rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ') for _ in range(5))}"
           for _ in range(60)]
    assert len(set(ids)) == 60
    rows = [(cid, ["Month-to-month", "One year", "Two year"][i % 3], f"{18 + i * 1.7:.2f}",
             ["Yes", "No"][i % 2]) for i, cid in enumerate(ids)]
    _, _, kept_out = _infer(tmp_path, ["customerID", "Contract", "MonthlyCharges", "Churn"], rows, "Churn")
    written = _written(tmp_path)
    assert schema_tools.deprecated_features(written) == ["customerID"]
    assert not _feature(written, "customerID").HasField("domain")
    assert sorted(d.name for d in written.string_domain) == ["Churn", "Contract"]
    assert kept_out[0].startswith("column 'customerID': 60 of its 60 values occur in one row only")


def test_numbers_and_categories_that_only_happen_to_be_distinct_stay_in_the_model(tmp_path):
    import random
    rng = random.Random(5)
    salaries = rng.sample(range(20000, 200000), 200)  # 0.1 equal pairs expected by chance: a number
    cities = [f"city {i % 90}" for i in range(200)]  # 90 values, each in 2-3 rows: a category
    rows = [(str(s), c, str(1000 + 3 * i)) for i, (s, c) in enumerate(zip(salaries, cities))]
    # The label is a distinct number per row, yet never kept out.
    _, _, kept_out = _infer(tmp_path, ["salary", "city", "spend"], rows, "spend", task="regression")
    assert kept_out == [] and schema_tools.deprecated_features(_written(tmp_path)) == []


def test_dates_are_kept_out_with_how_to_derive_features_from_them(tmp_path):
    import datetime
    start = datetime.datetime(2024, 3, 1)
    rows = [((start + datetime.timedelta(days=i % 60)).strftime("%Y-%m-%d"),  # 60 days: a vocabulary
             (start + datetime.timedelta(minutes=37 * i)).strftime("%Y-%m-%d %H:%M:%S"),  # all different
             f"{i % 13 * 1.5:.1f}", str(i % 2)) for i in range(150)]
    schema, _, kept_out = _infer(tmp_path, ["signup", "last_login", "spend", "churned"], rows, "churned")
    written = _written(tmp_path)
    assert schema_tools.deprecated_features(written) == ["signup", "last_login"]
    assert _feature(written, "signup").time_domain.string_format == "%Y-%m-%d"
    assert _feature(written, "last_login").time_domain.string_format == "%Y-%m-%d %H:%M:%S"
    assert not written.string_domain or all(d.name != "signup" for d in written.string_domain)
    assert len(kept_out) == 2
    assert kept_out[0].startswith("column 'signup' holds dates/times (format '%Y-%m-%d', e.g. '2024-")
    assert kept_out[1].startswith("column 'last_login' holds dates/times (format '%Y-%m-%d %H:%M:%S'")
    for line in kept_out:  # not an identifier, though every login differs
        assert "which the model could only embed as categories of whole values" in line
        assert "Derive what matters from it as columns of the CSV (month, weekday, hour" in line
        assert "delete its lifecycle_stage line in the schema." in line
    from components.trainer.features import features_from_schema
    assert features_from_schema(written, "churned").names == ["spend"]
