import os
import subprocess
import sys

import pytest

from pipeline.local import run_lock


def test_second_holder_is_refused_and_the_lock_is_released_after(tmp_path):
    with run_lock.exclusive(str(tmp_path)):
        with pytest.raises(run_lock.RunInProgress, match=f"pid {os.getpid()}"):
            with run_lock.exclusive(str(tmp_path)):
                pass
    with run_lock.exclusive(str(tmp_path)):  # free again
        pass


def test_cli_run_on_a_busy_output_dir_exits_3_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    with run_lock.exclusive(str(out)):
        before = sorted(os.listdir(out))
        completed = subprocess.run([sys.executable, "-m", "pipeline", "run", "--output-dir", str(out)],
                                   capture_output=True, text=True, timeout=300)
        assert completed.returncode == 3, completed.stderr[-2000:]
        assert "another run is using" in completed.stderr and "nothing was changed" in completed.stderr
        assert sorted(os.listdir(out)) == before  # no log, no metadata, nothing
