#!/usr/bin/env bash
# Builds the hrconnector image without a registry or a daemon, then proves it:
#
#   1. a statically linked release binary (glibc, `-C target-feature=+crt-static`): the CA roots
#      (webpki-root-certs) and the time-zone data (jiff's bundled tzdb) are compiled in, so the
#      image needs no file besides the binary;
#   2. an OCI image from scratch with Debian's buildah: /usr/local/bin/hrconnector and an empty
#      /tmp, nothing else; user 65532:65532, OCI labels; written as an OCI image-layout archive
#      to target/image/hrconnector.oci.tar;
#   3. scripts/prove-image.sh: unpacks that archive and runs `version` and `demo` inside the
#      image's own root file system (chroot), so a missing library or file fails here;
#   4. the SBOM (CycloneDX JSON, cargo-cyclonedx) beside it, target/image/hrconnector.cdx.json,
#      checked against `cargo metadata` (scripts/check_sbom.py);
#   5. `cargo deny check licenses bans` (deny.toml).
#
# Needs buildah (scripts/install-test-tools.sh installs it) and root (buildah's storage and the
# chroot of the proof). Usage: scripts/build-image.sh
# HRCONNECTOR_IMAGE_SOURCE sets the org.opencontainers.image.source label (default: the URL of
# the git remote "origin"; left out, with a note, when there is neither).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_CYCLONEDX_VERSION=0.5.9
CARGO_DENY_VERSION=0.20.2
TARGET=x86_64-unknown-linux-gnu
OUT=target/image
IMAGE="$OUT/hrconnector.oci.tar"
SBOM="$OUT/hrconnector.cdx.json"

