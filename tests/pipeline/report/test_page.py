"""The run report's page: the HTML (user text shown as text), and a real browser drawing every plot.

The report built from a real run's artifacts is checked in tests/e2e/test_local_pipeline.py.
"""
from __future__ import annotations

import json
import re

from pipeline.report import collect, page as report, plots, terminal, thresholds
from tests import browser
from tests.pipeline.report.conftest import COMMENT, ESCAPED, HOSTILE, run_summary

PLOTTED = ("loss", "eval", "roc", "pr", "calibration", "histogram")
# Pixels of a plot's own color that show it was drawn: a legend swatch alone has at most 24;
# the eval chart may hold a single dot (about 78).
DRAWN = {"eval": 60}


def drawn(counts: dict) -> bool:
    return all(counts[kind] > DRAWN.get(kind, 150) for kind in counts)


def _data(summary=None, with_curves=True) -> collect.ReportData:
    roc = [(x / 20, min(1.0, (x / 20) ** 0.4)) for x in range(21)]
    pr = [(r / 20, 1 - 0.4 * (r / 20) ** 2) for r in range(21)]
    calibration = [((i + 0.5) / 10, min(1.0, (i + 0.5) / 10 + 0.03), 40.0) for i in range(10)]
    return collect.ReportData(
        run_name="run-20260101-000000-1", when="2026-01-01 00:00:00",
        summary=summary or run_summary(),
        splits={"train": collect.SplitStats(800, {
                    "fare": collect.FeatureStats("fare", "numeric", 0.125, [(str(i), 10 + i) for i in range(10)]),
                    "company": collect.FeatureStats("company", "categorical", 0.0, [("A", 50), ("B<&>", 20)])}),
                "eval": collect.SplitStats(400, {
                    "fare": collect.FeatureStats("fare", "numeric", 0.25, [(str(i), 5 + i) for i in range(10)])})},
        anomalies=["[eval] company: column dropped"],
        training={"training loss": [(s, 1 / (1 + s / 50)) for s in range(0, 301, 20)],
                  "eval accuracy": [(300, 0.55)], "eval loss": [(300, 0.6)]},
        sliced={"overall": {"model": {"accuracy": 0.55, "auc": 0.71, "example_count": 400.0}},
                "hour=3": {"model": {"accuracy": 0.4, "example_count": 20.0}},
                "hour=12": {"model": {"accuracy": 0.6, "example_count": 30.0}}},
        curves={"model": collect.Curves(roc, pr, calibration)} if with_curves else {})


def _facts(page: str) -> dict:
    found = re.search(r"<script type='application/json' id='report-data'>(.*?)</script>", page, re.S)
    return json.loads(found.group(1))


def test_html_holds_every_section_and_no_external_resource():
    page = report.render(_data())
    for anchor in ("decision", "evaluation", "training", "data"):
        assert f"id='{anchor}'" in page or f'id="{anchor}"' in page
    assert not re.search(r"<(img|link|iframe)\b|\bsrc=|href=['\"]https?:", page)
    assert re.findall(r"<script[^>]*>", page) == ["<script type='application/json' id='report-data'>"]
    assert "B&lt;&amp;&gt;" in page and "B<&>" not in page  # values are escaped
    facts = _facts(page)
    assert facts["rows"] == {"train": 800, "eval": 400} and facts["blessed"] is False
    assert [c["passed"] for c in facts["checks"]] == [False, None, False]
    assert "data-metric='accuracy'>0.5500<" in page
    assert "12.5%" in page and "25.0%" in page           # missing shares
    assert "[eval] company: column dropped" in page
    assert page.count('class="plot plot-histogram"') == 3
    for kind in ("roc", "pr", "calibration", "loss", "eval"):
        assert f'class="plot plot-{kind}"' in page


