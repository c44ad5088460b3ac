#!/usr/bin/env bash
# The lab stage: image -> up -> lab host tests -> on every host at once: dmpd tests, then dm tests
# -> molecule scenarios (LAB_TEST_MOLECULE: none by default, fleet, all, or a list) -> down.
# The fleet is always torn down, whatever fails. Every step runs even when an earlier test step
# failed (the fleet is up anyway); the exit status says whether all passed.
# Usage: lab/lab-test.sh   (settings from the environment, see docs/lab.md; VENV defaults to .venv)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

VENV=${VENV:-.venv}
LAB=("${LAB_PYTHON:-python3}" lab/lab.py)
LAB_DIR=${LAB_DIR:-$PWD/.lab}
LAB_TEST_DMPD=${LAB_TEST_DMPD:-1}
# the dmpd tests worth repeating on every guest carry this marker (tests/integration/pytest.ini)
LAB_TEST_DMPD_MARK=${LAB_TEST_DMPD_MARK:-guest}
# guests whose dmpd tools are the generation integration-local already runs in full on this
# machine (Debian 12: 0.9.0): only the tests that need their kernel (a live pool) run there, and
# the dm suite's bad-input test leaves out the dmpd modules' cases (tests/integration/args runs
# them here), which leaves the guests' CPU to the rest (every module run costs a TCG guest seconds)
LAB_TEST_DMPD_LIVE_ONLY=${LAB_TEST_DMPD_LIVE_ONLY:-debian12}
# the dm suite (tests/integration/dm) on every guest; 0 skips it
LAB_TEST_DM=${LAB_TEST_DM:-1}
# the molecule scenarios: all (molecule test --all), a space-separated list of scenario names, or
# none. Default none, still: every scenario passes on both guests with the stack modules (issue 12:
# one module run per stack), but on this machine's TCG the dm suite takes ~40 min per host and with
# the fleet scenario (10-13 min) make test would end within a few minutes of CI's 90 (2026-12-02
# estimate: ~86 min). `make lab-test LAB_TEST_MOLECULE=fleet` (site.yml: converge, idempotence,
# check mode, verify with the HTML report in Chromium, teardown) or `=all` runs them.
LAB_TEST_MOLECULE=${LAB_TEST_MOLECULE:-none}
# scenarios `all` leaves out: smoke builds a pool with plain dmsetup, none of our code (it stays
# for checking a host: molecule test -s smoke)
LAB_TEST_MOLECULE_EXCLUDE=${LAB_TEST_MOLECULE_EXCLUDE-smoke}
export VENV LAB_DIR
start=$(date +%s)
failed=()

elapsed() { echo "$(( $(date +%s) - start ))s"; }
step() { echo; echo "=== lab-test [$(elapsed)]: $*"; }

