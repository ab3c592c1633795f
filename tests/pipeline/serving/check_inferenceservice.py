"""Run inside .venv-serving: reads an InferenceService manifest into KServe's own Python models
(kserve.V1beta1InferenceService and the kubernetes client's models it holds), refusing any field
they do not declare, and prints what it found as one JSON line."""
import json
import re
import sys

import kserve
import kubernetes.client
import yaml


def model_class(name):
    return getattr(kserve, name, None) or getattr(kubernetes.client, name)


def build(value, type_name, where):
    """`value` (parsed YAML) as the OpenAPI type `type_name`, e.g. 'V1beta1ModelSpec', 'list[V1Container]'."""
    if value is None:
        return None
    listed = re.fullmatch(r"[lL]ist\[(.+)\]", type_name)
    if listed:
        assert isinstance(value, list), f"{where}: expected a list"
        return [build(v, listed.group(1), f"{where}[{i}]") for i, v in enumerate(value)]
    mapped = re.fullmatch(r"[dD]ict[\[(]str, (.+)[\])]", type_name)
    if mapped:
        assert isinstance(value, dict), f"{where}: expected a mapping"
        return {k: build(v, mapped.group(1), f"{where}.{k}") for k, v in value.items()}
    if type_name in ("str", "int", "bool", "float", "object", "datetime"):
        if type_name == "str":
            assert isinstance(value, str), f"{where}: expected a string, got {value!r}"
        return value
    cls = model_class(type_name)
    assert isinstance(value, dict), f"{where}: expected a mapping for {type_name}"
    by_key = {key: attr for attr, key in cls.attribute_map.items()}
    unknown = sorted(set(value) - set(by_key))
    assert not unknown, f"{where}: {type_name} has no field {unknown} (fields: {sorted(by_key)})"
    return cls(**{by_key[k]: build(v, cls.openapi_types[by_key[k]], f"{where}.{k}") for k, v in value.items()})


def differences(got, want, where=""):
    """Paths where `got` (the models serialized again) differs from `want` (the manifest)."""
    if isinstance(got, dict) and isinstance(want, dict):
        found = []
        for key in sorted(set(got) | set(want)):
            path = f"{where}.{key}" if where else key
            if key not in want:
                found.append(f"{path}: added as {got[key]!r}")
            elif key not in got:
                found.append(f"{path}: dropped")
            else:
                found += differences(got[key], want[key], path)
        return found
    return [] if got == want else [f"{where}: {got!r} instead of {want!r}"]


with open(sys.argv[1]) as f:
    manifest = yaml.safe_load(f)
isvc = build(manifest, "V1beta1InferenceService", "InferenceService")
assert isinstance(isvc, kserve.V1beta1InferenceService)
round_trip = kserve.ApiClient().sanitize_for_serialization(isvc)
model = isvc.spec.predictor.model
print(json.dumps({"round_trip_differences": differences(round_trip, manifest), "api_version": isvc.api_version, "kind": isvc.kind,
                  "name": isvc.metadata.name, "model_format": model.model_format.name, "runtime": model.runtime,
                  "protocol": model.protocol_version, "storage_uri": model.storage_uri,
                  "constants": {"group": kserve.constants.KSERVE_GROUP, "version": kserve.constants.KSERVE_V1BETA1_VERSION,
                                "kind": kserve.constants.KSERVE_KIND_INFERENCESERVICE}}))
