#!/usr/bin/env bash
# The execution environment definition names the collection tarball that `make install` builds:
# its version must be galaxy.yml's. With ansible-builder in the venv, also render the build
# context (`ansible-builder create`, no container runtime needed) to prove the file is valid.
# Usage: hack/ee-check.sh VENV
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
version=$(sed -n 's/^version: *//p' galaxy.yml)
tarball="build/sts-devicemapper-$version.tar.gz"
if ! grep -q "src: $tarball\$" execution-environment.yml || \
   ! grep -q "name: /build/collections/sts-devicemapper-$version.tar.gz\$" execution-environment.yml; then
    echo "ee-check: execution-environment.yml must name $tarball (galaxy.yml version $version)" >&2
    exit 1
fi
if [ -x "$venv/bin/ansible-builder" ]; then
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' EXIT
    "$venv/bin/ansible-builder" create -f execution-environment.yml -c "$ctx" >/dev/null
    echo "ee-check: execution-environment.yml renders a build context (ansible-builder $("$venv/bin/ansible-builder" --version))"
else
    echo "ee-check: execution-environment.yml names the tarball of version $version (no ansible-builder in $venv to render it)"
fi
