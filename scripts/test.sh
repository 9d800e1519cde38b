#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: format, lints, every test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test tools (kubectl, python3-venv, npm, tinyproxy, cmake, golang-go, binutils): installed when missing"
scripts/install-test-tools.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --all-targets --locked -- -D warnings

echo "== object stores the tests start: Azurite (npm) and moto[server] (PyPI), into .cache/"
scripts/object-stores.sh >/dev/null

echo "== cargo test"
cargo test --all-targets --locked

echo "== FIPS 140-3 build (--features fips, target/fips): one provider, fips: true, uploader and TLS tests with --require-fips"
scripts/fips-check.sh

echo "== deployment: Helm 3 and 4, schemas, RBAC table, kustomize, Argo CD health check"
scripts/check-deploy.sh

echo "== end-to-end: the real controller against a Kubernetes API emulator"
scripts/e2e.sh -q

echo "== end-to-end again, every operator started with the chart's rendered Deployment arguments"
HRCONNECTOR_E2E_CHART_ARGS=1 scripts/e2e.sh -q

echo "== fuzz the CSV reader for 60 s (cargo-fuzz + AddressSanitizer; the first run builds ~8 min)"
scripts/fuzz.sh 60
