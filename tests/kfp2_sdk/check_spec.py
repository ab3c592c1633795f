"""Run inside .venv-kfp2 (the KFP 2.x SDK): loads a compiled spec as a component and compiles a
KFP 2 pipeline that uses it as a sub-pipeline. Prints one JSON line: what loaded and compiled.

usage: python check_spec.py SPEC OUTPUT_YAML
"""
import json
import sys

from kfp import compiler, components, dsl

spec_path, output = sys.argv[1], sys.argv[2]
result = {"kfp": __import__("kfp").__version__}
try:
    component = components.load_component_from_file(spec_path)
except Exception as exc:  # the caller checks which error, for a spec that must not load
    result["load_error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(result))
    sys.exit(0)
result["name"] = component.name
result["inputs"] = {name: spec.type for name, spec in component.component_spec.inputs.items()}


@dsl.pipeline(name="outer")
def outer(train_steps: int = 7):
    component(train_steps=train_steps, min_accuracy=0.5)


compiler.Compiler().compile(outer, output)
with open(output) as f:
    import yaml
    compiled = yaml.safe_load(f)
result["compiled_tasks"] = sorted(compiled["root"]["dag"]["tasks"])
result["compiled_components"] = sorted(compiled["components"])
print(json.dumps(result))
