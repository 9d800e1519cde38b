#!/usr/bin/env python3
"""Checks an unpacked OCI image layout (scripts/prove-image.sh) and prints its layers.

Usage: oci_layout.py LAYOUT_DIR VERSION REVISION SOURCE

Follows index.json -> the one image manifest -> config and layers, checks every blob's sha256
and size against the descriptor that names it, then the config: linux/amd64, user 65532:65532,
the entrypoint and command, and the OCI labels (version, revision, licenses, title, source when
SOURCE is not empty). Prints one line per layer, in order: MEDIA_TYPE PATH. Exits 1 naming
every problem it found.
"""

import gzip
import hashlib
import json
import os
import sys

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYERS = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
)

problems = []


def blob(layout, descriptor, what):
    """The blob a descriptor names, after checking its digest and size; None if unusable."""
    digest = descriptor.get("digest", "")
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        problems.append(f"{what}: digest {digest!r} is not sha256:<64 hex digits>")
        return None
    path = os.path.join(layout, "blobs", "sha256", hexdigest)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        problems.append(f"{what}: blob {digest} missing from blobs/sha256/ ({e.strerror})")
        return None
    actual = hashlib.sha256(data).hexdigest()
    if actual != hexdigest:
        problems.append(f"{what}: blobs/sha256/{hexdigest} hashes to sha256:{actual}")
    if descriptor.get("size") != len(data):
        problems.append(f"{what}: size {descriptor.get('size')} in its descriptor, {len(data)} bytes on disk")
    return path, data


def check(label, actual, expected):
    if actual != expected:
        problems.append(f"config: {label} is {actual!r}, expected {expected!r}")


def main():
    layout, version, revision, source = sys.argv[1:5]

    try:
        with open(os.path.join(layout, "oci-layout")) as f:
            layout_version = json.load(f).get("imageLayoutVersion")
        if layout_version != "1.0.0":
            problems.append(f"oci-layout: imageLayoutVersion {layout_version!r}, expected '1.0.0'")
        with open(os.path.join(layout, "index.json")) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"prove-image: {layout} is not an OCI image layout (oci-layout, index.json): {e}")

    manifests = index.get("manifests", [])
    if len(manifests) != 1 or manifests[0].get("mediaType") != MANIFEST:
        sys.exit(f"prove-image: index.json names {len(manifests)} manifests, expected one {MANIFEST}: "
                 f"{[m.get('mediaType') for m in manifests]}")
    found = blob(layout, manifests[0], "image manifest")
    if found is None:
        sys.exit("prove-image: " + "; ".join(problems))
    manifest = json.loads(found[1])

    config_descriptor = manifest.get("config", {})
    check("manifest config mediaType", config_descriptor.get("mediaType"), CONFIG)
    found = blob(layout, config_descriptor, "image config")
    if found is None:
        sys.exit("prove-image: " + "; ".join(problems))
    config = json.loads(found[1])

    check("os", config.get("os"), "linux")
    check("architecture", config.get("architecture"), "amd64")
    runtime = config.get("config", {})
    check("User", runtime.get("User"), "65532:65532")
    check("Entrypoint", runtime.get("Entrypoint"), ["/usr/local/bin/hrconnector"])
    check("Cmd", runtime.get("Cmd"), ["controller"])
    labels = runtime.get("Labels") or {}
    expected_labels = {
        "org.opencontainers.image.title": "hrconnector",
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.licenses": "Apache-2.0",
    }
    if source:
        expected_labels["org.opencontainers.image.source"] = source
    for key, value in expected_labels.items():
        check(f"label {key}", labels.get(key), value)
    if "org.opencontainers.image.created" not in labels:
        problems.append("config: label org.opencontainers.image.created is missing")

    layers = manifest.get("layers", [])
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    if not layers:
        problems.append("manifest: no layers")
    if len(diff_ids) != len(layers):
        problems.append(f"config: {len(diff_ids)} rootfs.diff_ids for {len(layers)} layers")
    lines = []
    for n, descriptor in enumerate(layers, 1):
        media_type = descriptor.get("mediaType")
        if media_type not in LAYERS:
            problems.append(f"layer {n}: media type {media_type!r}, expected one of {LAYERS}")
            continue
        found = blob(layout, descriptor, f"layer {n}")
        if found is None:
            continue
        # The config's diff_id is the digest of the uncompressed tar.
        data = gzip.decompress(found[1]) if media_type.endswith("+gzip") else found[1]
        diff_id = "sha256:" + hashlib.sha256(data).hexdigest()
        if n <= len(diff_ids) and diff_ids[n - 1] != diff_id:
            problems.append(f"layer {n}: uncompressed digest {diff_id}, config's diff_id {diff_ids[n - 1]}")
        lines.append(f"{media_type} {found[0]}")

    if problems:
        sys.exit("prove-image: the image is not what scripts/build-image.sh should have built:\n  "
                 + "\n  ".join(problems))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
