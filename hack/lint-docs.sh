#!/usr/bin/env bash
# Usage: hack/lint-docs.sh VENV
# antsibull-docs lint-collection-docs --plugin-docs: it loads the plugins
# through ansible-doc, so it runs on a copy laid out as ansible_collections/NS/NAME.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=$(cd "${1:?usage: $0 VENV}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sts-lint-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
coll=$("$here/hack/collection-copy.sh" "$tmp")
PATH=$venv/bin:$PATH "$venv/bin/antsibull-docs" lint-collection-docs --plugin-docs "$coll"
