"""CSV headers as spreadsheets write them, in a European export: infer-schema, run, predict, serve.

One small real run for the module. The data is written as a European spreadsheet exports it
(`;` between fields, `,` as the decimal mark) under headers with spaces, parentheses, dots,
accents and symbols; the user infers a schema with --delimiter/--decimal, `run` refuses the file
with the conversion command, the user runs that command, and the run, `predict` and `serve` then
take the CSV's own names.
"""
from __future__ import annotations

import csv
import os
import random
import shlex
import subprocess
import sys

import pytest

from components.trainer.features import features_from_schema, load_schema
from pipeline import config as config_lib
from pipeline.report import metadata, thresholds
from pipeline.serving import model as serving, predict
from tests.pipeline.serving.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(50)]

LABEL = "Espèce"
HEADERS = ["Sepal length (cm)", "sepal.width", "Pétale – couleur", "Price ($)", LABEL]
KEYS = {"Sepal length (cm)": "sepal_length_cm", "sepal.width": "sepal_width",
        "Pétale – couleur": "petale_couleur", "Price ($)": "price"}


def _rows(n: int = 400, seed: int = 7):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        length, width = round(rng.uniform(4, 8), 1), round(rng.uniform(2, 4.5), 2)
        colour = rng.choice(["rouge", "bleu", "vert"])
        big = length + (1.0 if colour == "rouge" else 0.0) > 6.5
        rows.append({"Sepal length (cm)": length, "sepal.width": width, "Pétale – couleur": colour,
                     "Price ($)": rng.randint(1, 90), LABEL: "grande" if big else "petite"})
    return rows


def _write(path, rows, delimiter=",", decimal="."):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow([str(v).replace(".", decimal) if isinstance(v, float) else v for v in row.values()])
    return path


def _cli(*args, timeout=1800):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=config_lib.PROJECT_ROOT)


@pytest.fixture(scope="module")
def headers_run(tmp_path_factory):
    """The user's steps, each checked as it goes: (tmp dir, output dir, schema path, stdouts)."""
    tmp = tmp_path_factory.mktemp("headers")
    _write(str(tmp / "export" / "fleurs.csv"), _rows(), delimiter=";", decimal=",")
    schema = str(tmp / "schema.pbtxt")
    out = str(tmp / "out")

    plain = _cli("infer-schema", "--data-root", str(tmp / "export"), "--output", schema, "--label", LABEL,
                 "--output-dir", out)
    assert plain.returncode == 2, plain.stderr[-2000:]
    assert "separated by ';', not commas, and its numbers use ',' as the decimal mark" in plain.stderr
    assert "read it with --delimiter ';' --decimal ','" in plain.stderr

    inferred = _cli("infer-schema", "--data-root", str(tmp / "export"), "--output", schema, "--label", LABEL,
                    "--output-dir", out, "--delimiter", ";", "--decimal", ",")
    assert inferred.returncode == 0, inferred.stderr[-3000:]

    refused = _cli("run", "--data-root", str(tmp / "export"), "--schema", schema, "--label", LABEL,
                   "--output-dir", out)
    assert refused.returncode == 1, refused.stdout[-2000:] + refused.stderr[-2000:]
    command = refused.stderr.strip().splitlines()[-1].strip()
    assert command.startswith("python -m pipeline convert-csv --input "), refused.stderr
    converted = subprocess.run([sys.executable, *shlex.split(command)[1:]], capture_output=True, text=True,
                               timeout=300, cwd=config_lib.PROJECT_ROOT)
    assert converted.returncode == 0, converted.stderr
    data_root = shlex.split(command)[shlex.split(command).index("--output") + 1]

    ran = _cli("run", "--data-root", data_root, "--schema", schema, "--label", LABEL, "--output-dir", out,
               "--slice", "Pétale – couleur", "--train-steps", "80", "--min-accuracy", "0", "--seed", "3")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    return tmp, out, schema, {"infer": inferred.stdout, "run": ran.stdout, "convert": converted.stdout}


