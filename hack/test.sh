#!/usr/bin/env bash
# make test: the venv, the host packages and the installed collection first; then the lab stage
# (lab-test, when mk/lab.mk adds it) in the background while every other stage runs in the
# foreground, one after the other; then the lab stage's log, followed to its end; one verdict.
#
# Why beside each other: the lab stage is the emulated guests' CPU (TCG) for ~40 minutes, and the
# other stages leave one of this machine's two cores idle much of their ~12 minutes.
# What keeps the two apart:
# - the collection is installed once, before both; the foreground stages run with `make -o install`
#   (a reinstall under a running lab suite rewrites build/collections under its module runs), and
#   lab-test is told not to install (LAB_TEST_INSTALL=0);
# - the foreground runs at nice TEST_NICE (default 5): the guests, the long pole, come first, and the
#   foreground takes what they leave;
# - apt installs are serialised by hack/apt_ensure.py; the lab's STS_DM_INVENTORY stays in its process.
# A failed foreground stage does not stop the others or the lab stage: every stage's verdict is in
# the log. An interrupted make test stops the lab stage, which tears its guests down.
# Usage: hack/test.sh "FIRST STAGES" "STAGES" [LAB_STAGE]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
usage='usage: hack/test.sh "FIRST STAGES" "STAGES" [LAB_STAGE]'
first=${1:?$usage}
stages=${2:?$usage}
lab_stage=${3:-}
lab_dir=${LAB_DIR:-$PWD/.lab}
nice_level=${TEST_NICE:-5}
case $nice_level in
    ''|*[!0-9]*) echo "make test: TEST_NICE=$nice_level: expected a whole number from 0 to 19" >&2; exit 2 ;;
esac
start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start ))s"; }

# shellcheck disable=SC2086 # stage lists are words
make --no-print-directory $first || { echo "make test: FAILED in $(elapsed): $first" >&2; exit 1; }

lab_pid=
if [ -n "$lab_stage" ]; then
    mkdir -p "$lab_dir"
    log=$lab_dir/make-$lab_stage.log
    echo "make test [$(elapsed)]: $lab_stage runs in the background from now; its log: $log (followed at the end)"
    # a process group of its own (set -m), so that an interrupted make test stops all of it: make,
    # lab-test.sh (which tears its guests down on TERM) and its pytest runs; stdin from /dev/null
    # (with job control bash no longer does it, and a read from the terminal would stop the job)
    set -m
    LAB_TEST_INSTALL=0 make --no-print-directory "$lab_stage" </dev/null >"$log" 2>&1 &
    lab_pid=$!
    set +m
    trap 'kill -TERM -- "-$lab_pid" 2>/dev/null; wait "$lab_pid"; exit 130' INT TERM
fi

failed=()
for stage in $stages; do
    nice -n "$nice_level" make --no-print-directory -o install "$stage" || failed+=("$stage")
done

if [ -n "$lab_pid" ]; then
    echo
    echo "make test [$(elapsed)]: the foreground stages are done (${failed[*]:-all passed}); $lab_stage's log from its start:"
    echo "========== $lab_stage (in the background since the foreground began; $log) =========="
    # tail in the background and a wait on it: a trap runs at once during wait (not after a
    # foreground command ends); tail ends with the lab stage (--pid)
    tail -n +1 --pid="$lab_pid" -f "$log" &
    wait "$!"
    wait "$lab_pid"
    rc=$?
    trap - INT TERM
    [ "$rc" -eq 0 ] || failed+=("$lab_stage")
fi

if [ "${#failed[@]}" -gt 0 ]; then
    echo "make test: FAILED in $(elapsed): ${failed[*]}" >&2
    exit 1
fi
echo "make test: all stages passed in $(elapsed) ($first $stages${lab_stage:+ $lab_stage})"
