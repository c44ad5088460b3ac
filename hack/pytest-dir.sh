#!/usr/bin/env bash
# Usage: hack/pytest-dir.sh VENV DIR [PYTEST ARGS...]
# Run VENV's pytest on DIR. A DIR without any test file yet is reported as such
# and passes (tests are being written); once a test file exists every pytest
# exit status counts, including 5 (no test collected).
set -euo pipefail

venv=${1:?usage: $0 VENV DIR [PYTEST ARGS...]}
dir=${2:?usage: $0 VENV DIR [PYTEST ARGS...]}
shift 2

if [ -z "$(find "$dir" -name 'test_*.py' -o -name '*_test.py' 2>/dev/null | head -n1)" ]; then
    echo "NO TESTS YET: $dir has no test_*.py; nothing was run"
    exit 0
fi
exec "$venv/bin/python" -m pytest "$dir" "$@"