# Each part's heading carries the minutes:seconds since the start, as scripts/test.sh's steps
# do, so a CI log shows where this step's time goes.
started=$SECONDS
part() { printf -- '-- [%02d:%02d] %s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*"; }

fail() {
    echo "build-image: $*" >&2
    exit 1
}

[[ "$(id -u)" -eq 0 ]] || fail "run as root: buildah's storage and the proof's chroot need it"
command -v buildah >/dev/null || fail "buildah is missing: scripts/install-test-tools.sh installs it (apt-get install buildah)"

version="$(cargo metadata --locked --no-deps --format-version 1 \
    | python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "hrconnector"))')"
revision="$(git rev-parse HEAD)"
# The image's dates (config, layer files, label) are the commit's, not the build's.
created_epoch="$(git log -1 --format=%ct HEAD)"
created="$(date -u -d "@$created_epoch" +%Y-%m-%dT%H:%M:%SZ)"
source_url="${HRCONNECTOR_IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || true)}"
mkdir -p "$OUT"

# ---- 1. the static binary ----
part "cargo build --release --target $TARGET, +crt-static (hrconnector $version, commit ${revision:0:12})"
# crt-static for the target only: build scripts and proc-macros (built for the host) stay
# dynamic, as they must be to be loaded by rustc.
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS='-C target-feature=+crt-static' \
HRCONNECTOR_COMMIT="${revision:0:12}" \
    cargo build --release --locked --bin hrconnector --target "$TARGET"
binary="target/$TARGET/release/hrconnector"

# Static: no program interpreter (ld-linux) and no shared library the loader would look for.
if readelf -lW "$binary" | grep -q 'INTERP'; then
    fail "$binary asks for a program interpreter (readelf -l: INTERP): it is not statically linked"
fi
needed="$(readelf -dW "$binary" | grep '(NEEDED)' || true)"
[[ -z "$needed" ]] || fail "$binary still needs shared libraries (readelf -d):"$'\n'"$needed"
echo "static: $(file -b "$binary" | cut -d, -f1-2); $(stat -c %s "$binary") bytes"

# ---- 2. the image, from scratch ----
part "buildah: from scratch, the binary and an empty /tmp, user 65532, labels -> $IMAGE"
# A private store under target/ (vfs: no overlay mount needed), removed before and after: the
# host's containers storage is neither read nor changed (buildah still keeps its small
# blob-info cache in /var/lib/containers/cache).
store="$OUT/buildah"
buildah_() { buildah --root "$PWD/$store/root" --runroot "$PWD/$store/run" --storage-driver vfs "$@"; }
cleanup_store() {
    # vfs layers are plain directories; buildah's own rm first, then whatever is left.
    buildah_ rm --all >/dev/null 2>&1 || true
    rm -rf "$store"
}
cleanup_store
trap cleanup_store EXIT

ctr="$(buildah_ from scratch)"
buildah_ copy --chown 0:0 --chmod 0755 "$ctr" "$binary" /usr/local/bin/hrconnector >/dev/null
# An empty /tmp (1777), as distroless has: conversions and HTTPS downloads write temporary files
# there (or in $TMPDIR). The chart mounts an emptyDir over it (the root file system is
# read-only); `docker run IMAGE upload ...` works without one.
root="$(buildah_ mount "$ctr")"
install -d -m 1777 -o 0 -g 0 "$root/tmp"
buildah_ umount "$ctr" >/dev/null
labels=(
    --label org.opencontainers.image.title=hrconnector
    --label "org.opencontainers.image.description=Uploads HR resignation data to Microsoft Purview's HR connector; Kubernetes operator"
    --label "org.opencontainers.image.version=$version"
    --label "org.opencontainers.image.revision=$revision"
    --label org.opencontainers.image.licenses=Apache-2.0
    --label "org.opencontainers.image.created=$created"
)
if [[ -n "$source_url" ]]; then
    labels+=(--label "org.opencontainers.image.source=$source_url")
else
    echo "note: no org.opencontainers.image.source label (set HRCONNECTOR_IMAGE_SOURCE or a git remote \"origin\")"
fi
# 65532: the uid/gid the chart and the upload Jobs run as (distroless' "nonroot"); numeric so
# runAsNonRoot can verify it.
buildah_ config \
    --os linux --arch amd64 \
    --user 65532:65532 \
    --entrypoint '["/usr/local/bin/hrconnector"]' \
    --cmd controller \
    --created-by "scripts/build-image.sh" \
    "${labels[@]}" \
    "$ctr"
rm -f "$IMAGE"
# No builder label (it names the buildah version, not the image) and the commit's time.
buildah_ commit --quiet --format oci --identity-label=false --timestamp "$created_epoch" \
    "$ctr" "oci-archive:$IMAGE" >/dev/null
cleanup_store
trap - EXIT
echo "$IMAGE: $(stat -c %s "$IMAGE") bytes"

# ---- 3. the proof ----
part "proof: unpack $IMAGE, check layout, digests, config, files; chroot: version, demo, demo --convert"
scripts/prove-image.sh "$IMAGE" "$version" "$revision" "$source_url"

# ---- 4. the SBOM ----
part "SBOM: cargo-cyclonedx $CARGO_CYCLONEDX_VERSION -> $SBOM, checked against cargo metadata"
# `cargo cyclonedx --version` prints "cargo-cyclonedx-cyclonedx X.Y.Z": compare the number.
if [[ "$(cargo cyclonedx --version 2>/dev/null | awk '{print $NF}')" != "$CARGO_CYCLONEDX_VERSION" ]]; then
    echo "== installing cargo-cyclonedx $CARGO_CYCLONEDX_VERSION"
    # A debug build of the tool (as scripts/fuzz.sh installs cargo-fuzz): it only reads cargo
    # metadata and writes JSON, and builds faster unoptimised.
    cargo install cargo-cyclonedx --version "$CARGO_CYCLONEDX_VERSION" --locked --debug
fi
# What the image holds: the binary's dependencies on its target, default features, without
# build-dependencies (they run at build time only); CycloneDX 1.5, dated like the image. The tool
# writes hrconnector_bin.cdx.json beside Cargo.toml; it is moved beside the image.
SOURCE_DATE_EPOCH="$created_epoch" cargo cyclonedx --quiet --format json --spec-version 1.5 \
    --describe binaries --target "$TARGET" --no-build-deps
mv hrconnector_bin.cdx.json "$SBOM"
python3 scripts/check_sbom.py "$SBOM" "$TARGET"

# ---- 5. licenses and bans ----
part "cargo deny $CARGO_DENY_VERSION check licenses bans (deny.toml)"
if [[ "$(cargo deny --version 2>/dev/null | awk '{print $NF}')" != "$CARGO_DENY_VERSION" ]]; then
    echo "== installing cargo-deny $CARGO_DENY_VERSION"
    # Debug build too: it reads Cargo.lock and the crates' manifests, nothing heavy.
    cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --debug
fi
# --frozen: Cargo.lock as it is and no network (licenses and bans read only what cargo fetched).
cargo fetch --locked
cargo deny --frozen check --hide-inclusion-graph licenses bans
part "image built and proven: $IMAGE, $SBOM"