def test_chromium_draws_every_plot(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(report.render(_data()))
    counts = browser.color_pixels(browser.screenshot(str(page), str(tmp_path / "shot.png"), str(tmp_path)),
                                  {kind: plots.COLORS[kind] for kind in PLOTTED})
    assert drawn(counts), counts

    # The same check sees it when curves are missing (so it can fail).
    bare = tmp_path / "bare.html"
    bare.write_text(report.render(_data(with_curves=False)))
    counts = browser.color_pixels(browser.screenshot(str(bare), str(tmp_path / "bare.png"), str(tmp_path)),
                                  {kind: plots.COLORS[kind] for kind in ("roc", "pr", "calibration")})
    assert all(count <= 24 for count in counts.values()), counts


def test_a_run_that_stopped_early_says_so_instead_of_claiming_clean_data():
    data = _data(summary=run_summary(states={"CsvExampleGen": "ran", "ExampleValidator": "failed"},
                                     metrics={}, blessed=None, checks=[], evaluation_uri=None), with_curves=False)
    data.anomalies, data.sliced, data.training = None, {}, {}
    page = report.render(data)
    assert "no decision: ExampleValidator failed" in page
    assert "No anomalies" not in page and "ExampleValidator did not finish" in page


def _hostile_data(confusion: bool = False, text: str = HOSTILE) -> collect.ReportData:
    """A report whose every user-controlled text holds markup: feature name, category value,
    split, metric names, slice value, anomaly, threshold note, pushed path, class names."""
    name = f"fare{text}"
    summary = run_summary(
        blessed=False, pushed=True, pushed_path=f"/out/{text}/serving/17/", has_baseline=True,
        metrics={"accuracy": 0.55, text: 1.0},
        checks=[thresholds.Check(text, "value", ">= 0.6", 0.4, f"company={text}", False, text),
                thresholds.Check("accuracy", "change", ">= 0", 0.01, "overall", True, COMMENT)])
    data = _data(summary=summary, with_curves=not confusion)
    data.splits = {"train": collect.SplitStats(10, {
        name: collect.FeatureStats(name, "categorical", 0.5, [(text, 3), (COMMENT, 2)])}),
        f"eval{text}": collect.SplitStats(5, {name: collect.FeatureStats(name, "numeric", 0.0, [])})}
    data.anomalies = [f"[eval] {name}: unexpected value {text}", COMMENT]
    data.sliced = {"overall": {"model": {"accuracy": 0.55, text: 1.0}, "baseline": {text: 0.5},
                               "diff": {text: 0.5}},
                   f"company={text}": {"model": {"accuracy": 0.4}}}
    data.training = {"training loss": [(0, 1.0), (10, 0.5)]}
    if confusion:
        data.curves = {"model": collect.Curves([], [], [], {(0, 0): 3.0, (0, 1): 1.0, (1, 1): 4.0})}
        data.classes = [text, COMMENT]
    return data


def _svgs(page: str) -> list:
    return re.findall(r"<svg\b.*?</svg>", page, re.S)


def test_a_blessed_model_already_served_says_which_version_serves_it():
    summary = run_summary(blessed=True, checks=[], serving_version="1795819764",
                          serving_path="/out/serving_model/1795819764",
                          not_pushed_reason="the same model is already served as version 1795819764")
    page = report.render(_data(summary))
    assert ("nothing pushed: the same model is already served as version <b>1795819764</b> at "
            "<code>/out/serving_model/1795819764</code>") in page
    assert _facts(page)["serving_version"] == "1795819764" and _facts(page)["pushed_version"] is None
    assert "already served" not in report.render(_data(run_summary()))


def test_user_text_is_escaped_in_the_page_source():
    for confusion in (False, True):
        page = report.render(_hostile_data(confusion))
        assert re.findall(r"<script[^>]*>", page) == ["<script type='application/json' id='report-data'>"]
        assert "<script>alert" not in page and "<!--" not in page and "&co" not in page
        assert page.count(ESCAPED) >= 15
        # The JSON keeps the strings as they are: '<', '>', '&' and "'" as \u00XX escapes.
        facts = _facts(page)
        assert facts["anomalies"][1] == COMMENT and HOSTILE in facts["metrics"]
        assert facts["missing"]["train"] == {f"fare{HOSTILE}": 0.5}
        assert facts["pushed_path"] == f"/out/{HOSTILE}/serving/17/"
    # Each kind of value, in its place (a text node or an attribute).
    page = report.render(_hostile_data())
    for shown in (f"<td><b>fare{ESCAPED}</b></td>",                       # feature name
                  f"<title>{ESCAPED}: 3</title>",                          # category value, in its chart
                  f"aria-label=\"fare{ESCAPED} (train)\"",                 # feature name, chart title
                  f">fare{ESCAPED} (eval{ESCAPED}): no values</text>",     # feature and split, empty chart
                  f"<th>missing (eval{ESCAPED})</th>",                     # split
                  f"<td>{ESCAPED}</td><td class='num' data-metric='{ESCAPED}'>1</td>",  # metric name
                  f"<td>company={ESCAPED} <span class='fail'>",            # slice value
                  f"<li class='fail'>[eval] fare{ESCAPED}: unexpected value {ESCAPED}</li>",
                  f"<td class=\"muted\">{ESCAPED}</td>",                   # threshold note
                  f"to <code>/out/{ESCAPED}/serving/17/</code>"):          # pushed path
        assert shown in page, shown
    confusion = report.render(_hostile_data(confusion=True))
    assert f"<th>predicted {ESCAPED}</th>" in confusion and f"<th>actual {ESCAPED}</th>" in confusion
    assert all("<script" not in svg for svg in _svgs(page) + _svgs(confusion))


def test_chromium_shows_user_text_as_text(tmp_path):
    # A script that would show itself (an alert would hold headless Chromium until the timeout).
    hostile = "<script>document.title=1</script>&co"
    escaped = "&lt;script&gt;document.title=1&lt;/script&gt;&amp;co"
    page = tmp_path / "report.html"
    page.write_text(report.render(_hostile_data(text=hostile)))
    parsed = browser.dom(str(page), str(tmp_path))
    # One script element (the JSON data), the rest of the page after it, the markup as text.
    assert len(re.findall(r"<script\b", parsed)) == 1, parsed[:3000]
    assert "<title>keras-tfx run-20260101-000000-1</title>" in parsed
    assert '<h2 id="data">The data</h2>' in parsed
    assert f"<td><b>fare{escaped}</b></td>" in parsed
    assert f"<li class=\"fail\">[eval] fare{escaped}: unexpected value {escaped}</li>" in parsed

    # The check can fail: the same markup unescaped is an element for Chromium, and runs.
    control = tmp_path / "control.html"
    control.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body><p>{hostile}</p></body></html>")
    parsed = browser.dom(str(control), str(tmp_path))
    assert len(re.findall(r"<script\b", parsed)) == 1 and "<title>1</title>" in parsed, parsed


SERVING_CHECK_PASSED = {"blessed": 1, "reason": "", "load_seconds": 1.25, "warmup_requests": 4,
                        "serving_default_p50_ms_batch_1": 2.5, "serving_default_p99_ms_batch_1": 4.0,
                        "serving_default_p50_ms_batch_100": 7.5, "serving_default_p99_ms_batch_100": 9.0,
                        "serving_raw_p50_ms_batch_1": 2.0, "serving_raw_p99_ms_batch_1": 3.0,
                        "serving_raw_p50_ms_batch_100": 6.0, "serving_raw_p99_ms_batch_100": 8.0}


def test_the_serving_check_shows_its_load_time_and_latencies():
    summary = run_summary(blessed=True, checks=[], pushed=True, pushed_path="/out/serving_model/17",
                          serving_check=dict(SERVING_CHECK_PASSED))
    page = report.render(_data(summary))
    facts = _facts(page)["serving_check"]
    assert facts["passed"] is True and facts["load_seconds"] == 1.25
    assert {(l["signature"], l["batch"]): (l["p50_ms"], l["p99_ms"]) for l in facts["latencies"]} == {
        ("serving_default", 1): (2.5, 4.0), ("serving_default", 100): (7.5, 9.0),
        ("serving_raw", 1): (2.0, 3.0), ("serving_raw", 100): (6.0, 8.0)}
    assert "loaded in 1.25 s" in page and "<td class=\"num\">7.50</td>" in page
    line = terminal.serving_check_line(summary)
    assert line == ("serving check: passed: loaded in 1.2 s in a fresh TensorFlow process, 4 warm-up requests "
                    "answered through both signatures; p50/p99 2.5/4.0 ms at batch 1, 7.5/9.0 ms at batch 100")


def test_a_failed_serving_check_says_why_nothing_was_pushed():
    reason = "the model calls tf.py_function (layer 'clean<&>'): a SavedModel cannot carry Python code"
    summary = run_summary(blessed=True, checks=[], serving_check={"blessed": 0, "reason": reason})
    page = report.render(_data(summary))
    assert "nothing pushed: the model failed the serving check" in page
    assert "layer &#39;clean&lt;&amp;&gt;&#39;" in page and "clean<&>" not in page  # the reason is escaped
    assert _facts(page)["serving_check"] == {"passed": False, "reason": reason, "load_seconds": None,
                                             "requests": None, "latencies": []}
    text = terminal.format_summary(summary, 1.0)
    assert f"serving check: failed: {reason}" in text
    assert "pushed: nothing (the model failed the serving check)" in text
    assert "serving check" not in terminal.format_summary(run_summary(), 1.0)  # not run: not mentioned
