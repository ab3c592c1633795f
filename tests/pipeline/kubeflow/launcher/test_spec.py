"""The spec's checks before anything runs: names that could be paths, and open-source KFP 2.x's
rules, each refused naming the rule and its KFP backend source."""
from __future__ import annotations

import copy
import json

import pytest

from pipeline import config as config_lib
from pipeline.kubeflow import targets
from pipeline.kubeflow.launcher import spec as spec_lib
from pipeline.kubeflow.launcher.run import prepare_run
from pipeline.kubeflow.launcher.spec import SpecError
from pipeline.kubeflow.launcher.values import LEGACY_FORM
from tests.pipeline.kubeflow.launcher.specs import kfp2_spec, kfp2_spec_file


@pytest.mark.parametrize("bad", ["../evil", "/abs", "a/b", ".."])
def test_task_and_output_names_that_could_be_paths_are_refused(compiled_job, bad):
    job = copy.deepcopy(compiled_job)
    spec_lib.check_supported(job)  # as compiled: accepted
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    tasks[bad] = tasks.pop(config_lib.EXAMPLE_GEN)
    with pytest.raises(SpecError, match="cannot be a folder name"):
        spec_lib.check_supported(job)
    job = copy.deepcopy(compiled_job)
    for component in job["pipelineSpec"]["components"].values():
        outputs = component.get("outputDefinitions", {}).get("artifacts")
        if outputs:
            outputs[bad] = outputs.pop(next(iter(outputs)))
            break
    with pytest.raises(SpecError, match="output name"):
        spec_lib.check_supported(job)


# ---------------------------------------------------------------- the kfp2 backend's rules


def test_a_vertex_form_spec_with_a_resolver_is_refused_by_kfp2_rules_naming_each_rule_and_source(
        resolver_spec_file, tmp_path):
    spec_file = resolver_spec_file
    root = tmp_path / "root"
    with pytest.raises(SpecError) as refused:
        prepare_run(spec_file, str(root), backend=targets.KFP2)
    message = str(refused.value)
    assert "breaks open-source KFP 2.x's rules" in message
    for rule, (_, source) in spec_lib.KFP_RULES.items():
        if rule != "parameter-values":
            assert f"rule {rule}:" in message and source in message, rule
    assert "task Blessing-resolver is a resolver executor" in message
    assert "backend/src/v2/compiler/visitor.go:126-134" in message and spec_lib.KFP_SOURCE in message
    assert "parameter data_root: no parameterType (type: STRING)" in message
    assert "runtimeValue.constantValue" in message
    assert not root.exists()
    # The same spec runs by Vertex's rules (its default), and the kfp2 form cannot be forced on it there.
    assert prepare_run(spec_file, str(root)).backend == targets.VERTEX
    with pytest.raises(SpecError, match="sends parameters only as parameterValues"):
        prepare_run(kfp2_spec_file(tmp_path), str(root), form=LEGACY_FORM)


@pytest.mark.parametrize("break_it, rule", [
    (lambda s: s["components"]["Show"]["inputDefinitions"]["parameters"]["label"].pop("parameterType"),
     "parameter-type"),
    (lambda s: s["root"]["dag"]["tasks"]["Show"]["inputs"]["parameters"].update(
        label={"runtimeValue": {"constantValue": {"stringValue": "x"}}}), "constant"),
    (lambda s: s["deploymentSpec"]["executors"].update(
        Show_executor={"resolver": {"outputArtifactQueries": {}}}), "container-or-importer"),
    (lambda s: s.update(schemaVersion="2.0.0"), "pipeline-spec"),
])
def test_each_kfp2_rule_alone_refuses_the_spec(tmp_path, break_it, rule):
    spec = kfp2_spec(tmp_path)
    break_it(spec)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(SpecError) as refused:
        prepare_run(str(path), str(tmp_path / "root"))
    assert [line.split(":")[0].strip() for line in str(refused.value).splitlines() if "rule " in line] == [
        f"rule {rule}"]
