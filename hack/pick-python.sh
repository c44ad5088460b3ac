#!/usr/bin/env bash
# Print "PYTHON REQUIREMENTS_FILE" for the controller venv.
# ansible-core 2.20+ needs Python >= 3.12 on the controller: take the newest
# working interpreter >= 3.12 (pyenv builds first, then PATH); else fall back
# to python3 with the ansible-core 2.19 requirements.
set -euo pipefail

candidates=()
for p in /root/.pyenv/versions/*/bin/python3.1[2-9] ; do
    [ -x "$p" ] && candidates+=("$p")
done
for name in python3.14 python3.13 python3.12; do
    p=$(command -v "$name" 2>/dev/null || true)
    [ -n "$p" ] && candidates+=("$p")
done

best='' best_ver=0
for p in "${candidates[@]}"; do
    # An interpreter must have working ssl (pip), venv and ensurepip (ansible-test venvs).
    # Print the real interpreter, not a pyenv shim that depends on the caller's HOME.
    out=$("$p" -c 'import ssl, venv, ensurepip, sys; print("%d.%d.%d" % sys.version_info[:3], sys.executable)' 2>/dev/null) || continue
    ver=${out%% *}
    real=${out#* }
    # 3.12.1 from pyenv failed TLS to the package index inside ansible-test venvs (seen on these machines, 2026-11).
    [ "$ver" = "3.12.1" ] && continue
    newest=$(printf '%s\n%s\n' "$best_ver" "$ver" | sort -V | tail -n1)
    if [ "$newest" = "$ver" ] && [ "$ver" != "$best_ver" ]; then
        best=$real best_ver=$ver
    fi
done

if [ -n "$best" ]; then
    echo "$best requirements/controller.txt"
else
    echo "$(python3 -c 'import sys; print(sys.executable)') requirements/controller-py311.txt"
fi
