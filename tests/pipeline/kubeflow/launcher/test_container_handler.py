"""A container step served from the cache of an earlier run under the root, unless --no-cache."""
from __future__ import annotations

import json
import os

from pipeline.kubeflow.launcher.run import execute, prepare_run
from tests.pipeline.kubeflow.launcher.specs import kfp2_spec


def test_a_cached_step_is_taken_from_the_earlier_run_and_no_cache_runs_it_again(tmp_path):
    spec = kfp2_spec(tmp_path)
    show = spec["root"]["dag"]["tasks"]["Show"]
    show["cachingOptions"] = {"enableCache": True}
    del show["inputs"]["artifacts"]  # the imported artifact's name is new in each run: no cache hit
    path = tmp_path / "kfp2.json"
    path.write_text(json.dumps(spec))
    root = str(tmp_path / "root")
    first = prepare_run(str(path), root)
    assert execute(first)["Show"].state == "ran"
    second = prepare_run(str(path), root)
    cached = execute(second)["Show"]
    assert cached.state == "cached" and cached.cache_key == first.results["Show"].cache_key
    assert not os.path.exists(os.path.join(second.run_dir, "Show", "executor.json"))  # its command did not run
    third = prepare_run(str(path), root, use_cache=False)
    assert execute(third)["Show"].state == "ran"
