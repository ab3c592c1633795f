"""The CLI refuses bad options before anything runs (no TFX execution here)."""
import os

import pytest
from click.testing import CliRunner

from pipeline.__main__ import cli


@pytest.mark.parametrize("args, words", [
    (["--train-steps", "0"], "Invalid value for '--train-steps'"),
    (["--eval-steps", "-3"], "Invalid value for '--eval-steps'"),
    (["--min-accuracy", "1.5"], "Invalid value for '--min-accuracy'"),
    (["--hparam", "dropout"], "--hparam dropout: expected NAME=VALUE (no '=' in it), e.g. --hparam dropout=0.3"),
    (["--hparam", "dropout=__import__('os')"],
     "--hparam dropout=__import__('os'): dropout is a float hyperparameter; give a number, e.g. "
     "--hparam dropout=0.3"),
    (["--hparam", "learnin_rate=0.1"],
     "--hparam learnin_rate=0.1: learnin_rate is not a hyperparameter of the built-in model; known: "
     "batch_size, dropout, hidden_units, l2, learning_rate, max_embedding_dim, max_text_tokens, "
     "text_embedding_dim; a model of your own (--model MODULE:FUNCTION) takes any name"),
    (["--hparam", "train_steps=5e2"], "train_steps is not a hyperparameter of the built-in model"),
    (["--hparam", "batch_size=5e2"],
     "--hparam batch_size=5e2: batch_size is an integer hyperparameter; give a whole number, e.g. "
     "--hparam batch_size=128"),
    (["--hparam", "hidden_units=64"], "hidden_units is a list hyperparameter; give a JSON list, e.g. "
     "--hparam hidden_units=[128,64]"),
    (["--hparam", "dropout=0.1", "--hparam", "dropout=0.2"],
     "--hparam dropout=0.2: dropout is given twice (first as dropout=0.1)"),
    (["--hparam", "batch_size=0"], "--hparam batch_size must be a whole number in 1..1000000"),
    (["--model", "examples/text_classifier.py:build_model", "--hparam", "batch_size=many"],
     "--hparam batch_size=many: batch_size is an integer hyperparameter"),
    (["--model", "examples/text_classifier.py:build_model", "--input-map", "input_1"],
     "--input-map input_1: expected NAME=VALUE (no '=' in it), e.g. --input-map input_1=text"),
    (["--model", "examples/text_classifier.py:build_model", "--input-map", "input_1="],
     "--input-map input_1=: give the feature that feeds input_1"),
    (["--model", "examples/text_classifier.py:build_model", "--input-map", "=text"],
     "--input-map =text: NAME is empty"),
    (["--model", "examples/text_classifier.py:build_model", "--input-map", "a=text", "--input-map", "a=fare"],
     "--input-map a=fare: a is given twice (first as a=text); give each model input once"),
    (["--split", "2-1"], "--split '2-1': expected TRAIN:EVAL"),
    (["--split", "0:1"], "--split '0:1': expected TRAIN:EVAL"),
])
def test_bad_options_exit_2_with_the_option_named(tmp_path, args, words):
    result = CliRunner().invoke(cli, ["run", "--output-dir", str(tmp_path / "out")] + args)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not os.path.exists(tmp_path / "out")  # nothing was written


def test_compile_refuses_a_bad_hparam_with_the_same_message_as_run(tmp_path):
    result = CliRunner().invoke(cli, ["compile", "--target", "kfp2", "--output", str(tmp_path / "p.json"),
                                      "--image", "i:1", "--pipeline-root", "gs://b/r",
                                      "--hparam", "learning_rate=abc"])
    assert result.exit_code == 2, result.output
    assert ("--hparam learning_rate=abc: learning_rate is a float hyperparameter; give a number, e.g. "
            "--hparam learning_rate=0.001") in result.output
    assert not os.path.exists(tmp_path / "p.json")


def test_missing_data_root_and_schema_are_reported(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--data-root", str(tmp_path / "nope"),
                                      "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert f"--data-root {str(tmp_path / 'nope')!r} is not a folder" in result.output
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("x,y\n1,0\n")
    result = CliRunner().invoke(cli, ["run", "--data-root", str(tmp_path / "d"), "--schema",
                                      str(tmp_path / "s.pbtxt"), "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 1 and "infer-schema" in result.output


def test_infer_schema_warns_when_every_column_but_the_label_is_kept_out(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("row,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    result = CliRunner().invoke(cli, ["infer-schema", "--data-root", str(tmp_path / "d"), "--output",
                                      str(tmp_path / "s.pbtxt"), "--label", "y", "--output-dir", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "column 'row'" in result.stdout and "kept out of the model" in result.stdout
    assert "warning: every column besides the label 'y' is kept out" in result.stderr


def test_report_of_a_run_number_past_those_recorded_is_an_option_error(tmp_path):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    from pipeline import config as config_lib
    config = config_lib.absolute(config_lib.PipelineConfig(output_dir=str(tmp_path / "out")))
    os.makedirs(config.output_dir)
    connection = metadata_store_pb2.ConnectionConfig()  # a real, empty ML Metadata store
    connection.sqlite.filename_uri = config.metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    metadata_store.MetadataStore(connection)
    result = CliRunner().invoke(cli, ["report", "--output-dir", config.output_dir, "--run", "5"])
    assert result.exit_code == 2, result.output
    assert "--run 5: no run number 5" in result.stderr and "(0 runs recorded)" in result.stderr
    assert "pipeline runs --output-dir" in result.stderr
