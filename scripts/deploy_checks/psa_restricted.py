"""Checks every pod template of rendered manifests against the "restricted" Pod Security Standard
(Kubernetes 1.32, https://kubernetes.io/docs/concepts/security/pod-security-standards/): the
baseline controls and the restricted ones, as the PodSecurity admission plugin applies them to
the pods a Deployment or Job creates. No runAsUser, runAsGroup or fsGroup is required: OpenShift's
restricted-v2 assigns them, and the standard only forbids uid 0.

usage: python psa_restricted.py RENDERED.yaml...   (exit 1 naming every violation)
"""

import sys

import yaml

RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def pod_templates(doc):
    """(name, pod metadata, pod spec) of a Pod or of a workload's pod template."""
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Pod":
        yield f"Pod/{doc['metadata']['name']}", doc.get("metadata") or {}, spec
    elif kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        t = spec.get("template") or {}
        yield f"{kind}/{doc['metadata']['name']}", t.get("metadata") or {}, t.get("spec") or {}
    elif kind == "CronJob":
        t = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        yield f"CronJob/{doc['metadata']['name']}", t.get("metadata") or {}, t.get("spec") or {}


def violations(meta, pod):
    out = []
    psc = pod.get("securityContext") or {}
    containers = [(c.get("name"), c) for key in ("initContainers", "containers", "ephemeralContainers")
                  for c in pod.get(key) or []]
    if not containers:
        out.append("no containers")
    # Baseline.
    for f in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(f):
            out.append(f"{f}: true")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("pod hostProcess")
    for v in pod.get("volumes") or []:
        types = set(v) - {"name"}
        if not types <= RESTRICTED_VOLUMES:
            out.append(f"volume {v.get('name')}: type {sorted(types - RESTRICTED_VOLUMES)} not allowed")
    for k, val in (meta.get("annotations") or {}).items():
        if k.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
                val == "runtime/default" or val.startswith("localhost/")):
            out.append(f"AppArmor annotation {k}={val}")
    for s in psc.get("sysctls") or []:
        if s.get("name") not in SAFE_SYSCTLS:
            out.append(f"sysctl {s.get('name')}")

    def selinux(where, opts):
        if opts and (opts.get("type") not in SELINUX_TYPES or opts.get("user") or opts.get("role")):
            out.append(f"{where}: seLinuxOptions {opts}")

    def apparmor(where, sc):
        t = (sc.get("appArmorProfile") or {}).get("type")
        if t not in (None, "RuntimeDefault", "Localhost"):
            out.append(f"{where}: appArmorProfile {t}")

    selinux("pod", psc.get("seLinuxOptions"))
    apparmor("pod", psc)
    # Restricted: pod-level values that containers inherit.
    pod_nonroot = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_nonroot is False:
        out.append("pod runAsNonRoot: false")
    if psc.get("runAsUser") == 0:
        out.append("pod runAsUser: 0")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        out.append(f"pod seccompProfile {pod_seccomp}")
    for name, c in containers:
        where = f"container {name}"
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"{where}: privileged")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"{where}: hostProcess")
        if sc.get("procMount") not in (None, "Default"):
            out.append(f"{where}: procMount {sc.get('procMount')}")
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.append(f"{where}: hostPort {p['hostPort']}")
        selinux(where, sc.get("seLinuxOptions"))
        apparmor(where, sc)
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}: allowPrivilegeEscalation must be false")
        nonroot = sc.get("runAsNonRoot", pod_nonroot)
        if nonroot is not True:
            out.append(f"{where}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser") == 0:
            out.append(f"{where}: runAsUser: 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{where}: seccompProfile must be RuntimeDefault or Localhost: {seccomp}")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{where}: capabilities must drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            out.append(f"{where}: capabilities add {caps.get('add')}")
    return out


def main() -> int:
    checked, problems = 0, []
    for path in sys.argv[1:]:
        for doc in yaml.safe_load_all(open(path)):
            if not isinstance(doc, dict):
                continue
            for name, meta, pod in pod_templates(doc):
                checked += 1
                problems += [f"{path}: {name}: {v}" for v in violations(meta, pod)]
    for p in problems:
        print(f"  FAIL {p}")
    if not checked:
        print("  FAIL no pod template found")
        return 1
    print(f"restricted Pod Security: {checked} pod template(s), {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
