#!/usr/bin/env bash
# Usage: hack/unit.sh VENV [PYTEST ARGS...]
# Unit tests import the collection as ansible_collections.sts.devicemapper...;
# for pytest a symlink tree on PYTHONPATH gives that layout (ansible-test would
# need a full copy, see sanity.sh). pytest-ansible, when installed, would
# otherwise create the same tree as collections/ in the work tree: point it at ours.
set -euo pipefail

venv=${1:?usage: $0 VENV [PYTEST ARGS...]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
ns=$(sed -nE 's/^namespace:[[:space:]]*([a-z0-9_]+).*/\1/p' "$here/galaxy.yml")
name=$(sed -nE 's/^name:[[:space:]]*([a-z0-9_]+).*/\1/p' "$here/galaxy.yml")

root=$here/build/unit-collections
mkdir -p "$root/ansible_collections/$ns"
ln -sfn "$here" "$root/ansible_collections/$ns/$name"

export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH}
export ANSIBLE_COLLECTIONS_PATH=$root
args=()
if "$venv/bin/python" -c 'import pytest_ansible' 2>/dev/null; then
    args+=(--ansible-unit-inject-only)
fi
cd "$here"
exec "$here/hack/pytest-dir.sh" "$venv" tests/unit "${args[@]}" "$@"
