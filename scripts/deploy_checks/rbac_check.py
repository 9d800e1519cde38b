"""The chart's RBAC equals `hrconnector rbac` (src/controller/rbac.rs), exactly.

usage: python rbac_check.py TABLE.yaml RENDERED.yaml [--watch-namespace NS[,NS...] ...]
                          --release-namespace NS

TABLE.yaml is the output of `hrconnector rbac`. Without --watch-namespace (clusterWide) the
rules of the rendered ClusterRole must be the table's rules: none missing, none extra. With it
only Roles are rendered, and in each watched namespace the rules are the table's without the
Lease rule, which is in the release namespace only (exactly once); no Role in any other
namespace. Always: no resourceNames or nonResourceURLs, no wildcards, every rule preceded by a
comment saying why, every role bound to the chart's ServiceAccount.
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
    ap.add_argument("--watch-namespace", action="append", default=[])
    ap.add_argument("--release-namespace")
    args = ap.parse_args()
    problems = []

    table = yaml.safe_load(open(args.table))
    want = Counter(norm(r) for r in table["rules"])
    text = open(args.rendered).read()
    docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    all_roles = [d for d in docs if d["kind"] in ("ClusterRole", "Role")]
    # People's roles aggregated into Kubernetes' view/edit/admin: checked on their own below.
    aggregated = [r for r in all_roles if any(
        k.startswith("rbac.authorization.k8s.io/aggregate-to-") for k in (r["metadata"].get("labels") or {}))]
    roles = [r for r in all_roles if r not in aggregated]
    bindings = [d for d in docs if d["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    got = Counter()
    by_ns: dict = {}
    for role in roles:
        ns = role["metadata"].get("namespace")
        for rule in role.get("rules") or []:
            try:
                key = norm(rule)
            except ValueError as e:
                problems.append(str(e))
                continue
            if any("*" in part for group in key for part in group):
                problems.append(f"wildcard in {role['kind']} {role['metadata']['name']}: {rule}")
            got[key] += 1
            by_ns.setdefault(ns, Counter())[key] += 1

    kinds = sorted({r["kind"] for r in roles})
    watched = [n for arg in args.watch_namespace for n in arg.split(",") if n]
    if watched:
        if kinds != ["Role"]:
            problems.append(f"with watched namespaces only Roles are expected, got {kinds}")
        lease = Counter({k: n for k, n in want.items() if "leases" in k[1]})
        jobs = want - lease
        for ns in sorted(set(watched) | {args.release_namespace}):
            expect = (jobs if ns in watched else Counter()) + (lease if ns == args.release_namespace else Counter())
            have = by_ns.get(ns, Counter())
            for key in sorted(expect - have):
                problems.append(f"missing in namespace {ns}: {key}")
            for key in sorted(have - expect):
                problems.append(f"granted beyond hrconnector rbac in namespace {ns}: {key}")
        for ns in sorted(set(by_ns) - set(watched) - {args.release_namespace}):
            problems.append(f"Role in namespace {ns}, which is not watched: {dict(by_ns[ns])}")
    else:
        if kinds != ["ClusterRole"]:
            problems.append(f"clusterWide: one ClusterRole is expected, got {kinds}")
        for key in sorted(want - got):
            problems.append(f"missing: {key}")
        for key in sorted(got - want):
            problems.append(f"granted beyond hrconnector rbac: {key}")

    for role in aggregated:
        name = role["metadata"]["name"]
        labels = role["metadata"].get("labels") or {}
        if role["kind"] != "ClusterRole":
            problems.append(f"aggregation label on {role['kind']} {name}")
        for rule in role.get("rules") or []:
            if rule.get("apiGroups") != ["hrconnector.io"]:
                problems.append(f"aggregated {name} reaches beyond hrconnector.io: {rule}")
            if any("*" in v for v in rule.get("verbs", []) + rule.get("resources", [])):
                problems.append(f"wildcard in aggregated {name}: {rule}")
            writes = set(rule.get("verbs", [])) - {"get", "list", "watch"}
            if labels.get("rbac.authorization.k8s.io/aggregate-to-view") == "true" and writes:
                problems.append(f"aggregated to view, yet {name} may {sorted(writes)}")
            if writes and any(r.endswith("/status") for r in rule.get("resources", [])):
                problems.append(f"aggregated {name} may write status, which is the operator's: {rule}")
        if any(b["roleRef"]["name"] == name for b in bindings):
            problems.append(f"aggregated {name} is bound by the chart")

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
