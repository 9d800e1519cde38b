#!/usr/bin/env bash
# Installs the object-store servers the tests start (tests/object_source.rs, tests/e2e), pinned,
# into .cache/ (idempotent; run by scripts/test.sh and, when missing, by the tests themselves):
#   Azurite, Microsoft's Azure Storage emulator (npm `azurite`)  -> .cache/tools/azurite/node_modules/.bin/azurite-blob
#   moto's S3 server (PyPI `moto[server]`)                      -> .cache/moto/bin/moto_server
# Prints the two paths. Needs npm and python3 (with venv).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=$PWD/.cache
AZURITE_VERSION=3.37.0
MOTO_VERSION=5.2.5

azurite_dir=$CACHE/tools/azurite
azurite=$azurite_dir/node_modules/.bin/azurite-blob
if [ "$(cat "$azurite_dir/.version" 2>/dev/null)" != "$AZURITE_VERSION" ] || [ ! -x "$azurite" ]; then
    echo "== installing azurite $AZURITE_VERSION into $azurite_dir" >&2
    mkdir -p "$azurite_dir"
    npm install --silent --no-audit --no-fund --prefix "$azurite_dir" "azurite@$AZURITE_VERSION" >&2
    echo "$AZURITE_VERSION" >"$azurite_dir/.version"
fi

moto_dir=$CACHE/moto
moto=$moto_dir/bin/moto_server
if [ "$(cat "$moto_dir/.version" 2>/dev/null)" != "$MOTO_VERSION" ] || [ ! -x "$moto" ]; then
    echo "== installing moto[server] $MOTO_VERSION into $moto_dir" >&2
    python3 -m venv "$moto_dir"
    "$moto_dir/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
    echo "$MOTO_VERSION" >"$moto_dir/.version"
fi

echo "$azurite"
echo "$moto"
