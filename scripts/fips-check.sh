#!/usr/bin/env bash
# The FIPS 140-3 build (docs/operating.md, "FIPS 140-3"), as CI checks it. Built with
# `--features fips` into its own target dir (target/fips), so the default build stays warm:
#   1. one crypto provider: ring is no normal dependency of the fips build, and the binary
#      links AWS-LC's FIPS module only (no symbol of ring or of the non-FIPS aws-lc-sys,
#      which aws-lc-rs's default feature still compiles but the fips build never references);
#   2. `hrconnector version` says `fips: true`;
#   3. the uploader tests and the TLS test, with HRCONNECTOR_REQUIRE_FIPS=1: every upload they
#      start runs with --require-fips.
# Needs cmake and Go for the module (scripts/install-test-tools.sh installs them), and nm.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${HRCONNECTOR_FIPS_TARGET_DIR:-$PWD/target/fips}
# No debug info, no incremental cache: less than half the disk and link time; nothing here
# is stepped through in a debugger.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_INCREMENTAL=0
TESTS=(--test fips_tls --test upload --test upload_cli --test https_cli --test sftp_cli)

echo "-- cargo tree: ring is not a normal dependency of the fips build"
ring=$(cargo tree --locked --features fips -e normal -i ring 2>/dev/null || true)
if [ -n "$ring" ]; then
    echo "ring is linked into the fips build:"
    echo "$ring"
    exit 1
fi

echo "-- cargo build --features fips"
cargo build --locked --features fips --bin hrconnector
bin=$CARGO_TARGET_DIR/debug/hrconnector

echo "-- the binary links the FIPS module only"
symbols=$(nm "$bin")
if ! grep -q ' aws_lc_fips_[0-9_]*FIPS_mode$' <<<"$symbols"; then
    echo "no AWS-LC FIPS module symbol (aws_lc_fips_*_FIPS_mode) in $bin"
    exit 1
fi
other=$(grep -E ' (aws_lc_[0-9]+_[0-9]+_[0-9]+_|ring_core_)' <<<"$symbols" | head -5 || true)
if [ -n "$other" ]; then
    echo "a second crypto provider is linked into $bin:"
    echo "$other"
    exit 1
fi

echo "-- hrconnector version"
version=$("$bin" version)
echo "$version"
grep -qx 'fips: true' <<<"$version"

echo "-- cargo test --features fips ${TESTS[*]} (HRCONNECTOR_REQUIRE_FIPS=1)"
HRCONNECTOR_REQUIRE_FIPS=1 cargo test --locked --features fips "${TESTS[@]}"
