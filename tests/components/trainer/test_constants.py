"""The exported model's names: importable without TensorFlow (the serving check and `serve`
read them), and spelled as the serving contract and TF Serving spell them."""
import subprocess
import sys

from components.trainer import constants
from pipeline import config as config_lib


def test_the_names_import_without_tensorflow():
    code = ("import sys, components.trainer.constants; "
            "heavy = [m for m in ('tensorflow', 'tfx', 'numpy') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=config_lib.PROJECT_ROOT, check=True, timeout=60)


def test_the_names_are_the_contracts():
    assert (constants.DEFAULT_SIGNATURE, constants.RAW_SIGNATURE) == ("serving_default", "serving_raw")
    assert (constants.PROBABILITIES, constants.CLASS_NAME, constants.CLASS_ID, constants.ALL_CLASSES) == (
        "probabilities", "class_name", "class_id", "all_classes")
    # TF Serving reads its warm-up file from exactly this place in a version folder.
    assert (constants.ASSETS_EXTRA, constants.WARMUP_FILE) == ("assets.extra", "tf_serving_warmup_requests")
    assert constants.MISSING_RAW_INT == -9223372036854775808 and constants.MISSING_RAW_STRING == ""
