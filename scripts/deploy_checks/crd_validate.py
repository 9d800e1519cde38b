"""Validates HrConnectorJobs against our own CRD's openAPIV3Schema, as the API server would.

kubernetes-validate knows only built-in kinds, so every HrConnectorJob in examples/, in the
rendered chart and in the Argo CD test data goes through this instead:

- the CRD's structural schema is turned into JSON Schema: `nullable` allows null,
  `x-kubernetes-int-or-string` allows integer or string, `x-kubernetes-preserve-unknown-fields`
  keeps unknown fields; every other object rejects fields it does not declare (the API server
  would prune them silently; here that is an error, as with `kubectl apply --validate=strict`);
- `x-kubernetes-validations` rules are evaluated by hand: the one rule the CRD has today
  ("exactly one of configMap, secret or persistentVolumeClaim") is implemented below; any other
  rule fails the check until it is implemented here, so a new rule is never skipped silently;
- apiVersion must be a served version of the CRD; metadata needs a name.

usage: python crd_validate.py CRD.yaml [--expect-invalid] FILE...
Every YAML document of kind HrConnectorJob in FILEs is checked; other kinds are ignored.
With --expect-invalid every file must hold at least one HrConnectorJob and each must be rejected.
"""

import copy
import re
import sys
from pathlib import Path

import yaml
from jsonschema import Draft7Validator

# The one shape of CEL rule the CRD uses: "exactly one of these fields" (sources, credentials).
EXACTLY_ONE_RULE = re.compile(r"^\[((?:has\(self\.\w+\)(?:, )?)+)\]\.filter\(x, x\)\.size\(\) == 1$")


def exactly_one_fields(expr: str) -> tuple[str, ...] | None:
    """The fields of an exactly-one rule, or None for any other rule."""
    m = EXACTLY_ONE_RULE.match(expr)
    return tuple(re.findall(r"has\(self\.(\w+)\)", m.group(1))) if m else None


def to_json_schema(node: dict) -> dict:
    """Structural OpenAPI v3 schema (Kubernetes dialect) -> JSON Schema draft 7."""
    node = copy.deepcopy(node)
    for key in ("description", "default", "example", "format", "title"):
        node.pop(key, None)
    node.pop("x-kubernetes-validations", None)
    nullable = node.pop("nullable", False)
    int_or_string = node.pop("x-kubernetes-int-or-string", False)
    preserve = node.pop("x-kubernetes-preserve-unknown-fields", False)
    for key in ("x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
                "x-kubernetes-embedded-resource"):
        node.pop(key, None)
    if "properties" in node:
        node["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items()}
        if not preserve and "additionalProperties" not in node:
            node["additionalProperties"] = False
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = to_json_schema(node["additionalProperties"])
    if "items" in node:
        node["items"] = to_json_schema(node["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            node[key] = [to_json_schema(s) for s in node[key]]
    if "not" in node:
        node["not"] = to_json_schema(node["not"])
    if int_or_string:
        node.pop("type", None)
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if nullable and "type" in node:
        node["type"] = [node["type"], "null"]
    elif nullable and int_or_string:
        node["anyOf"].append({"type": "null"})
    return node


def cel_errors(schema: dict, value, path: str) -> list[str]:
    """Evaluates the x-kubernetes-validations rules of schema and its children on value."""
    errors = []
    if value is None:
        return errors
    for rule in schema.get("x-kubernetes-validations", []):
        expr = rule["rule"]
        fields = exactly_one_fields(expr)
        if fields is not None:
            # has() is true for a field that is present; a null counts as absent here.
            count = sum(
                1 for k in fields
                if isinstance(value, dict) and value.get(k) is not None
            )
            if count != 1:
                errors.append(f"{path or '.'}: {rule.get('message', expr)} (found {count})")
        else:
            errors.append(f"{path or '.'}: CEL rule not implemented by this validator: {expr}")
    if isinstance(value, dict):
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                errors.extend(cel_errors(sub, value[k], f"{path}.{k}"))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors.extend(cel_errors(schema["items"], item, f"{path}[{i}]"))
    return errors


class CrdValidator:
    def __init__(self, crd_path: Path):
        crd = yaml.safe_load(crd_path.read_text())
        spec = crd["spec"]
        self.group, self.kind = spec["group"], spec["names"]["kind"]
        self.versions = {}
        for v in spec["versions"]:
            if not v.get("served"):
                continue
            raw = v["schema"]["openAPIV3Schema"]
            js = to_json_schema(raw)
            # The API server handles these itself.
            js["properties"].update({
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "minLength": 1}},
                },
            })
            Draft7Validator.check_schema(js)
            self.versions[f"{self.group}/{v['name']}"] = (raw, Draft7Validator(js))

    def errors(self, obj: dict) -> list[str]:
        api_version = obj.get("apiVersion")
        if api_version not in self.versions:
            return [f"apiVersion {api_version!r} is not a served version of {self.kind}"]
        raw, validator = self.versions[api_version]
        found = [
            f"{'.' + '.'.join(str(p) for p in e.absolute_path) if e.absolute_path else '.'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
        ]
        return found + cel_errors(raw, obj, "")


def documents(path: Path):
    for doc in yaml.safe_load_all(path.read_text()):
        if isinstance(doc, dict):
            if doc.get("kind") == "List":
                yield from doc.get("items", [])
            else:
                yield doc


def main(argv: list[str]) -> int:
    crd_path, rest = Path(argv[0]), argv[1:]
    expect_invalid = "--expect-invalid" in rest
    files = [Path(a) for a in rest if a != "--expect-invalid"]
    validator = CrdValidator(crd_path)
    passed = failed = 0
    for f in files:
        jobs = [d for d in documents(f) if d.get("kind") == validator.kind]
        if expect_invalid and not jobs:
            print(f"  FAIL {f}: no {validator.kind} in it")
            failed += 1
        for job in jobs:
            name = f"{f}:{job.get('metadata', {}).get('name')}"
            errs = validator.errors(job)
            if expect_invalid:
                if errs:
                    passed += 1
                    print(f"  ok   {name} rejected: {errs[0]}")
                else:
                    failed += 1
                    print(f"  FAIL {name}: accepted, but it is invalid")
            elif errs:
                failed += 1
                print(f"  FAIL {name}:")
                for e in errs:
                    print(f"         {e}")
            else:
                passed += 1
                print(f"  ok   {name}")
    what = "rejected as expected" if expect_invalid else "valid"
    print(f"crd schema ({what}): {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
