#!/usr/bin/env bash
# Proves an image scripts/build-image.sh wrote: unpacks the OCI archive, checks the layout, every
# blob's digest and the config (scripts/oci_layout.py), unpacks the layers into a fresh root file
# system, checks it holds the binary and nothing else, and runs `hrconnector version` and
# `hrconnector demo` (a full upload to the in-process emulator, no network) inside it with
# chroot, as uid/gid 65532 and an empty environment. Whatever the binary would look for on the
# image's file system (a shared library, the loader, CA roots, time-zone data) is not there, so
# needing it fails here. The chroot gets only what a container runtime adds to every image (the
# default devices in /dev).
#
# Usage (as root, for chroot): scripts/prove-image.sh IMAGE.oci.tar VERSION REVISION [SOURCE]
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -ge 3 ]] || { echo "usage: $0 IMAGE.oci.tar VERSION REVISION [SOURCE]" >&2; exit 2; }
image="$1" version="$2" revision="$3" source_url="${4:-}"

fail() {
    echo "prove-image: $*" >&2
    exit 1
}

[[ -f "$image" ]] || fail "$image: no such file (scripts/build-image.sh writes it)"
# The unpacked image, under target/ whatever the archive's path; left behind only on failure.
work=target/image/proof
rm -rf "$work"
mkdir -p "$work/layout" "$work/rootfs"

tar -xf "$image" -C "$work/layout"
layers="$(python3 scripts/oci_layout.py "$work/layout" "$version" "$revision" "$source_url")"

# Layers in order onto an empty root; a single layer from scratch has no whiteouts to apply.
while read -r media_type path; do
    case $media_type in
        *+gzip) tar --numeric-owner -xzpf "$path" -C "$work/rootfs" ;;
        *) tar --numeric-owner -xpf "$path" -C "$work/rootfs" ;;
    esac
done <<<"$layers"
echo "layout, digests, config (user 65532:65532, labels): ok; $(wc -l <<<"$layers") layer(s) unpacked"

# Nothing but the binary (and the directories leading to it) and the empty /tmp.
contents="$(cd "$work/rootfs" && find . -mindepth 1 | sort)"
expected="$(printf '%s\n' ./tmp ./usr ./usr/local ./usr/local/bin ./usr/local/bin/hrconnector)"
if [[ "$contents" != "$expected" ]]; then
    fail "the image's file system holds more or less than /usr/local/bin/hrconnector and /tmp:"$'\n'"$(diff <(echo "$expected") <(echo "$contents") || true)"
fi
mode="$(stat -c '%a %u:%g %F' "$work/rootfs/usr/local/bin/hrconnector")"
[[ "$mode" == "755 0:0 regular file" ]] || fail "/usr/local/bin/hrconnector is '$mode', expected '755 0:0 regular file'"
tmp_mode="$(stat -c '%a %u:%g %F' "$work/rootfs/tmp")"
[[ "$tmp_mode" == "1777 0:0 directory" ]] || fail "/tmp is '$tmp_mode', expected '1777 0:0 directory'"
echo "file system: /usr/local/bin/hrconnector ($mode), /tmp ($tmp_mode), nothing else"

# What every container runtime adds to any image, and nothing more: the OCI runtime spec's
# default devices. The binary needs /dev/urandom: the getrandom crate looks glibc's getrandom()
# up with dlsym, which finds nothing in a static binary, so it reads the device. Not part of the
# image.
mkdir -m 0755 "$work/rootfs/dev"
for device in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9"; do
    read -r name major minor <<<"$device"
    mknod -m 0666 "$work/rootfs/dev/$name" c "$major" "$minor"
done

# in_image ARGS...: the binary in the image's root, as the image's user, with no inherited
# environment (no SSL_CERT_FILE, TZ or PATH from this machine).
chroot="$(command -v chroot)" || fail "chroot (coreutils) is missing"
in_image() {
    env -i "$chroot" --userspec=65532:65532 "$work/rootfs" /usr/local/bin/hrconnector "$@"
}

echo "== chroot: hrconnector version"
out="$(in_image version)" || fail "\`hrconnector version\` failed inside the image (exit $?):"$'\n'"$out"
echo "$out"
grep -q "$version" <<<"$out" || fail "\`hrconnector version\` does not name version $version"
grep -q "${revision:0:12}" <<<"$out" || fail "\`hrconnector version\` does not name commit ${revision:0:12}"

echo "== chroot: hrconnector demo"
out="$(in_image demo 2>&1)" || fail "\`hrconnector demo\` failed inside the image (exit $?):"$'\n'"$out"
echo "$out"

echo "== chroot: hrconnector demo --convert (Windows-1252, Europe/Paris: the built-in time-zone data)"
out="$(in_image demo --convert 2>&1)" || fail "\`hrconnector demo --convert\` failed inside the image (exit $?):"$'\n'"$out"
echo "$out" | tail -n 5

rm -rf "$work"
echo "image proven: $image"
