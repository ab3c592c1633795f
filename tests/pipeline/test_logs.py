import os
import io
import logging

from components.latest_pushed_model import NO_BASELINE_LOG
from components.trainer.constants import PROGRESS_LOGGER
from pipeline import logs
from pipeline.config import LATEST_PUSHED_MODEL


def _record(message, *args):
    return logging.LogRecord("absl", logging.INFO, __file__, 1, message, args, None)


def test_progress_prints_one_line_per_component_with_its_state():
    stream = io.StringIO()
    progress = logs.Progress(stream, total=3)
    for record in [_record("Component %s is running.", "CsvExampleGen"),
                   _record("Component %s is finished.", "CsvExampleGen"),
                   _record("Component %s is running.", "Trainer"),
                   _record("A cached execution %d is used.", 4),
                   _record("Component %s is finished.", "Trainer"),
                   _record("Component %s is running.", "Pusher")]:
        progress.emit(record)
    progress.fail()
    lines = stream.getvalue().splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["[1/3]", "CsvExampleGen", "ran"], ["[2/3]", "Trainer", "cached"], ["[3/3]", "Pusher", "failed"]]


def test_captured_sends_native_output_to_the_log_file(tmp_path):
    import os
    path = str(tmp_path / "logs" / "run.log")
    with logs.captured(path):
        os.write(2, b"native noise\n")
        os.write(1, b"stdout noise\n")
    text = open(path).read()
    assert "native noise" in text and "stdout noise" in text


def test_progress_shows_training_lines_and_the_no_baseline_note():
    stream = io.StringIO()
    progress = logs.Progress(stream, total=2)
    training = logging.LogRecord(PROGRESS_LOGGER, logging.INFO, __file__, 1,
                                 "step %d/%d  loss %s  %.0f examples/s", (20, 100, "0.5000", 1234.0), None)
    for record in [_record("Component %s is running.", "Trainer"), training,
                   _record("Component %s is finished.", "Trainer"),
                   _record("Component %s is running.", LATEST_PUSHED_MODEL),
                   _record(NO_BASELINE_LOG, "/srv/serving_model"),
                   _record("Component %s is finished.", LATEST_PUSHED_MODEL)]:
        progress.emit(record)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "      Trainer: step 20/100  loss 0.5000  1234 examples/s"
    assert lines[1].split()[:3] == ["[1/2]", "Trainer", "ran"]
    assert lines[2].split()[1] == LATEST_PUSHED_MODEL
    assert lines[3].strip() == logs.NO_BASELINE


def test_no_note_when_the_baseline_step_finds_a_pushed_model():
    stream = io.StringIO()
    progress = logs.Progress(stream, total=1)
    for record in [_record("Component %s is running.", LATEST_PUSHED_MODEL),
                   _record("LatestPushedModel: baseline is version %s pushed to %s (Trainer model %s)",
                           "17", "/srv/serving_model/17", "/root/Trainer/model/5"),
                   _record("Component %s is finished.", LATEST_PUSHED_MODEL)]:
        progress.emit(record)
    assert logs.NO_BASELINE not in stream.getvalue()


def test_the_trainers_progress_hook_reaches_the_terminal_through_the_clis_handler(capfd):
    """The Trainer's real hook, in a real (tiny) training session, under the handler the CLI
    installs: its lines reach file descriptor 1, every tenth of the steps, with the loss."""
    import tensorflow as tf
    from components.trainer import hooks

    with tf.Graph().as_default():
        step = tf.compat.v1.train.get_or_create_global_step()
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.LOSSES, tf.constant(0.25))
        train = tf.compat.v1.assign_add(step, 1)
        with logs.progress(total=1):
            hook = hooks.TrainingProgressHook(train_steps=20, batch_size=4)
            with tf.compat.v1.train.MonitoredSession(hooks=[hook]) as session:
                for _ in range(20):
                    session.run(train)
    lines = [line.split() for line in capfd.readouterr().out.splitlines() if "Trainer: step" in line]
    assert [words[2] for words in lines] == [f"{s}/20" for s in range(2, 21, 2)], lines
    assert all(words[3:5] == ["loss", "0.2500"] and words[6] == "examples/s" for words in lines), lines


