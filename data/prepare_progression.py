"""Writes data/progression/progression.csv: a small, synthetic regression table (no download).

500 patients, shaped like the classic diabetes-progression data: age (whole years), body mass
index, blood pressure, glucose and cholesterol, and `progression`, a whole-number score that
depends on them linearly plus noise (roughly 5 to 60). Deterministic: the same file every run.

    python data/prepare_progression.py
"""
import csv
import os
import random

ROWS = 500
SEED = 23
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "progression", "progression.csv")


def rows(n=ROWS, seed=SEED):
    rng = random.Random(seed)
    for _ in range(n):
        age = rng.randint(18, 85)
        bmi = round(rng.gauss(27.0, 4.5), 1)
        bp = round(rng.gauss(94.0, 13.0), 1)
        glucose = round(rng.gauss(100.0, 18.0), 1)
        cholesterol = round(rng.gauss(190.0, 35.0), 1)
        score = (30.0 + 0.15 * (age - 50) + 1.6 * (bmi - 27.0) + 0.25 * (bp - 94.0)
                 + 0.12 * (glucose - 100.0) + 0.02 * (cholesterol - 190.0) + rng.gauss(0.0, 3.0))
        yield [age, bmi, bp, glucose, cholesterol, max(1, int(round(score)))]


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["age", "bmi", "bp", "glucose", "cholesterol", "progression"])
        writer.writerows(rows())
    print(f"wrote {OUT} ({ROWS} rows)")


if __name__ == "__main__":
    main()
