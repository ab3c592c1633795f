"""TFX's own ExampleValidator executor tests, from the installed wheel, run against the strict one.

The strict validator keeps the stock contract (the same anomalies artifact, blessing property,
executor output and alerts) with one deliberate difference: where the stock executor records
anomalies and lets the run go on, it records them and then stops the run (DataAnomaliesError).
"""
import pytest

from tests.components.stock_contract import failures, run_suite

STOCK_TESTS = "tfx.components.example_validator.executor_test"
OURS = "components.strict_example_validator.executor"
# Stock tests whose data has anomalies: the stock executor returns, ours stops the run.
STOPS_ON_ANOMALIES = {"ExecutorTest.testDoCustom_validation"}


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """The `testdata/` the stock tests read: statistics of train/eval/test splits with a one-value
    string feature `company`, and a schema inferred from them (so no anomalies without a custom
    validation)."""
    import pandas as pd
    import tensorflow_data_validation as tfdv
    from tfx.utils import io_utils

    root = tmp_path_factory.mktemp("stock_example_validator")
    testdata = root / "components" / "testdata"
    frame = pd.DataFrame({"company": ["Acme", "Globex", "Initech", "Acme"] * 5,
                          "fare": [1.5, 2.5, 3.0, 4.0] * 5})
    stats = tfdv.generate_statistics_from_dataframe(frame)
    for split in ("train", "eval", "test"):
        io_utils.write_bytes_file(str(testdata / "statistics_gen" / f"Split-{split}" / "FeatureStats.pb"),
                                  stats.SerializeToString())
    io_utils.write_pbtxt_file(str(testdata / "schema_gen" / "schema.pbtxt"), tfdv.infer_schema(stats))
    (root / "components" / "example_validator").mkdir(parents=True)
    return str(root / "components" / "example_validator" / "executor_test.py")


@pytest.fixture(scope="module")
def outcomes(stand_in):
    """(stock outcomes, our outcomes), from one run of the stock suite."""
    return run_suite(STOCK_TESTS, stand_in, OURS)


def test_the_stand_in_data_lets_the_whole_stock_suite_pass_against_the_stock_validator(outcomes):
    stock_outcomes, _ = outcomes
    passed = {name for name, o in stock_outcomes.items() if o["outcome"] == "passed"}
    assert {"ExecutorTest.test_create_anomalies_alerts", "ExecutorTest.testDoNo_anomalies"} | STOPS_ON_ANOMALIES <= passed
    assert all(o["outcome"] in ("passed", "skipped") for o in stock_outcomes.values()), failures(stock_outcomes)


def test_every_stock_validator_test_passes_for_the_strict_one_except_that_anomalies_stop_the_run(outcomes):
    stock_outcomes, our_outcomes = outcomes
    passing = {name for name, o in stock_outcomes.items() if o["outcome"] == "passed"}
    broken = {name: our_outcomes.get(name, {"outcome": "missing", "detail": ""})
              for name in passing - STOPS_ON_ANOMALIES if our_outcomes.get(name, {}).get("outcome") != "passed"}
    assert not broken, failures(broken)
    for name in STOPS_ON_ANOMALIES:
        outcome = our_outcomes[name]
        assert outcome["outcome"] == "error", outcome
        assert "DataAnomaliesError" in outcome["detail"] and "feature 'company'" in outcome["detail"], outcome["detail"]
