#!/usr/bin/env bash
# make test: the venvs, the host packages and the installed collection first; then the lab stage
# (LAB_STAGE, lab-test when mk/lab.mk is there) in the background while the other stages run one
# after the other in the foreground; then the lab stage's log, and one verdict for all.
# The lab stage is mostly emulated guests' CPU and the other stages leave a core idle much of the
# time: run together, make test ends when the lab does (CI: minutes earlier than one after the other).
# Usage: hack/test.sh "FIRST STAGES" "STAGES" [LAB_STAGE]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
first=${1:?usage: $0 "FIRST STAGES" "STAGES" [LAB_STAGE]}
stages=${2:?usage: $0 "FIRST STAGES" "STAGES" [LAB_STAGE]}
lab_stage=${3:-}
lab_dir=${LAB_DIR:-$PWD/.lab}
start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start ))s"; }

# shellcheck disable=SC2086 # stage lists are words
make --no-print-directory $first || { echo "make test: FAILED in $(elapsed): $first" >&2; exit 1; }

lab_pid=
if [ -n "$lab_stage" ]; then
    mkdir -p "$lab_dir"
    log=$lab_dir/make-$lab_stage.log
    echo "make test [$(elapsed)]: $lab_stage runs in the background from now; its log: $log (printed at the end)"
    make --no-print-directory "$lab_stage" >"$log" 2>&1 &
    lab_pid=$!
    # an interrupted make test stops the lab stage too (it tears its guests down on TERM)
    trap 'kill -TERM "$lab_pid" 2>/dev/null; wait "$lab_pid"; exit 130' INT TERM
fi

failed=()
for stage in $stages; do
    make --no-print-directory "$stage" || failed+=("$stage")
done

if [ -n "$lab_pid" ]; then
    echo
    echo "make test [$(elapsed)]: the other stages are done; waiting for $lab_stage"
    wait "$lab_pid"
    rc=$?
    trap - INT TERM
    echo "========== $lab_stage (ran in the background; $log) =========="
    cat "$log"
    [ "$rc" -eq 0 ] || failed+=("$lab_stage")
fi

if [ "${#failed[@]}" -gt 0 ]; then
    echo "make test: FAILED in $(elapsed): ${failed[*]}" >&2
    exit 1
fi
echo "make test: all stages passed in $(elapsed) ($first $stages${lab_stage:+ $lab_stage})"
