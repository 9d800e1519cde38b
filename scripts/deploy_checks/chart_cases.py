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
  netpol direct|proxy|httpproxy FULLNAME RELEASE_NS [UPLOAD_NS...]
                               networkPolicy.enabled: the operator's policy (DNS, API server, and
                               443 to 0.0.0.0/0 - or with proxy.httpsProxy=http://proxy.agency.example:3128
                               and networkPolicy.proxy.cidrs=[10.20.0.5/32] only that CIDR on 3128;
                               httpproxy: proxy.httpProxy on :8080 alone, so 443 stays) and exactly
                               one upload Job policy in each UPLOAD_NS, selecting exactly the labels
                               the operator puts on upload pods (read from
                               src/controller/pvc_job/build.rs): no ingress, egress DNS and 443 (or
                               the proxy), no API server
"""

import re

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


DNS_RULE = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
HTTPS_ANY = {"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}
PROXY_RULE = {"ports": [{"port": 3128, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}]}
HTTP_PROXY_RULE = {"ports": [{"port": 8080, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}]}
BUILD_RS = "src/controller/pvc_job/build.rs"


def upload_pod_labels():
    """The fixed labels build_upload_job puts on the Job and its pods (the other two, the job's
    name and the run, vary per run)."""
    src = open(BUILD_RS).read()
    block = src[src.index("let labels = BTreeMap::from(["):]
    block = block[:block.index("]);")]
    pairs = dict(re.findall(r'\(\s*"([^"]+)"\.to_string\(\),\s*"([^"]+)"\.to_string\(\),?\s*\)', block))
    variable = re.findall(r"\(\s*([A-Z_]+)\.to_string\(\)", block)
    return pairs, variable


def case_netpol(docs, expect, mode, fullname, release_ns, upload_namespaces):
    policies = kinds(docs, "NetworkPolicy")
    ops = [p for p in policies if p["metadata"]["name"] == fullname]
    expect(len(ops) == 1 and ops[0]["metadata"]["namespace"] == release_ns,
           f"one operator NetworkPolicy {fullname} in {release_ns}: {[p['metadata'] for p in ops]}")
    service = {"direct": [HTTPS_ANY], "proxy": [PROXY_RULE], "httpproxy": [HTTP_PROXY_RULE, HTTPS_ANY]}[mode]
    if ops:
        egress = ops[0]["spec"]["egress"]
        api = [r for r in egress if 6443 in [p["port"] for p in r.get("ports", [])]]
        expect(len(api) == 1, f"one API server rule: {api}")
        expect(egress[0] == DNS_RULE, f"operator egress starts with DNS: {egress[:1]}")
        expect(egress[2:] == service, f"operator egress after DNS and the API server, {mode}: {egress[2:]}")
        if mode == "proxy":
            open_443 = [r for r in egress if 443 in [p["port"] for p in r.get("ports", [])]
                        and any(t.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for t in r.get("to", [{}]))
                        or (443 in [p["port"] for p in r.get("ports", [])] and not r.get("to"))]
            expect(not open_443, f"with a proxy (and apiServerCidrs) no rule opens 443 to any address: {open_443}")
    fixed, variable = upload_pod_labels()
    expect(fixed == {"app.kubernetes.io/name": "hrconnector", "app.kubernetes.io/component": "upload",
                     "app.kubernetes.io/managed-by": "hrconnector"} and variable == ["JOB_LABEL", "RUN_LABEL"],
           f"{BUILD_RS} labels upload pods as the chart expects: {fixed}, {variable}")
    uploads = [p for p in policies if p["metadata"]["name"] == f"{fullname}-upload"]
    expect(sorted(p["metadata"]["namespace"] for p in uploads) == sorted(upload_namespaces),
           f"an upload Job policy in each of {upload_namespaces}: {[p['metadata']['namespace'] for p in uploads]}")
    expect(len(policies) == len(ops) + len(uploads), f"no other NetworkPolicy: {[p['metadata']['name'] for p in policies]}")
    for p in uploads:
        spec, ns = p["spec"], p["metadata"]["namespace"]
        expect(spec["podSelector"] == {"matchLabels": fixed}, f"{ns}: selects exactly the upload pods: {spec['podSelector']}")
        expect(spec["policyTypes"] == ["Ingress", "Egress"] and not spec.get("ingress"),
               f"{ns}: no ingress at all: {spec.get('policyTypes')}, {spec.get('ingress')}")
        expect(spec["egress"] == [DNS_RULE] + service, f"{ns}: upload egress is DNS and {mode} only: {spec['egress']}")


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
    elif case == "netpol":
        case_netpol(docs, expect, args[0], args[1], args[2], args[3:])
    else:
        print(f"unknown case {case}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"  FAIL {p}")
    print(f"chart case {case}: {'failed' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
