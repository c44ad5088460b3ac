#!/usr/bin/env bash
# Usage: hack/sanity.sh VENV [ANSIBLE-TEST SANITY ARGS...]
# Every ansible-test sanity test with VENV's ansible-core, on VENV's Python,
# from a throw-away copy laid out as .../ansible_collections/NS/NAME.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=$(cd "${1:?usage: $0 VENV [ARGS...]}" && pwd)
shift
pyver=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# ansible-test's own venvs need pip from a host we cannot reach: seed the stand-in.
"$here/hack/ansible-test-offline.sh" "$venv"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sts-sanity.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
coll=$("$here/hack/collection-copy.sh" "$tmp")
cd "$coll"
echo "sanity: $("$venv/bin/python" -c "import ansible.release as r; print('ansible-core', r.__version__)"), Python $pyver, in $coll"
# This machine's pip configuration names local index folders that may not
# exist; pip warns about each for every package ansible-test installs.
PATH=$venv/bin:$PATH "$venv/bin/ansible-test" sanity --python "$pyver" --color no "$@" 2>&1 |
    grep -v 'is ignored: it is neither a file nor a directory'

