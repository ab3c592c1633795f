"""Regenerates data/taxi/data.csv from the Chicago taxi sample shipped in the tfx wheel.

The label is TFX's own: ``big_tipper`` = 1 when tips > 20% of the fare (0 when the
fare is missing). ``tips`` is dropped so the model can never see it.

    .venv/bin/python data/prepare_taxi.py
"""
import csv
import os

import tfx

SOURCE = os.path.join(os.path.dirname(tfx.__file__), "examples", "chicago_taxi_pipeline",
                      "data", "simple", "data.csv")
TARGET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "taxi", "data.csv")
LABEL = "big_tipper"


def big_tipper(row: dict) -> int:
    if row["fare"] == "" or row["tips"] == "":
        return 0
    return int(float(row["tips"]) > 0.2 * float(row["fare"]))


def main() -> None:
    with open(SOURCE, newline="") as src:
        reader = csv.DictReader(src)
        columns = [c for c in reader.fieldnames if c != "tips"] + [LABEL]
        rows = [{**{c: r[c] for c in columns[:-1]}, LABEL: big_tipper(r)} for r in reader]
    tmp = TARGET + ".tmp"
    with open(tmp, "w", newline="") as dst:
        writer = csv.DictWriter(dst, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, TARGET)
    print(f"wrote {len(rows)} rows to {TARGET}")


if __name__ == "__main__":
    main()
