"""Asserts what the issue asks of the rendered chart (beyond schema validity).

usage: python chart_assert.py MODE RENDERED.yaml APP_VERSION
MODE: default (replicaCount 1, nothing optional: the release namespace alone), all
(ci/all-features-values.yaml), watch (ci/watch-namespace-values.yaml: two namespaces), cluster
(ci/cluster-wide-values.yaml: every namespace).
"""

import json
import sys

import yaml


def main() -> int:
    mode, path, app_version = sys.argv[1:4]
    docs = [d for d in yaml.safe_load_all(open(path)) if isinstance(d, dict)]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    problems = []

    def expect(cond, what):
        if not cond:
            problems.append(what)

    aggregated = [r for r in by_kind.get("ClusterRole", []) if any(
        k.startswith("rbac.authorization.k8s.io/aggregate-to-") for k in (r["metadata"].get("labels") or {}))]
    operator_cluster_roles = [r for r in by_kind.get("ClusterRole", []) if r not in aggregated]
    (deploy,) = by_kind["Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    args = c["args"]
    env = {e["name"]: e for e in c.get("env", [])}

    # Probes on /healthz and /readyz, on the metrics port.
    expect(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe on /healthz")
    expect(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe on /readyz")
    expect(any(a.startswith("--metrics-bind-address=0.0.0.0:") for a in args), "--metrics-bind-address")
    # Requests and limits.
    for k in ("requests", "limits"):
        expect({"cpu", "memory"} <= set(c["resources"].get(k, {})), f"resources.{k} cpu+memory")
    # Restricted Pod Security.
    psc, sc = pod["securityContext"], c["securityContext"]
    expect(psc.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is True, "runAsNonRoot")
    expect(sc.get("runAsUser") == 65532 and psc.get("runAsUser") == 65532, "uid 65532")
    expect(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    expect(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
    expect(sc.get("capabilities", {}).get("drop") == ["ALL"], "drop ALL capabilities")
    expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault (pod)")
    expect(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault (container)")
    # The PVC upload Jobs run the operator's own image.
    expect(env.get("HRCONNECTOR_UPLOAD_JOB_IMAGE", {}).get("value") == c["image"], "upload Job image = operator image")
    expect("POD_NAMESPACE" in env and "POD_NAME" in env, "POD_NAME and POD_NAMESPACE from the downward API")
    expect(args[0] == "controller", "runs `hrconnector controller`")

    # Proxy and trusted CA (issue 10): NO_PROXY always keeps the API server off the proxy.
    if mode == "all":
        expect(env.get("HTTPS_PROXY", {}).get("value") == "http://proxy.example.com:3128", "HTTPS_PROXY from proxy.httpsProxy")
        no_proxy = env.get("NO_PROXY", {}).get("value", "").split(",")
        for name in ("kubernetes.default.svc", ".svc", ".cluster.local", ".internal.example.com"):
            expect(name in no_proxy, f"NO_PROXY holds {name}")
        expect("--ca-file=/etc/hrconnector/trusted-ca/ca-bundle.pem" in args, "--ca-file on the trustedCA mount")
        mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
        expect(mounts.get("trusted-ca", {}).get("readOnly") is True, "trusted CA mounted read-only")
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        expect(vols.get("trusted-ca", {}).get("configMap", {}).get("name") == "agency-ca", "trusted CA from the ConfigMap")
        # FIPS (issue 13): the -fips image, and the operator refuses to run without the module.
        expect("--require-fips" in args, "--require-fips from fips.required")
        expect(c["image"].endswith("-fips"), f"a -fips image with fips.required: {c['image']}")
    else:
        expect("--require-fips" not in args, "no --require-fips unless fips.required")
        expect("HTTPS_PROXY" not in env and "NO_PROXY" not in env, "no proxy unless proxy.httpsProxy is set")
        expect(not any(a.startswith("--ca-file") for a in args), "no --ca-file unless trustedCA is set")

    replicas = deploy["spec"]["replicas"]
    leader = "--leader-election" in args
    pdbs = by_kind.get("PodDisruptionBudget", [])
    expect(leader == (replicas > 1), f"--leader-election iff replicaCount > 1 (replicas {replicas})")
    expect(bool(pdbs) == (replicas > 1), f"PodDisruptionBudget iff replicaCount > 1 (replicas {replicas})")

    services = by_kind.get("Service", [])
    expect(any(p["name"] == "http-metrics" for s in services for p in s["spec"]["ports"]), "metrics Service")

    if mode == "all":
        (sm,) = by_kind["ServiceMonitor"]
        expect(all(e.get("honorLabels") is True for e in sm["spec"]["endpoints"]),
               "ServiceMonitor honorLabels: the per-job namespace label is kept (not exported_namespace)")

    # Grafana dashboard (issue 22): a ConfigMap the sidecar loads, holding dashboards/hrconnector.json.
    dashboards = [d for d in by_kind.get("ConfigMap", [])
                  if (d["metadata"].get("labels") or {}).get("grafana_dashboard") is not None]
    if mode == "all":
        expect(len(dashboards) == 1, f"grafana.dashboard.enabled: one dashboard ConfigMap ({len(dashboards)})")
        for cm in dashboards:
            meta = cm["metadata"]
            expect(meta["labels"]["grafana_dashboard"] == "1", "dashboard ConfigMap labelled grafana_dashboard: \"1\"")
            expect(meta["labels"].get("release") == "kube-prometheus-stack", "grafana.dashboard.labels added")
            expect((meta.get("annotations") or {}).get("grafana_folder") == "HR", "grafana.dashboard.annotations")
            expect(meta.get("namespace") == "monitoring", f"grafana.dashboard.namespace: {meta.get('namespace')}")
            data = cm.get("data") or {}
            expect(list(data) == ["hrconnector.json"], f"one key hrconnector.json: {list(data)}")
            text = data.get("hrconnector.json", "")
            with open("charts/hrconnector/dashboards/hrconnector.json") as f:
                want = f.read()
            try:
                parsed = json.loads(text)
            except ValueError as e:
                parsed = None
                expect(False, f"the dashboard ConfigMap holds valid JSON: {e}")
            expect(parsed == json.loads(want), "the ConfigMap's dashboard == dashboards/hrconnector.json")
            expect(text == want.rstrip("\n"), "the ConfigMap's dashboard is the file verbatim")
    else:
        expect(not dashboards, "no dashboard ConfigMap unless grafana.dashboard.enabled")

    optional = {"ServiceMonitor", "PrometheusRule", "NetworkPolicy"}
    if mode == "all":
        expect(optional <= set(by_kind), f"optional objects rendered: {sorted(optional - set(by_kind))} missing")
        rules = [r["alert"] for g in by_kind["PrometheusRule"][0]["spec"]["groups"] for r in g["rules"] if "alert" in r]
        expect({"HrConnectorNoRecentSuccess", "HrConnectorJobNotReady", "HrConnectorEmployeeProfilesStale"} <= set(rules),
               "alerts: no upload 36 h, job not Ready, employee profiles older than 15 days")
        exprs = {r["alert"]: r["expr"] for g in by_kind["PrometheusRule"][0]["spec"]["groups"] for r in g["rules"] if "alert" in r}
        expect("hrconnector_last_upload_timestamp_seconds > 129600" in exprs["HrConnectorNoRecentSuccess"],
               f"no-recent-success reads the last upload that reached the service: {exprs['HrConnectorNoRecentSuccess']}")
        expect("> 1296000" in exprs["HrConnectorEmployeeProfilesStale"] and "hrconnector_job_employee_profiles" in exprs["HrConnectorEmployeeProfilesStale"],
               f"profile alert: 15 days, profile jobs only: {exprs['HrConnectorEmployeeProfilesStale']}")
        (np,) = [p for p in by_kind["NetworkPolicy"] if p["metadata"]["name"] == deploy["metadata"]["name"]]
        egress_ports = sorted({p["port"] for r in np["spec"]["egress"] for p in r.get("ports", [])}, key=str)
        expect(set(egress_ports) == {53, 443, 6443, 3128, 22},
               f"NetworkPolicy egress ports DNS, API server, the proxy, extraEgress: {egress_ports}")
        expect(not any(t.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for r in np["spec"]["egress"] for t in r.get("to", [])),
               "with proxy.httpsProxy no egress to 0.0.0.0/0")
        uploads = [p for p in by_kind["NetworkPolicy"] if p["metadata"]["name"].endswith("-upload")]
        expect(len(uploads) == 1, f"an upload Job NetworkPolicy in the release namespace: {len(uploads)}")
    else:
        expect(not (optional & set(by_kind)), f"optional objects off by default: {sorted(optional & set(by_kind))}")
        expect(c["image"].endswith(":" + app_version), f"image tag defaults to appVersion {app_version}: {c['image']}")
    watched = env.get("HRCONNECTOR_WATCH_NAMESPACE", {}).get("value")
    if mode == "watch":
        expect(watched == "hr,payroll", f"HRCONNECTOR_WATCH_NAMESPACE is the list: {watched!r}")
    elif mode == "cluster":
        expect("HRCONNECTOR_WATCH_NAMESPACE" not in env, "clusterWide: every namespace")
        expect(operator_cluster_roles, "clusterWide: a ClusterRole")
    else:
        release_ns = deploy["metadata"]["namespace"]
        expect(watched == release_ns, f"least privilege by default: the release namespace only ({watched!r})")
        expect(not operator_cluster_roles, "no ClusterRole of the operator's by default")
    # People's roles: reading in view, writing in edit (and so admin), by default.
    view = [r for r in aggregated if r["metadata"]["labels"].get("rbac.authorization.k8s.io/aggregate-to-view") == "true"]
    edit = [r for r in aggregated if r["metadata"]["labels"].get("rbac.authorization.k8s.io/aggregate-to-edit") == "true"]
    expect(len(view) == 1 and view[0]["rules"][0]["verbs"] == ["get", "list", "watch"],
           f"an aggregated view ClusterRole reading hrconnectorjobs: {view}")
    expect(len(edit) == 1 and "patch" in edit[0]["rules"][0]["verbs"],
           f"an aggregated edit ClusterRole that may patch hrconnectorjobs (the plugin's run-now, suspend): {edit}")
    audiences = [a.split("=", 1)[1] for a in args if a.startswith("--allow-token-audience=")]
    if mode == "all":
        expect(audiences == ["api://AzureADTokenExchange"], f"allowTokenAudiences passed on: {audiences}")
    else:
        expect(audiences == ["api://AzureADTokenExchange", "sts.amazonaws.com"],
               f"token audiences default to the two federation audiences: {audiences}")

    for p in problems:
        print(f"  FAIL {p}")
    print(f"chart assertions ({mode}): {0 if problems else 1} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
