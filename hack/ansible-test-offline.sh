#!/usr/bin/env bash
# Usage: hack/ansible-test-offline.sh VENV
# ansible-test bootstraps pip in each venv it creates by running a get-pip.py
# that it downloads from a host these machines cannot reach, unless a copy
# sits in its cache (~/.ansible/test/cache/get_pip_<ver>.py). Seed that cache
# with a stand-in that does the same job from ensurepip's bundled pip and the
# package index: `get-pip.py [pip options] pip==X` == ensurepip + pip install.
set -euo pipefail

venv=${1:?usage: $0 VENV}
cache=${ANSIBLE_TEST_CACHE:-$HOME/.ansible/test/cache}
marker='# sts.devicemapper offline get-pip stand-in'

reqs=$(echo "$venv"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py)
[ -f "$reqs" ] || { echo "ansible-test-offline: no ansible-test in $venv" >&2; exit 1; }

# The pip versions this ansible-test pins for its venvs (default and per-Python overrides).
versions=$(grep -oE "pip='[0-9][0-9.]*'" "$reqs" | grep -oE "[0-9][0-9.]*" | sort -u)
[ -n "$versions" ] || { echo "ansible-test-offline: no pip version found in $reqs" >&2; exit 1; }

mkdir -p "$cache"
for ver in $versions; do
    dest=$cache/get_pip_${ver//./_}.py
    # Never replace a real get-pip.py that someone put there by hand.
    if [ -f "$dest" ] && ! head -n1 "$dest" | grep -qF "$marker"; then
        continue
    fi
    cat > "$dest.tmp" <<PY
$marker (pip $ver)
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
if '--no-setuptools' in sys.argv:
    # ensurepip of Python < 3.12 also installs setuptools; get-pip.py would not have.
    subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet', 'setuptools'],
                    stderr=subprocess.DEVNULL)
PY
    mv "$dest.tmp" "$dest"
done
