#!/usr/bin/env bash
# Usage: hack/venv.sh VENV PYTHON REQUIREMENTS
# (Re-)create VENV from PYTHON with exactly REQUIREMENTS. The Makefile calls it
# only when the requirements file or the interpreter changed (stamp file).
set -euo pipefail

venv=${1:?usage: $0 VENV PYTHON REQUIREMENTS}
python=${2:?usage: $0 VENV PYTHON REQUIREMENTS}
requirements=${3:?usage: $0 VENV PYTHON REQUIREMENTS}

# A controller venv is ~0.5 GiB and ansible-test's sanity venvs another ~1 GiB
# per Python; below this, installs fail half-way with confusing errors.
min_free_kib=$((3 * 1024 * 1024))
parent=$(dirname "$(realpath -m "$venv")")
free_kib=$(df -Pk "$parent" | awk 'NR == 2 { print $4 }')
if [ "$free_kib" -lt "$min_free_kib" ]; then
    echo "venv: only $((free_kib / 1024)) MiB free under $parent, need at least $((min_free_kib / 1024)) MiB" >&2
    exit 1
fi

if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian's own python3 ships venv/ensurepip separately.
    "$(dirname "$0")/apt-ensure.sh" python3-venv
fi

"$python" -m venv --clear "$venv"
# This machine's pip configuration names local index folders that may not exist;
# pip warns once per package about each. Keep the log readable.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
"$venv/bin/python" -m pip check
echo "venv: $venv ready ($("$venv/bin/python" --version), $("$venv/bin/python" -c "import ansible.release as r; print('ansible-core', r.__version__)"))"
