#!/usr/bin/env bash
# Usage: hack/pytest-dir.sh VENV DIR [PYTEST ARGS...]
# Run VENV's pytest on DIR. A DIR without any test file fails (a moved or renamed test
# directory must not turn a stage green), and so does every other pytest exit status,
# including 5 (no test collected).
set -euo pipefail

venv=${1:?usage: $0 VENV DIR [PYTEST ARGS...]}
dir=${2:?usage: $0 VENV DIR [PYTEST ARGS...]}
shift 2

if [ -z "$(find "$dir" -name 'test_*.py' -o -name '*_test.py' 2>/dev/null | head -n1)" ]; then
    echo "pytest-dir: $dir has no test_*.py: nothing to run, which is a failure" >&2
    exit 1
fi
exec "$venv/bin/python" -m pytest "$dir" "$@"
