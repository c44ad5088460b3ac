#!/usr/bin/env bash
# Usage: hack/apt-ensure.sh PKG...
# Install the named Debian packages that are not installed yet (nothing to do costs one
# dpkg-query). The work is hack/apt_ensure.py's, the one installer every make target, hack/
# script and the lab use: it serialises concurrent installs and waits for apt's locks.
set -euo pipefail
exec python3 "$(dirname "$0")/apt_ensure.py" "$@"
