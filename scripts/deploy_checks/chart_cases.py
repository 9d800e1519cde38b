"""Render tests of single chart values (scripts/check-deploy.sh renders each case with Helm 3 and 4).

usage: python chart_cases.py CASE RENDERED.yaml [ARG...]
  crd GENERATED_CRD.yaml       the default: the CRD is templated, helm.sh/resource-policy: keep,
                               and equals the generated one but for its labels and annotation
  crd-no-keep GENERATED.yaml   crds.keep=false: the same CRD without the keep annotation
  crd-off                      crds.enabled=false: no CRD
  openshift-off                openshift=false (default): uid, gid and fsGroup 65532, no --openshift
  openshift-on DEFAULT.yaml    openshift=true: no runAsUser, runAsGroup or fsGroup anywhere in the
                               operator's pod, --openshift once, the rest of the restricted
                               settings, and nothing else differs from DEFAULT.yaml's Deployment
"""

import copy

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


UID_FIELDS = ("runAsUser", "runAsGroup", "fsGroup")


def deployment(docs):
    (d,) = kinds(docs, "Deployment")
    return d


def pod_and_container(dep):
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    return pod, c


def case_openshift_off(docs, expect):
    pod, c = pod_and_container(deployment(docs))
    psc, sc = pod.get("securityContext", {}), c.get("securityContext", {})
    expect({k: psc.get(k) for k in UID_FIELDS} == dict.fromkeys(UID_FIELDS, 65532),
           f"pod runAsUser/runAsGroup/fsGroup 65532: {psc}")
    expect(sc.get("runAsUser") == 65532 and sc.get("runAsGroup") == 65532, f"container uid/gid 65532: {sc}")
    expect("--openshift" not in c["args"], f"no --openshift by default (the e2e suite runs these args): {c['args']}")


def case_openshift_on(docs, expect, default_path):
    dep = deployment(docs)
    pod, c = pod_and_container(dep)
    psc, sc = pod.get("securityContext", {}), c.get("securityContext", {})
    for where, ctx in (("pod", psc), ("container", sc)):
        present = [k for k in UID_FIELDS if k in ctx]
        expect(not present, f"{where} securityContext sets {present} (OpenShift assigns them)")
        expect(ctx.get("runAsNonRoot") is True, f"{where} runAsNonRoot: true")
        expect(ctx.get("seccompProfile") == {"type": "RuntimeDefault"}, f"{where} seccomp RuntimeDefault")
    expect(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
    expect(sc.get("capabilities") == {"drop": ["ALL"]}, f"capabilities drop ALL: {sc.get('capabilities')}")
    expect(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem: true")
    expect(sc.get("privileged") is False, "privileged: false")
    expect(c["args"].count("--openshift") == 1, f"--openshift once: {c['args']}")
    # Nothing else differs from the default rendering.
    base = deployment(load(default_path))
    mine = copy.deepcopy(dep)
    bpod, bc = pod_and_container(base)
    mpod, mc = pod_and_container(mine)
    for ctx in (bpod["securityContext"], bc["securityContext"]):
        for k in UID_FIELDS:
            ctx.pop(k, None)
    mc["args"] = [a for a in mc["args"] if a != "--openshift"]
    expect(mine == base, "the Deployment is the default one but for the uid fields and --openshift")


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
    elif case == "openshift-off":
        case_openshift_off(docs, expect)
    elif case == "openshift-on":
        case_openshift_on(docs, expect, args[0])
    else:
        print(f"unknown case {case}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"  FAIL {p}")
    print(f"chart case {case}: {'failed' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