def test_with_verbose_training_lines_are_left_to_the_log_handlers_not_printed_twice():
    training = logging.getLogger(PROGRESS_LOGGER)
    with logs.progress(total=1) as handler:
        assert handler in training.handlers
    with logs.progress(total=1, show_training=False) as handler:
        assert handler not in training.handlers and handler in logging.getLogger("absl").handlers
    assert handler not in logging.getLogger("absl").handlers  # removed on the way out


def test_the_serving_check_result_is_a_note_under_its_line():
    from components.serving_check import SERVING_CHECK_LOG
    from pipeline.config import SERVING_CHECK
    stream = io.StringIO()
    progress = logs.Progress(stream, total=9)
    for record in [_record("Component %s is running.", SERVING_CHECK),
                   _record(SERVING_CHECK_LOG, "failed: the model calls tf.py_function (layer 'lambda'): ..."),
                   _record("Component %s is finished.", SERVING_CHECK)]:
        progress.emit(record)
    lines = stream.getvalue().splitlines()
    assert lines[0].split()[:3] == ["[1/9]", SERVING_CHECK, "ran"]
    assert lines[1] == "      serving check: failed: the model calls tf.py_function (layer 'lambda'): ..."


def test_the_run_log_holds_every_line_once_each_with_its_time(tmp_path):
    """As in a CLI run: TensorFlow and Beam are imported (TF's logger then has a handler of its
    own, and something configures the root logger), then TF, absl and plain Python logging write
    inside `captured`."""
    import re
    import subprocess
    import sys
    script = tmp_path / "write_logs.py"
    log = tmp_path / "run.log"
    script.write_text(
        "import logging, sys\n"
        "sys.path.insert(0, %r)\n"
        "import tensorflow as tf\n"
        "import apache_beam\n"
        "logging.basicConfig()\n"  # what a library may do; the root then has a handler of its own
        "from absl import logging as absl_logging\n"
        "from pipeline import logs\n"
        "with logs.captured(%r):\n"
        "    tf.compat.v1.logging.info('tf line %%d', 1)\n"
        "    absl_logging.info('absl line %%d', 2)\n"
        "    logging.getLogger('keras_tfx.training').info('training line %%d', 3)\n"
        "    logging.getLogger('apache_beam').warning('beam line %%d', 4)\n"
        "tf.compat.v1.logging.warning('after the capture')\n" % (os.getcwd(), str(log)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = log.read_text().splitlines()
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (INFO|WARNING) [\w.]+: ")
    for text in ("tf line 1", "absl line 2", "training line 3", "beam line 4"):
        found = [line for line in lines if line.endswith(text)]
        assert len(found) == 1, (text, lines)
        assert stamp.match(found[0]), found[0]
    assert "after the capture" not in log.read_text()
    # After the capture, logging is as it was: TF's line reaches the terminal's stderr again.
    assert "after the capture" in proc.stderr


def test_progress_shows_what_the_metrics_are_sliced_by():
    stream = io.StringIO()
    progress = logs.Progress(stream, total=1)
    progress.emit(_record(logs.SLICES_LOG, "eval metrics sliced by language"))
    assert stream.getvalue() == "      eval metrics sliced by language\n"


def test_log_records_go_to_the_log_even_when_sys_stderr_was_replaced(tmp_path, monkeypatch):
    """click's CliRunner swaps sys.stderr for its own buffer; the run's records still belong in the log."""
    replaced = io.StringIO()
    monkeypatch.setattr("sys.stderr", replaced)
    path = tmp_path / "run.log"
    with logs.captured(str(path)):
        logging.getLogger("absl").info("a record for the log")
    assert "a record for the log" in path.read_text()
    assert "a record for the log" not in replaced.getvalue()
