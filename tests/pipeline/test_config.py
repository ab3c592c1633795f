import subprocess
import sys

import pytest

from pipeline import config as config_lib
from pipeline.config import ConfigError, PipelineConfig


@pytest.mark.parametrize("changes, words", [
    ({"train_steps": 0}, "--train-steps must be a whole number > 0"),
    ({"eval_steps": -1}, "--eval-steps must be a whole number >= 0"),
    ({"min_accuracy": 1.5}, "--min-accuracy must be between 0 and 1"),
    ({"max_accuracy_drop": -0.1}, "--max-accuracy-drop must be between 0 and 1"),
    ({"pipeline_name": "../evil"}, "pipeline name '../evil'"),
    ({"label": " "}, "--label must name the label column"),
])
def test_out_of_bounds_settings_are_refused_with_the_option_name(changes, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        PipelineConfig(**changes)


def test_paths_are_checked_before_any_run(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder"):
        PipelineConfig(data_root=str(tmp_path / "nope")).check_paths()
    with pytest.raises(ConfigError, match="holds no .csv file"):
        PipelineConfig(data_root=str(tmp_path)).check_paths()
    (tmp_path / "a.csv").write_text("x\n1\n")
    with pytest.raises(ConfigError, match="infer-schema"):
        PipelineConfig(data_root=str(tmp_path), schema_path=str(tmp_path / "s.pbtxt")).check_paths()


def test_output_paths_live_under_the_output_dir(tmp_path):
    config = config_lib.absolute(PipelineConfig(output_dir="out"))
    for path in (config.pipeline_root, config.metadata_path, config.serving_dir):
        assert path.startswith(config.output_dir + "/")


def test_the_config_imports_nothing_of_the_components():
    """Layering: the pipeline's settings know no component; the CLI checks what components decide."""
    code = ("import sys, pipeline.config; "
            "loaded = [m for m in sys.modules if m.split('.')[0] in ('components', 'tensorflow')]; "
            "assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code], cwd=config_lib.PROJECT_ROOT, check=True, timeout=60)