def test_infer_schema_keeps_the_csvs_names_and_says_which_identifiers_the_model_uses(headers_run):
    _, _, schema, stdout = headers_run
    assert [f.name for f in load_schema(schema).feature] == HEADERS
    assert "'Sepal length (cm)' -> sepal_length_cm" in stdout["infer"]
    assert "'Pétale – couleur' -> petale_couleur" in stdout["infer"]
    assert "convert-csv" in stdout["infer"]  # run reads commas: the command is given up front
    features = features_from_schema(load_schema(schema), LABEL)
    assert {f.name: f.key for f in features.features} == KEYS
    assert sorted(features.label.classes) == ["grande", "petite"]


def test_the_converted_copy_holds_the_same_values_with_commas_and_points(headers_run):
    tmp, _, _, stdout = headers_run
    assert "wrote" in stdout["convert"] and "400 rows" in stdout["convert"]
    with open(tmp / "export_comma" / "fleurs.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    original = _rows()
    assert list(rows[0]) == HEADERS and len(rows) == len(original)
    assert [float(r["Sepal length (cm)"]) for r in rows] == [r["Sepal length (cm)"] for r in original]
    assert [r["Pétale – couleur"] for r in rows] == [r["Pétale – couleur"] for r in original]


def test_the_run_trains_on_those_names_and_slices_by_a_csv_name(headers_run):
    _, out, _, stdout = headers_run
    summary = metadata.summarize(config_lib.absolute(config_lib.PipelineConfig(output_dir=out)))
    assert summary.pushed, summary
    sliced = thresholds.sliced_metrics(summary.evaluation_uri)
    assert {"Pétale – couleur=rouge", "Pétale – couleur=bleu", "Pétale – couleur=vert"} <= set(sliced), sorted(sliced)
    assert "eval metrics sliced by Pétale – couleur" in stdout["run"]


def test_predict_reads_the_export_and_carries_every_column_through(headers_run):
    tmp, out, schema, _ = headers_run
    rows = _rows(n=8, seed=11)
    for i, row in enumerate(rows):
        row["note (libre)"] = f"ligne {i}"
    scored_path = str(tmp / "scored.csv")
    export = _write(str(tmp / "new" / "nouvelles.csv"), rows, delimiter=";", decimal=",")
    done = _cli("predict", "--input", export, "--output", scored_path, "--output-dir", out,
                "--delimiter", ";", "--decimal", ",", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(scored_path, newline="", encoding="utf-8") as f:
        scored = list(csv.DictReader(f, delimiter=";"))
    assert [r["note (libre)"] for r in scored] == [r["note (libre)"] for r in rows]
    assert list(scored[0])[:len(HEADERS) + 1] == HEADERS + ["note (libre)"]

    features = features_from_schema(load_schema(schema), LABEL)
    version = serving.latest_version(os.path.join(out, "serving_model"))
    plain = [{k: str(v) for k, v in r.items()} for r in rows]
    expected = predict.score(predict.load_signature(version), [serving.to_example(r, features) for r in plain],
                             features.label)
    positive = str(features.label.classes[1])
    got = [float(r[f"probability_{positive}"].replace(",", ".")) for r in scored]
    assert got == pytest.approx([float(p[0]) for p in expected], abs=1e-5)


def test_serve_answers_the_raw_signature_keyed_by_the_csvs_names(headers_run):
    tmp, out, schema, _ = headers_run
    features = features_from_schema(load_schema(schema), LABEL)
    version = serving.latest_version(os.path.join(out, "serving_model"))
    rows = [{k: str(v) for k, v in r.items()} for r in _rows(n=4, seed=5)]
    expected = [float(p[0]) for p in predict.score(predict.load_signature(version),
                                                   [serving.to_example(r, features) for r in rows], features.label)]
    instances = [{"Sepal length (cm)": float(r["Sepal length (cm)"]), "sepal.width": float(r["sepal.width"]),
                  "Pétale – couleur": r["Pétale – couleur"], "Price ($)": int(r["Price ($)"])} for r in rows]
    server = Server(out, str(tmp / "serve.log"))
    try:
        server.wait_ready()
        status, body = server.predict({"signature_name": "serving_raw", "instances": instances})
    finally:
        server.stop()
    assert status == 200, body
    assert [p["probabilities"][0] for p in body["predictions"]] == pytest.approx(expected, abs=1e-5)
