#!/usr/bin/env bash
# Usage: hack/collection-copy.sh DIR
# Copy the collection into DIR/ansible_collections/sts/devicemapper and print
# that path. ansible-test resolves symlinks and refuses a collection that is
# not really under ansible_collections/NS/NAME, so this is a copy. It takes
# the files git tracks plus the untracked ones not ignored, i.e. work in
# progress counts but venvs, build outputs and lab state do not.
set -euo pipefail

dest_root=${1:?usage: $0 DIR}
src=$(cd "$(dirname "$0")/.." && pwd)
ns=$(sed -nE 's/^namespace:[[:space:]]*([a-z0-9_]+).*/\1/p' "$src/galaxy.yml")
name=$(sed -nE 's/^name:[[:space:]]*([a-z0-9_]+).*/\1/p' "$src/galaxy.yml")
dest=$dest_root/ansible_collections/$ns/$name

rm -rf "$dest"
mkdir -p "$dest"
# --deleted lists files removed from the work tree but still in the index; skip them.
(cd "$src" && git ls-files -z -co --exclude-standard) |
    (cd "$src" && while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done) |
    tar -C "$src" --null --no-recursion -T - -cf - | tar -C "$dest" -xf -
echo "$dest"
