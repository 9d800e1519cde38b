#!/usr/bin/env python3
"""Checks the image's SBOM against what cargo resolves (scripts/build-image.sh).

Usage: check_sbom.py SBOM.cdx.json TARGET

The SBOM (cargo cyclonedx --describe binaries --target TARGET --no-build-deps) must name the
same packages, by name and version, as the hrconnector binary's dependency graph in
`cargo metadata --locked --filter-platform TARGET`: from the root package along normal
dependencies only (no dev-dependencies, no build-dependencies and what only they pull in),
with the default features, as the image is built. Exits 1 naming every package found on one
side only.
"""

import json
import subprocess
import sys


def resolved(target):
    """(name, version) of every package the binary depends on, and the root's own."""
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--locked", "--format-version", "1", "--filter-platform", target],
        check=True, capture_output=True, text=True).stdout)
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    root = metadata["resolve"]["root"]
    seen, todo = set(), [root]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for dep in nodes[node]["deps"]:
            # kind None is a normal dependency; "dev" and "build" are not in the binary.
            if any(kind["kind"] is None for kind in dep["dep_kinds"]):
                todo.append(dep["pkg"])
    seen.discard(root)

    def name(i):
        return packages[i]["name"], packages[i]["version"]

    return {name(i) for i in seen}, name(root)


def in_sbom(path):
    """(name, version) of every component, nested ones included, and the described one."""
    with open(path) as f:
        bom = json.load(f)
    if bom.get("bomFormat") != "CycloneDX":
        sys.exit(f"check-sbom: {path} is not a CycloneDX document (bomFormat {bom.get('bomFormat')!r})")
    found = set()
    todo = list(bom.get("components", []))
    while todo:
        component = todo.pop()
        found.add((component["name"], component.get("version", "")))
        todo.extend(component.get("components", []))
    described = bom.get("metadata", {}).get("component", {})
    return found, (described.get("name"), described.get("version"))


def listed(packages):
    return ", ".join(f"{name} {version}" for name, version in sorted(packages))


def main():
    sbom_path, target = sys.argv[1:3]
    expected, root = resolved(target)
    found, described = in_sbom(sbom_path)
    problems = []
    if described != root:
        problems.append(f"the SBOM describes {described[0]} {described[1]}, not {root[0]} {root[1]}")
    found.discard(root)
    if found - expected:
        problems.append(f"in the SBOM, not in cargo metadata's graph for the binary: {listed(found - expected)}")
    if expected - found:
        problems.append(f"in cargo metadata's graph for the binary, missing from the SBOM: {listed(expected - found)}")
    if problems:
        sys.exit(f"check-sbom: {sbom_path} does not match cargo metadata ({target}):\n  "
                 + "\n  ".join(problems))
    print(f"SBOM: {len(found)} packages, the same as cargo metadata's graph of {root[0]} {root[1]} for {target}")


if __name__ == "__main__":
    main()
