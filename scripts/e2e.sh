#!/usr/bin/env bash
# End-to-end tests: the real `hrconnector controller` binary against a Kubernetes API (the kmock
# emulator on loopback by default, or the cluster of $KUBECONFIG with HRCONNECTOR_E2E_REAL_CLUSTER=1)
# and `hrconnector emulator` for Entra ID and the ingestion service. See tests/e2e/README.md.
# Extra arguments go to pytest (e.g. `scripts/e2e.sh -k leader -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=tests/e2e/.venv
requirements=tests/e2e/requirements.txt
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv"
    "$python" -m venv "$venv"
fi
# Reinstall only when the pinned requirements changed.
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing $requirements"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
fi

command -v "${KUBECTL:-kubectl}" >/dev/null || { echo "error: kubectl is needed (set KUBECTL=...)" >&2; exit 2; }

echo "== cargo build"
cargo build --locked

echo "== pytest tests/e2e"
exec "$venv/bin/python" -m pytest -c tests/e2e/pytest.ini --rootdir tests/e2e tests/e2e "$@"
