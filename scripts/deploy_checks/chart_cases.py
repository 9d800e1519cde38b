"""Render tests of single chart values (scripts/check-deploy.sh renders each case with Helm 3 and 4).

usage: python chart_cases.py CASE RENDERED.yaml [ARG...]
  crd GENERATED_CRD.yaml       the default: the CRD is templated, helm.sh/resource-policy: keep,
                               and equals the generated one but for its labels and annotation
  crd-no-keep GENERATED.yaml   crds.keep=false: the same CRD without the keep annotation
  crd-off                      crds.enabled=false: no CRD
"""

import sys

import yaml

KEEP = {"helm.sh/resource-policy": "keep"}


def load(path):
    return [d for d in yaml.safe_load_all(open(path)) if isinstance(d, dict)]


def kinds(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def case_crd(docs, expect, generated, keep=True):
    crds = kinds(docs, "CustomResourceDefinition")
    expect(len(crds) == 1, f"exactly one CRD rendered: {len(crds)}")
    if not crds:
        return
    (crd,) = crds
    gen = yaml.safe_load(open(generated))
    meta = dict(crd["metadata"])
    labels = meta.pop("labels", {}) or {}
    annotations = meta.pop("annotations", None)
    expect(labels.get("app.kubernetes.io/managed-by") == "Helm" and "helm.sh/chart" in labels
           and "app.kubernetes.io/instance" in labels, f"the chart's labels on the CRD: {labels}")
    if keep:
        expect(annotations == KEEP, f"annotation helm.sh/resource-policy: keep (crds.keep): {annotations}")
    else:
        expect(not annotations, f"no annotation with crds.keep=false: {annotations}")
    expect(meta == gen["metadata"], f"CRD metadata is the generated one's plus labels/annotations: {meta}")
    rest = {k: v for k, v in crd.items() if k != "metadata"}
    expect(rest == {k: v for k, v in gen.items() if k != "metadata"},
           f"CRD apiVersion, kind and spec == {generated}")


def main() -> int:
    case, path, *args = sys.argv[1:]
    docs = load(path)
    problems = []

    def expect(cond, what):
        if not cond:
            problems.append(what)

    if case == "crd":
        case_crd(docs, expect, args[0])
    elif case == "crd-no-keep":
        case_crd(docs, expect, args[0], keep=False)
    elif case == "crd-off":
        expect(not kinds(docs, "CustomResourceDefinition"), "crds.enabled=false renders no CRD")
    else:
        print(f"unknown case {case}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"  FAIL {p}")
    print(f"chart case {case}: {'failed' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
