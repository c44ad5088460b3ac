#!/usr/bin/env bash
# Usage: hack/docs.sh VENV NS.NAME OUTDIR
# The collection's HTML site (module and role pages) from the collection as
# installed where ansible finds it from the repository root (`make install`, ansible.cfg): antsibull-docs
# sphinx-init writes a Sphinx project into build/docs-src, antsibull-docs
# collection renders the RST, sphinx-build makes OUTDIR/html. Offline: the
# intersphinx inventories (python, jinja2, ansible docs) cannot be fetched
# here, so intersphinx gets no mapping.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=$(cd "${1:?usage: $0 VENV NS.NAME OUTDIR}" && pwd)
fqcn=${2:?usage: $0 VENV NS.NAME OUTDIR}
out=${3:?usage: $0 VENV NS.NAME OUTDIR}
case $out in /*) ;; *) out=$here/$out ;; esac
export PATH=$venv/bin:$PATH

src=$here/build/docs-src
rm -rf "$src"
# antsibull-docs wants its directories owned by us and writable by us only.
mkdir -p "$src"
chmod 700 "$src"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$src" \
    --project "$fqcn" --title "$fqcn" --no-add-antsibull-docs-version "$fqcn" >/dev/null
echo 'intersphinx_mapping = {}  # offline build: no inventories to fetch' >> "$src/conf.py"

mkdir -p "$src/rst"
chmod 700 "$src/rst"
antsibull-docs --config-file "$src/antsibull-docs.cfg" collection --use-current --fail-on-error \
    --cleanup everything --dest-dir "$src/rst" "$fqcn"

rm -rf "$out"
sphinx-build -q --keep-going -w "$src/warnings.log" -c "$src" -b html "$src/rst" "$out/html"
# Labels of the Ansible docs (ansible_configuration_settings, other collections'
# modules ...) stay unresolved without intersphinx: tolerated. Any other
# warning, including a broken reference inside this collection, fails.
ns_label="ansible_collections.${fqcn}."
if grep -v "WARNING: undefined label: '" "$src/warnings.log" | grep . ||
   grep "WARNING: undefined label: '${ns_label//./\\.}" "$src/warnings.log"; then
    echo "docs: sphinx warnings above (full list: $src/warnings.log)" >&2
    exit 1
fi
echo "docs: $out/html/index.html ($(grep -c . "$src/warnings.log" || true) tolerated unresolved links to the Ansible docs)"
