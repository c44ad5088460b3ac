#!/usr/bin/env bash
# make demo: the main job on the built-in lab fleet, from nothing.
# venv and the collection (make install) -> lab image (built once, then cached outside the
# repo) -> lab up (Debian 12 + Debian 13 guests) -> playbooks/site.yml across the fleet (thin,
# cache and era stacks, with ansible's task-by-task progress) -> the fleet report, printed and
# written to $STS_REPORT_DIR (default ./sts-reports) as Markdown, JSON and HTML -> lab down.
# KEEP=1 keeps the fleet and its stacks up afterwards (tear down: the teardown playbook, then make lab-down).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

VENV=${VENV:-.venv}
KEEP=${KEEP:-0}
LAB=("${LAB_PYTHON:-python3}" lab/lab.py)
LAB_DIR=${LAB_DIR:-$PWD/.lab}
STS_REPORT_DIR=${STS_REPORT_DIR:-$PWD/sts-reports}
export LAB_DIR
start=$(date +%s)
step() { echo; echo "=== demo [$(( $(date +%s) - start ))s]: $*"; }

make --no-print-directory install || exit 1

started_lab=0
finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$started_lab" = 1 ] && [ "$KEEP" != 1 ]; then
        step "lab down (KEEP=1 keeps the fleet)"
        "${LAB[@]}" down
    elif [ "$started_lab" = 1 ]; then
        echo "demo: the fleet is still up (KEEP=1): inventory $LAB_DIR/inventory.yml;" \
             "tear down with: $VENV/bin/ansible-playbook -i $LAB_DIR/inventory.yml sts.devicemapper.teardown && make lab-down"
    fi
    echo "demo: $([ "$rc" -eq 0 ] && echo finished || echo FAILED) in $(( $(date +%s) - start ))s"
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

step "lab image"
"${LAB[@]}" image || exit 1
step "lab up"
# only a fleet this run started is stopped at the end; guests already running stay as they were
up_log=$(mktemp)
started_lab=1
"${LAB[@]}" up | tee "$up_log"
up_rc=${PIPESTATUS[0]}
grep -q '^lab: started ' "$up_log" || started_lab=0
rm -f "$up_log"
[ "$up_rc" -eq 0 ] || exit 1

step "site.yml across the fleet"
ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-0} ANSIBLE_HOST_KEY_CHECKING=False \
    "$VENV/bin/ansible-playbook" -i "$LAB_DIR/inventory.yml" sts.devicemapper.site \
    -e "sts_report_dir=$STS_REPORT_DIR" || exit 1

step "fleet report ($STS_REPORT_DIR/fleet-report.md, fleet-report.json, fleet-report.html)"
cat "$STS_REPORT_DIR/fleet-report.md"
echo
echo "demo: the HTML report (tables and charts; opens without a network): file://$STS_REPORT_DIR/fleet-report.html"
