#!/usr/bin/env bash
# Builds release and runs every benchmark (benches/*.rs), printing the machine, the date and
# each figure; every figure is a ratio against a baseline measured in the same run.
# Usage: scripts/bench.sh [NAME...]   (default: all of them; NAME as in benches/NAME.rs)
# fips_throughput also builds the release binary with --features fips (into target/fips; needs
# cmake and Go, which scripts/install-test-tools.sh installs) and compares it with the default.
# Needs: curl (upload_e2e), /usr/bin/time (memory: `apt-get install -y time`), ~700 MB free
# in the temp dir for the generated files (deleted afterwards; convert_throughput: ~1.1 GB).
set -euo pipefail
cd "$(dirname "$0")/.."

benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
    benches=(validate_throughput upload_e2e memory auth_error federation_tls_errors object_store egress_cost convert_throughput fips_throughput report_download sftp_download)
fi

echo "== machine"
echo "date:  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "nproc: $(nproc)"
free -g | sed 's/^/       /'
echo "rustc: $(rustc --version)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

echo "== cargo build --release"
cargo build --release --locked --quiet
echo "== cargo bench --no-run"
cargo bench --locked --no-run --quiet 2>/dev/null || cargo bench --locked --no-run

for b in "${benches[@]}"; do
    if [ "$b" = fips_throughput ] && [ -z "${HRCONNECTOR_BENCH_FIPS:-}" ]; then
        echo "== cargo build --release --features fips (target/fips)"
        CARGO_TARGET_DIR="$PWD/target/fips" cargo build --release --locked --quiet --features fips --bin hrconnector
        export HRCONNECTOR_BENCH_FIPS="$PWD/target/fips/release/hrconnector"
    fi
    echo
    echo "== cargo bench --bench $b"
    cargo bench --locked --quiet --bench "$b"
done
