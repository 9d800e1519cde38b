"""The chart's RBAC equals `hrconnector rbac` (src/controller/rbac.rs), exactly.

usage: python rbac_check.py TABLE.yaml RENDERED.yaml [--watch-namespace NS --release-namespace NS]

TABLE.yaml is the output of `hrconnector rbac`. The rules of every ClusterRole and Role in
RENDERED.yaml, taken together, must be the table's rules: none missing, none extra, no
resourceNames or nonResourceURLs, no wildcards. Also checked: every rule is preceded by a
comment saying why; without --watch-namespace only a ClusterRole (+ binding) is rendered; with
it only Roles, the HrConnectorJob rules in the watched namespace and the Lease rule in the
release namespace; every role is bound to the chart's ServiceAccount.
"""

import argparse
import re
import sys
from collections import Counter

import yaml


def norm(rule: dict) -> tuple:
    extra = set(rule) - {"apiGroups", "resources", "verbs"}
    if extra:
        raise ValueError(f"rule has {sorted(extra)}: {rule}")
    return (
        tuple(sorted(rule.get("apiGroups", []))),
        tuple(sorted(rule.get("resources", []))),
        tuple(sorted(rule.get("verbs", []))),
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("rendered")
    ap.add_argument("--watch-namespace")
    ap.add_argument("--release-namespace")
    args = ap.parse_args()
    problems = []

    table = yaml.safe_load(open(args.table))
    want = Counter(norm(r) for r in table["rules"])
    text = open(args.rendered).read()
    docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    roles = [d for d in docs if d["kind"] in ("ClusterRole", "Role")]
    bindings = [d for d in docs if d["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    got = Counter()
    for role in roles:
        for rule in role.get("rules") or []:
            try:
                key = norm(rule)
            except ValueError as e:
                problems.append(str(e))
                continue
            if any("*" in part for group in key for part in group):
                problems.append(f"wildcard in {role['kind']} {role['metadata']['name']}: {rule}")
            got[key] += 1
    for key in sorted(want - got):
        problems.append(f"missing: {key}")
    for key in sorted(got - want):
        problems.append(f"granted beyond hrconnector rbac: {key}")

    kinds = sorted({r["kind"] for r in roles})
    if args.watch_namespace:
        if kinds != ["Role"]:
            problems.append(f"with watchNamespace only Roles are expected, got {kinds}")
        for role in roles:
            ns = role["metadata"].get("namespace")
            for rule in role.get("rules") or []:
                lease = "leases" in rule["resources"]
                expect = args.release_namespace if lease else args.watch_namespace
                if ns != expect:
                    problems.append(f"{rule['resources']} granted in namespace {ns}, expected {expect}")
    elif kinds != ["ClusterRole"]:
        problems.append(f"by default one ClusterRole is expected, got {kinds}")

    for role in roles:
        name, ns = role["metadata"]["name"], role["metadata"].get("namespace")
        bound = [
            b for b in bindings
            if b["roleRef"]["kind"] == role["kind"] and b["roleRef"]["name"] == name
            and b["metadata"].get("namespace") == ns
        ]
        if not bound:
            problems.append(f"{role['kind']} {name} is not bound")
        for b in bound:
            subjects = [(s["kind"], s.get("namespace")) for s in b["subjects"]]
            if subjects != [("ServiceAccount", args.release_namespace)]:
                problems.append(f"{b['kind']} {b['metadata']['name']} binds {subjects}")

    # Every rule carries a comment that says why (the line before "- apiGroups:").
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^- apiGroups:", line) and (i == 0 or not lines[i - 1].lstrip().startswith("#")):
            problems.append(f"rule without a justifying comment: {line} {lines[i + 1].strip()}")

    for p in problems:
        print(f"  FAIL {p}")
    n = sum(got.values())
    print(f"rbac: {n} rules rendered, {sum(want.values())} in hrconnector rbac; "
          f"{0 if problems else 1} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