teardown() {
    local rc=$?
    trap - EXIT INT TERM
    step "down"
    "${LAB[@]}" down
    if [ "$rc" -eq 0 ] && [ "${#failed[@]}" -eq 0 ]; then
        echo "lab-test: passed in $(elapsed)"
    else
        echo "lab-test: FAILED in $(elapsed): ${failed[*]:-setup (rc=$rc)}" >&2
        [ "$rc" -eq 0 ] && rc=1
    fi
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

if [ ! -x "$VENV/bin/ansible" ] || [ ! -x "$VENV/bin/molecule" ]; then
    echo "lab-test: $VENV has no ansible or molecule; run make venv" >&2
    exit 1
fi

step "image"
"${LAB[@]}" image || exit 1
step "up"
"${LAB[@]}" up || exit 1
echo "lab-test: fleet up after $(elapsed)"

export STS_DM_INVENTORY="$LAB_DIR/inventory.yml"
venv_bin=$(cd "$VENV" && pwd)/bin
export PATH="$venv_bin:$PATH"

step "pytest tests/integration/lab"
"$VENV/bin/python" -m pytest -p no:cacheprovider tests/integration/lab || failed+=("tests/integration/lab")

# LAB_TEST_INSTALL=0: the collection is installed already (make test installs it once, before
# this stage and the stages beside it; a reinstall here would rewrite it under their runs)
installed=0
[ "${LAB_TEST_INSTALL:-1}" = 0 ] && installed=1
install_once() {
    # the dmpd and dm tests drive the installed collection
    [ "$installed" = 1 ] && return 0
    installed=1
    if make -n install >/dev/null 2>&1; then
        step "make install"
        make --no-print-directory install || failed+=("make install")
    fi
}

# every test phase of LAB_TEST_SLOWEST seconds or more goes into the log (pytest --durations), and
# lab-test prints them after the run: where the lab's time goes, per host
LAB_TEST_SLOWEST=${LAB_TEST_SLOWEST:-20}
DURATIONS=(--durations=0 "--durations-min=$LAB_TEST_SLOWEST")
slowest() {
    grep -E '^[0-9]+\.[0-9]+s (setup|call|teardown) ' "$2" | sed "s/^/lab-test: $1 slowest: /" || true
}

# The repeated trials of the dm suite (kills, dm_helpers.run_share) are shared out among the hosts
# by weight: a host whose dmpd work is left to this machine (LAB_TEST_DMPD_LIVE_ONLY) has that much
# less to do and takes LAB_TEST_COVERED_WEIGHT shares, every other host one (2 of 3 for Debian 12:
# in the CI rehearsal of 2026-12-06 the two hosts' suites then ended 45 s apart).
LAB_TEST_COVERED_WEIGHT=${LAB_TEST_COVERED_WEIGHT:-2}
# covered HOST: 1 when HOST's dmpd tools are the generation integration-local runs on this machine
covered() {
    local distro
    for distro in $LAB_TEST_DMPD_LIVE_ONLY; do
        case $1 in "$distro"-*) echo 1; return ;; esac
    done
    echo 0
}
weight() { if [ "$(covered "$1")" = 1 ]; then echo "$LAB_TEST_COVERED_WEIGHT"; else echo 1; fi; }

# One pipeline per host, all hosts at once: the dmpd tests, then the dm suite. A host whose dmpd
# tests are short (LAB_TEST_DMPD_LIVE_ONLY) starts its dm suite at once instead of waiting for the
# other host's. Each test run writes its own log, whose last line says how long it took.
host_tests() {
    local host=$1 first=$2 tests status=0 only=() covered
    # the dm tests marked one_host (their subject does not depend on the kernel) on the first host only
    [ "$first" = 1 ] || only=(-m "not one_host")
    covered=$(covered "$host")
    if [ "$LAB_TEST_DMPD" = 1 ] && compgen -G "tests/integration/dmpd/test_*.py" >/dev/null; then
        tests=tests/integration/dmpd
        [ "$covered" = 1 ] && tests=tests/integration/dmpd/test_dmpd_live_pool.py
        echo "lab-test [$(elapsed)]: pytest $tests on $host (log: $LAB_DIR/dmpd-$host.log)"
        # two workers, a file each (the live-pool tests of one file share a pool name)
        if STS_DM_HOSTS=$host "$VENV/bin/python" -m pytest -p no:cacheprovider -m "$LAB_TEST_DMPD_MARK" \
                -n 2 --dist loadfile "${DURATIONS[@]}" "$tests" >"$LAB_DIR/dmpd-$host.log" 2>&1; then
            echo "lab-test [$(elapsed)]: dmpd tests on $host passed: $(tail -n 1 "$LAB_DIR/dmpd-$host.log")"
            slowest "$host" "$LAB_DIR/dmpd-$host.log"
        else
            echo "lab-test [$(elapsed)]: dmpd tests on $host FAILED; the end of its log:" >&2
            tail -n 40 "$LAB_DIR/dmpd-$host.log" >&2
            echo "tests/integration/dmpd on $host" >>"$LAB_DIR/failed-$host"
            status=1
        fi
    fi
    if [ "$LAB_TEST_DM" = 1 ] && compgen -G "tests/integration/dm/test_*.py" >/dev/null; then
        # two workers (each test file owns its device names and its area of the data disks)
        echo "lab-test [$(elapsed)]: pytest tests/integration/dm on $host (log: $LAB_DIR/dm-$host.log)"
        # STS_DM_RUN_SHARE: this host's share of the repeated trials (dm_helpers.run_share);
        # STS_DM_DMPD_COVERED: test_bad_input leaves the dmpd modules' cases to integration-local
        if STS_DM_HOSTS=$host STS_DM_RUN_SHARE="$(weight "$host")/$run_weights" STS_DM_DMPD_COVERED=$covered \
                "$VENV/bin/python" -m pytest -p no:cacheprovider \
                -n 2 --dist loadfile "${only[@]}" "${DURATIONS[@]}" tests/integration/dm >"$LAB_DIR/dm-$host.log" 2>&1; then
            echo "lab-test [$(elapsed)]: dm tests on $host passed: $(tail -n 1 "$LAB_DIR/dm-$host.log")"
            slowest "$host" "$LAB_DIR/dm-$host.log"
            grep '^figures: ' "$LAB_DIR/dm-$host.log" | sed "s/^/lab-test: $host /" || true
            "${LAB[0]}" lab/figures.py "$host" "$LAB_DIR/dm-$host.log" | sed 's/^/lab-test: /'
        else
            echo "lab-test [$(elapsed)]: dm tests on $host FAILED; the end of its log:" >&2
            tail -n 40 "$LAB_DIR/dm-$host.log" >&2
            grep '^figures: ' "$LAB_DIR/dm-$host.log" | sed "s/^/lab-test: $host /" >&2 || true
            slowest "$host" "$LAB_DIR/dm-$host.log" >&2
            "${LAB[0]}" lab/figures.py "$host" "$LAB_DIR/dm-$host.log" | sed 's/^/lab-test: /' >&2
            echo "tests/integration/dm on $host" >>"$LAB_DIR/failed-$host"
            status=1
        fi
    fi
    return "$status"
}

