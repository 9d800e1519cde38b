#!/usr/bin/env bash
# Offline checks of what monitors hrconnector, with promtool (Debian package prometheus;
# scripts/install-test-tools.sh installs it):
#   - every query of the Grafana dashboard (charts/hrconnector/dashboards/hrconnector.json: panel
#     targets, rows' nested panels, template variables) is valid PromQL: each becomes a recording
#     rule, Grafana's variables substituted, and `promtool check rules` parses them;
#   - the chart's PrometheusRule (rendered with Helm) parses, and every alert has promtool unit
#     tests (tests/prometheus/) where it fires and where it does not, which pass.
# That every metric the dashboard and the alerts name is one the operator exports is checked
# against a real /metrics scrape by the e2e suite (tests/e2e/test_observability.py).
# Needs the pinned Helm and the Python venv scripts/check-deploy.sh puts into .cache/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.cache/observability
DASHBOARD=charts/hrconnector/dashboards/hrconnector.json
START=$SECONDS
# shellcheck source=scripts/lib/checks.sh
source scripts/lib/checks.sh
die() { echo "check-observability: $*" >&2; exit 2; }
# promtool_quiet LOG ARGS...: promtool ARGS, its output shown only when it fails.
promtool_quiet() {
  local log=$1
  shift
  promtool "$@" >"$log" 2>&1 || { cat "$log"; return 1; }
}
# test_rules DIR FILES...: promtool test rules, from DIR (rule_files are relative to the tests).
test_rules() {
  (cd "$1" && shift && promtool test rules "$@")
}

command -v promtool >/dev/null || die "promtool is required (scripts/install-test-tools.sh installs Debian's prometheus)"
HELMS=(.cache/tools/helm4-*/helm)
HELM=${HELMS[0]}
[[ -x $HELM ]] || die "no Helm in .cache/tools: run scripts/check-deploy.sh first"
PY=.cache/venv/bin/python
[[ -x $PY ]] || PY=python3
rm -rf "$OUT"
mkdir -p "$OUT"
PROMQL=scripts/observability/promql.py
echo "== $(promtool --version 2>&1 | head -1)"

echo "== dashboard: every query is valid PromQL"
check "metric-name extraction self-test" "$PY" "$PROMQL" self-test
check "queries of $DASHBOARD extracted (no undefined variable)" \
  "$PY" "$PROMQL" dashboard "$DASHBOARD" --rules "$OUT/dashboard-queries.rules.yaml" --names "$OUT/dashboard-metrics.txt"
check "promtool check rules: every dashboard query parses" \
  promtool_quiet "$OUT/promtool-dashboard.log" check rules "$OUT/dashboard-queries.rules.yaml"
# The check has teeth: the same file with one query broken is refused.
sed '0,/expr: /s/expr: \(.*\)$/expr: sum(rate(\1/' "$OUT/dashboard-queries.rules.yaml" >"$OUT/broken.rules.yaml"
if promtool check rules "$OUT/broken.rules.yaml" >"$OUT/broken.log" 2>&1; then
  check "promtool refuses a broken query" false
else
  check "promtool refuses a broken query ($(grep -m1 -o 'parse error.*' "$OUT/broken.log" | cut -c1-60))" true
fi

echo "== PrometheusRule: alerts parse and pass their unit tests (tests/prometheus/)"
"$HELM" template hrconnector charts/hrconnector -n hrconnector-system \
  --set metrics.prometheusRule.enabled=true >"$OUT/chart.yaml"
check "rules extracted from the rendered PrometheusRule" \
  "$PY" "$PROMQL" alerts "$OUT/chart.yaml" --rules "$OUT/hrconnector-alerts.rules.yaml" --names "$OUT/alert-metrics.txt"
check "promtool check rules: the alerts parse" \
  promtool_quiet "$OUT/promtool-alerts.log" check rules "$OUT/hrconnector-alerts.rules.yaml"
TESTS=()
for t in tests/prometheus/*.test.yaml; do TESTS+=("$(basename "$t")"); done
cp tests/prometheus/*.test.yaml "$OUT/"
check "every alert has a case where it fires and one where it does not" \
  "$PY" "$PROMQL" coverage "$OUT/hrconnector-alerts.rules.yaml" tests/prometheus/*.test.yaml
check "promtool test rules tests/prometheus/*.test.yaml" \
  test_rules "$OUT" "${TESTS[@]}"

checks_result check-observability "$START"
