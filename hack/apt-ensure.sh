#!/usr/bin/env bash
# Usage: hack/apt-ensure.sh PKG...
# Install the named Debian packages, but only those not installed yet, so a
# machine that has them already pays nothing and a fresh CI machine gets them.
set -euo pipefail

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
echo "apt-ensure: installing ${missing[*]}"
# The package lists may be absent or stale on a fresh machine: refresh once.
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