if [ "$LAB_TEST_DMPD" = 1 ] || [ "$LAB_TEST_DM" = 1 ]; then
    install_once
    step "dmpd tests, then the dm suite, on every host at once"
    declare -A pids
    mapfile -t hosts < <("${LAB[@]}" hosts)
    [ "${#hosts[@]}" -gt 0 ] || { echo "lab-test: the lab lists no hosts" >&2; failed+=("lab hosts"); }
    run_weights=0
    for host in "${hosts[@]}"; do
        run_weights=$(( run_weights + $(weight "$host") ))
    done
    for i in "${!hosts[@]}"; do
        host=${hosts[$i]}
        rm -f "$LAB_DIR/failed-$host"
        host_tests "$host" "$(( i == 0 ))" &
        pids[$host]=$!
    done
    for host in "${!pids[@]}"; do
        if ! wait "${pids[$host]}"; then
            if [ -s "$LAB_DIR/failed-$host" ]; then
                while IFS= read -r what; do failed+=("$what"); done <"$LAB_DIR/failed-$host"
            else
                failed+=("host tests on $host")
            fi
        fi
        rm -f "$LAB_DIR/failed-$host"
    done
    echo "lab-test [$(elapsed)]: host tests done"
fi

if [ "$LAB_TEST_MOLECULE" != none ]; then
    # the fleet scenario opens the HTML fleet report in headless Chromium on this machine
    hack/apt-ensure.sh chromium || failed+=("apt-ensure chromium")
fi
if [ "$LAB_TEST_MOLECULE" = all ]; then
    install_once
    exclude=()
    for scenario in $LAB_TEST_MOLECULE_EXCLUDE; do exclude+=(--exclude "$scenario"); done
    step "molecule test --all ${exclude[*]}"
    "$VENV/bin/molecule" test --all "${exclude[@]}" || failed+=("molecule test --all")
elif [ "$LAB_TEST_MOLECULE" != none ]; then
    install_once
    for scenario in $LAB_TEST_MOLECULE; do
        step "molecule test -s $scenario"
        "$VENV/bin/molecule" test -s "$scenario" || failed+=("molecule $scenario")
    done
fi

[ "${#failed[@]}" -eq 0 ]
