import io
import logging

from pipeline import logs


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
