"""bench suite `stack`: the module-run counting of the callback, the goal logic of evaluate(), and the
stacks the suite builds: the floor scripts of the thin, cache and era stacks (stop at the first error,
remove every device in reverse order, the modules' tables, checks and known data, names of their own),
the roles' variables (loop files, never the inventory's disks; the sizes the modules read from them),
the seed library's command line and the results of a run of one stack.

bench/ is not part of the collection: like tests/unit/hack (which reaches hack/ by its path),
these find it from the work tree's root, put on sys.path here. The callback imports ansible's
CallbackBase, which every unit venv has; the known-data and role-variable tests import the
collection's module_utils (hack/unit.sh puts them on the path).
"""

import importlib
import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import stack  # noqa: E402


def _load_callback():
    path = os.path.join(ROOT, "bench", "callback_plugins", "module_runs.py")
    spec = importlib.util.spec_from_file_location("bench_module_runs", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cb = _load_callback()


@pytest.mark.parametrize("action", [
    "sts.devicemapper.dm_thin_stack", "dm_thin_stack", "ansible.builtin.command", "shell",
    "ansible.builtin.setup", "ansible.builtin.gather_facts", "ansible.legacy.stat",
])
def test_runs_module_on_the_host(action):
    assert cb.runs_module(action)


@pytest.mark.parametrize("action", [
    "ansible.builtin.set_fact", "set_fact", "ansible.builtin.assert", "debug", "ansible.builtin.meta",
    "ansible.builtin.validate_argument_spec", "include_tasks", "ansible.builtin.import_role",
    "include_role", "ansible.builtin.include_vars", "fail", "add_host", "", None,
])
def test_controller_side_actions_do_not_count(action):
    assert not cb.runs_module(action)


def test_summarize_counts_per_host_and_leaves_skipped_out():
    def r(host, action, status="ok", changed=False, start=10.0, end=11.0):
        return dict(host=host, action=action, status=status, changed=changed, start=start, end=end)
    hosts = cb.summarize([
        r("a", "ansible.builtin.validate_argument_spec", start=0.0, end=0.5),
        r("a", "sts.devicemapper.dm_thin_stack", changed=True, start=1.0, end=31.0),
        r("a", "ansible.builtin.set_fact", start=31.0, end=31.25),
        r("a", "ansible.builtin.assert", status="skipped"),
        r("b", "sts.devicemapper.dm_thin_stack", start=1.0, end=21.0),
        r("b", "ansible.builtin.command", status="failed", start=21.0, end=22.0),
    ])
    assert hosts["a"]["module_runs"] == 1
    assert hosts["a"]["module_actions"] == ["dm_thin_stack"]
    assert hosts["a"]["changed"] == 1
    assert hosts["a"]["skipped"] == 1
    assert hosts["a"]["task_s"] == pytest.approx(30.75)
    assert hosts["a"]["module_s"] == pytest.approx(30.0)
    assert hosts["b"]["module_runs"] == 2
    assert hosts["b"]["failed"] == 1
    assert hosts["b"]["changed"] == 0


# --- evaluate() ----------------------------------------------------------------------------------

HOSTS = ("h12", "h13")


def _round(index, converge, build, rerun_changed=0, rerun_runs=1, runs=1, warmup=False):
    def role(wall, changed, module_runs, task):
        per = dict(module_runs=module_runs, changed=changed, task_s=task, module_s=task - 1)
        return dict(wall_s=wall, rc=0, hosts=dict((h, dict(per)) for h in HOSTS))

    def floor(wall):
        return dict(wall_s=wall, hosts=dict((h, dict(wall_s=wall, rc=0, guest_s=wall - 1)) for h in HOSTS))
    return dict(round=index, warmup=warmup,
                role=dict(converge=role(converge, 1, runs, converge - 2),
                          rerun=role(20.0, rerun_changed, rerun_runs, 18.0),
                          check=role(20.0, 0, runs, 18.0), teardown=role(30.0, 1, runs, 28.0)),
                floor=dict(build=floor(build), teardown=floor(6.0)))


def _size(name, rounds):
    return dict(size=name, thins=3 if name == "small" else 25, volumes=2, snapshots=1, rounds=rounds,
                finished="now", role_vars={})


def _run(*sizes):
    return dict(sizes=list(sizes), hosts=dict(h12=dict(distro="debian12"), h13=dict(distro="debian13")))


def evaluate(run):
    return stack.evaluate(run)


def test_converge_goal_is_the_median_ratio_of_paired_rounds_without_the_warm_up():
    rounds = [_round(0, 500.0, 10.0, warmup=True)] + [_round(i, c, 20.0) for i, c in enumerate((50, 55, 60, 58, 70), 1)]
    rows = evaluate(_run(_size("small", rounds)))
    conv = [r for r in rows if r["goal"].startswith("first converge")][0]
    assert conv["met"] is True
    assert conv["figure"].startswith("2.90x (2.50-3.50)")
    rounds = [_round(i, c, 20.0) for i, c in enumerate((61, 62, 63, 64, 65))]
    conv = [r for r in evaluate(_run(_size("small", rounds))) if r["goal"].startswith("first converge")][0]
    assert conv["met"] is False and conv["why"]


def test_rerun_goal_needs_zero_changes_and_few_module_runs_in_every_round():
    ok = [_round(i, 50.0, 20.0) for i in range(5)]
    rerun = [r for r in evaluate(_run(_size("small", ok))) if r["goal"].startswith("re-run")][0]
    assert rerun["met"] is True
    one_change = ok[:4] + [_round(4, 50.0, 20.0, rerun_changed=1)]
    rerun = [r for r in evaluate(_run(_size("small", one_change))) if r["goal"].startswith("re-run")][0]
    assert rerun["met"] is False
    many = [_round(i, 50.0, 20.0, rerun_runs=4) for i in range(5)]
    rerun = [r for r in evaluate(_run(_size("small", many))) if r["goal"].startswith("re-run")][0]
    assert rerun["met"] is False


def test_same_module_runs_goal_compares_the_two_sizes_and_is_pending_with_one():
    small = _size("small", [_round(i, 50.0, 20.0) for i in range(5)])
    same = _size("thin20", [_round(i, 90.0, 40.0) for i in range(5)])
    more = _size("thin20", [_round(i, 90.0, 40.0, runs=21) for i in range(5)])
    goal = "module runs per host the same"

    def row(run):
        return [r for r in evaluate(run) if r["goal"].startswith(goal)][0]
    assert row(_run(small, same))["met"] is True
    assert row(_run(small, more))["met"] is False
    pending = row(_run(small))
    assert pending["met"] is None and "thin20 not measured yet" in pending["figure"]


# --- the stacks: floor scripts, role variables, seed --------------------------------------------

import hashlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

CREATE_RE = re.compile(r"dmsetup create (?:--readonly )?(\S+)(?: \|\| rc=\$\?)?$")
REMOVE_RE = re.compile(r"dmsetup remove --retry (\S+)$")


def _spec(size, who):
    names = dict(zip(("role", "floor", "seed"), stack.stack_names(size)))
    return stack.stack_spec(size, names[who])


def _lines(script):
    return script.rstrip("\n").split("\n")


def _created(script):
    return [m.group(1) for m in (CREATE_RE.search(line) for line in _lines(script)) if m]


def _removed(script):
    return [m.group(1) for m in (REMOVE_RE.search(line) for line in _lines(script)) if m]


@pytest.mark.parametrize("size", stack.SIZES)
@pytest.mark.parametrize("phase", stack.FLOOR_PHASES)
def test_floor_scripts_stop_at_the_first_error_and_time_themselves(size, phase):
    lines = _lines(stack.floor_script(_spec(size, "floor"), phase))
    assert lines[0] == "set -euo pipefail"
    assert lines[1] == "t0=$(date +%s.%N)"
    assert lines[-1] == 'echo "bench_guest=$t0 $(date +%s.%N)"'
    assert not [line for line in lines if "|| true" in line or "2>/dev/null" in line]


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
@pytest.mark.parametrize("size", stack.SIZES)
def test_floor_scripts_are_bash(size):
    spec = _spec(size, "floor")
    for script in [stack.floor_script(spec, p) for p in stack.FLOOR_PHASES] + [
            stack.floor_script(spec, "teardown", ignore_errors=True)]:
        proc = subprocess.run(["bash", "-n"], input=script, universal_newlines=True, stderr=subprocess.PIPE, check=False)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("size", stack.SIZES)
def test_floor_teardown_removes_every_device_in_reverse_order(size):
    spec = _spec(size, "floor")
    build, teardown = (stack.floor_script(spec, p) for p in stack.FLOOR_PHASES)
    created = _created(build)
    assert created[:len(stack.device_names(spec))] == stack.device_names(spec)
    kept = [n for n in created if n in stack.device_names(spec)]
    assert _removed(teardown) == list(reversed(kept))
    # a device made and removed within the build (the cache's check view) is gone before the build ends
    transient = [n for n in created if n not in kept]
    assert transient == _removed(build)
    image = "%s/%s/%s" % (stack.LOOP_DIR, spec["name"], "pool.img" if size in ("small", "thin20") else "backing.img")
    assert "losetup -j %s" % image in teardown and "losetup -d" in teardown
    assert "awk -v d=%s/%s/ " % (stack.LOOP_DIR, spec["name"]) in stack.floor_script(spec, "teardown", ignore_errors=True)
    assert _lines(teardown)[-2] == "rm -rf %s/%s" % (stack.LOOP_DIR, spec["name"])
    # the clean-up before the rounds removes the same devices (and the view), whatever is there
    cleanup = re.findall(r"dmsetup remove --retry (\S+)", stack.floor_script(spec, "teardown", ignore_errors=True))
    assert sorted(cleanup) == sorted(created)
    assert [n for n in cleanup if n in kept] == list(reversed(kept))


@pytest.mark.parametrize("size", stack.SIZES)
def test_the_floor_the_seed_and_the_role_build_stacks_of_their_own(size):
    role, floor, seed = (_spec(size, who) for who in ("role", "floor", "seed"))
    assert len({role["name"], floor["name"], seed["name"]}) == 3
    mine = set(stack.device_names(floor))
    for other in (role, seed):
        theirs = set(stack.device_names(other))
        assert not mine & theirs
        # no device of one is a prefix-sibling of the other's stack (<name>_...)
        assert not [n for n in mine if n == other["name"] or n.startswith(other["name"] + "_")]
    script = "".join(stack.floor_script(floor, p) for p in stack.FLOOR_PHASES)
    assert role["name"] + "_" not in script.replace(floor["name"], "") and " %s\n" % role["name"] not in script
    for path in re.findall(r"(/var/\S+|/dev/vd\S*)", script):
        assert path.startswith(stack.LOOP_DIR + "/" + floor["name"]), path


def test_all_stack_names_are_distinct_across_sizes():
    names = [n for size in stack.SIZES for n in stack.stack_names(size)]
    assert len(set(names)) == len(names)
    devices = [d for size in stack.SIZES for who in ("role", "floor", "seed")
               for d in stack.device_names(_spec(size, who))]
    assert len(set(devices)) == len(devices)


def _cache_floor():
    spec = _spec("cache", "floor")
    return spec, [stack.floor_script(spec, p) for p in stack.FLOOR_PHASES]


def test_cache_floor_is_the_modules_stack_and_check():
    spec, (build, teardown) = _cache_floor()
    s = spec["name"]
    lines = _lines(build)
    meta, cache = 8 * 2048, 64 * 2048
    origin = 256 * 2048 - meta - cache
    assert 'echo "0 %d linear $loop 0" | dmsetup create %s_cmeta' % (meta, s) in lines
    assert 'echo "0 %d linear $loop %d" | dmsetup create %s_cdata' % (cache, meta, s) in lines
    assert 'echo "0 %d linear $loop %d" | dmsetup create %s_corig' % (origin, meta + cache, s) in lines
    assert ('echo "0 %d cache /dev/mapper/%s_cmeta /dev/mapper/%s_cdata /dev/mapper/%s_corig 128 1 writethrough smq 0" '
            '| dmsetup create %s' % (origin, s, s, s, s)) in lines
    # cache_check of a read-only view of the live metadata, the cache suspended meanwhile and resumed after
    at = dict((key, [i for i, line in enumerate(lines) if key in line][0]) for key in (
        "dmsetup suspend %s" % s, "dmsetup create --readonly %s_cmeta_check" % s,
        "cache_check /dev/mapper/%s_cmeta_check" % s, "dmsetup resume %s" % s,
        "dmsetup remove --retry %s_cmeta_check" % s))
    assert sorted(at.values()) == list(at.values())
    # the resume does not depend on the check: the check's failure is kept in rc and fails the script after
    check = lines[at["cache_check /dev/mapper/%s_cmeta_check" % s]]
    assert check.endswith("|| rc=$?") and lines.index('[ $rc -eq 0 ]') > at["dmsetup resume %s" % s]
    tl = _lines(teardown)
    reload_at = [i for i, line in enumerate(tl) if "dmsetup reload %s" % s in line][0]
    assert "writethrough cleaner 0" in tl[reload_at]
    assert tl[reload_at + 1] == "dmsetup resume %s" % s
    assert "awk '{print $14}'" in tl[reload_at + 2]
    assert tl[reload_at + 3] == "dmsetup remove --retry %s" % s
    assert tl[reload_at + 4] == "cache_check /dev/mapper/%s_cmeta >/dev/null" % s
    assert tl[reload_at + 5] == '[ "$(readback /dev/mapper/%s_corig)" = "$want" ]' % s


def test_era_floor_reads_through_a_metadata_snapshot_never_suspending():
    spec = _spec("era", "floor")
    s = spec["name"]
    build, teardown = (stack.floor_script(spec, p) for p in stack.FLOOR_PHASES)
    lines = _lines(build)
    assert "dmsetup suspend" not in build
    assert 'echo "0 16384 linear /dev/mapper/%s_emeta 0" | dmsetup create --readonly %s_emeta_ro' % (s, s) in lines
    assert 'echo "0 %d era /dev/mapper/%s_emeta /dev/mapper/%s_eorig 128" | dmsetup create %s' \
        % (256 * 2048 - 16384, s, s, s) in lines
    take = lines.index("dmsetup message %s 0 take_metadata_snap" % s)
    drop = lines.index("dmsetup message %s 0 drop_metadata_snap" % s)
    between = lines[take + 1:drop]
    for tool in ("era_check /dev/mapper/%s_emeta_ro" % s, "era_invalidate --written-since 1",
                 "era_dump --logical -o"):
        hit = [line for line in between if tool in line]
        assert hit and hit[0].endswith("|| rc=$?"), tool
    assert lines[drop + 1] == "[ $rc -eq 0 ]"
    tl = _lines(teardown)
    assert tl.index("era_check /dev/mapper/%s_emeta >/dev/null" % s) == tl.index("dmsetup remove --retry %s_emeta_ro" % s) + 1


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
@pytest.mark.parametrize("kind", ["cache", "era"])
def test_floor_known_data_is_the_modules_byte_for_byte(kind):
    mod = importlib.import_module("ansible_collections.sts.devicemapper.plugins.module_utils._stack.%s" % kind)
    spec = _spec(kind, "floor")
    known = [line for line in _lines(stack.floor_script(spec, "build")) if line.startswith("known() {")][0]
    out = subprocess.run(["bash", "-c", known + "\nknown"], stdout=subprocess.PIPE, check=True).stdout
    assert len(out) == stack.KNOWN_DATA_BYTES
    assert hashlib.sha256(out).hexdigest() == hashlib.sha256(mod.known_data(spec["name"], len(out))).hexdigest()


def test_cache_and_era_role_vars_use_loop_files_not_the_inventorys_disks():
    cache = stack.role_vars(_spec("cache", "role"))
    assert cache["cache_stack_loop_dir"] == stack.LOOP_DIR
    for key in ("cache_stack_device", "cache_stack_origin_device", "cache_stack_cache_device",
                "cache_stack_metadata_device"):
        assert key in cache and cache[key] is None
    assert cache["cache_stack_workload"] is True and cache["cache_stack_verify"] is True
    era = stack.role_vars(_spec("era", "role"))
    assert era["era_stack_loop_dir"] == stack.LOOP_DIR
    for key in ("era_stack_device", "era_stack_origin_device", "era_stack_metadata_device"):
        assert key in era and era[key] is None
    assert era["era_stack_workload"] is True


def _module_params(role_vars, prefix):
    """The module's parameters as the role passes them (its tasks/main.yml: <prefix>loop_dir is dir)."""
    params = dict((k[len(prefix):], v) for k, v in role_vars.items())
    params["dir"] = params.pop("loop_dir")
    return params


def test_role_vars_ask_the_modules_for_what_the_floor_builds():
    cache_mod = importlib.import_module("ansible_collections.sts.devicemapper.plugins.module_utils._stack.cache")
    era_mod = importlib.import_module("ansible_collections.sts.devicemapper.plugins.module_utils._stack.era")
    spec = _spec("cache", "role")
    v = stack.role_vars(spec)
    c = cache_mod.CacheConfig(_module_params(v, "cache_stack_"))
    assert (c.loop_size, c.metadata_size, c.cache_size, c.block) == (256 * 2048, 8 * 2048, 64 * 2048, 128)
    assert (c.mode, c.policy, c.workload_bytes) == (spec["mode"], spec["policy"], stack.KNOWN_DATA_BYTES)
    assert c.backing == "loop" and c.dir == "%s/%s" % (stack.LOOP_DIR, spec["name"])
    origin = stack.cache_table(spec, "smq").split()[1]
    assert int(origin) == c.loop_size - c.metadata_size - c.cache_size
    v = stack.role_vars(_spec("era", "role"))
    e = era_mod.EraConfig(_module_params(v, "era_stack_"))
    assert (e.loop_sectors, e.metadata_sectors, e.block, e.since_era) == (256 * 2048, 8 * 2048, 128, 1)
    assert e.workload and e.workload_bytes == stack.KNOWN_DATA_BYTES and e.backing == "loop"


@pytest.mark.parametrize("size", stack.SIZES)
@pytest.mark.parametrize("phase", stack.ROLE_PHASES)
def test_playbook_runs_the_kinds_role_with_its_state(size, phase, tmp_path):
    kind = stack.KIND_OF[size]
    book = stack.Playbook("inv.yml", "lab", str(tmp_path / "vars.json"), str(tmp_path), kind)
    argv = book.argv(phase)
    playbook = argv[2]
    assert os.path.isfile(playbook) and os.path.basename(playbook) == "%s_stack.yml" % kind
    with open(playbook) as handle:
        assert "role: sts.devicemapper.%s_stack" % kind in handle.read()
    assert "%s_stack_state=%s" % (kind, "absent" if phase == "teardown" else "present") in argv
    assert ("--check" in argv) == (phase == "check")


def test_collections_path_can_be_pointed_elsewhere(monkeypatch):
    monkeypatch.delenv("STS_BENCH_COLLECTIONS", raising=False)
    assert stack._env()["ANSIBLE_COLLECTIONS_PATH"] == os.path.join(stack.REPO, "build", "collections")
    monkeypatch.setenv("STS_BENCH_COLLECTIONS", "/tmp/mine/collections")
    assert stack._env()["ANSIBLE_COLLECTIONS_PATH"] == "/tmp/mine/collections"


def test_seed_script_runs_stack_seed_with_the_thin_spec():
    spec = _spec("small", "seed")
    script = stack.seed_script(spec, "build")
    lines = _lines(script)
    assert lines[0] == "set -euo pipefail" and lines[-1] == 'echo "bench_guest=$t0 $(date +%s.%N)"'
    argv = __import__("shlex").split(lines[2])
    assert argv[0] == "PYTHONPATH=%s/seed" % stack.SEED_ROOT
    assert argv[1:4] == ["python3", "%s/stack_seed.py" % stack.SEED_ROOT, "build"]
    sent = json.loads(argv[4])
    assert sent["devices"] == stack.device_names(spec)
    assert sent["dev_ids"] == {"bench_seed_fs": 1, "bench_seed_raw": 2, "bench_seed_raw_snap": 3}
    assert sent["sectors"]["bench_seed_raw_snap"] == sent["sectors"]["bench_seed_raw"] == 128 * 2048
    assert sent["loop_dir"] == stack.LOOP_DIR and sent["pool_sectors"] == stack.POOL_MIB * 2048


def test_a_run_of_one_stack_keeps_the_others_earlier_figures():
    previous = dict(controller=dict(finished="yesterday"), sizes=[dict(size="small", n=1), dict(size="thin20", n=2)])
    sizes = stack.merge_sizes({"cache": dict(size="cache", kind="cache")}, previous)
    assert [s["size"] for s in sizes] == ["small", "thin20", "cache"]
    assert sizes[0]["kept_from"] == "yesterday" and "kept_from" not in sizes[2]
    again = stack.merge_sizes({}, dict(controller=dict(finished="today"), sizes=sizes))
    assert again[0]["kept_from"] == "yesterday"


def _kind_size(kind, rounds):
    return dict(size=kind, kind=kind, rounds=rounds, finished="now", role_vars={})


def test_cache_and_era_get_the_converge_and_rerun_goals_and_are_pending_until_measured():
    small = _size("small", [_round(i, 50.0, 20.0) for i in range(5)])
    rows = evaluate(_run(small))
    pending = [r for r in rows if r["met"] is None and r["case"].startswith(("cache", "era"))]
    assert len(pending) == 4 and all("--stack-size" in r["figure"] for r in pending)
    cache = _kind_size("cache", [_round(i, 40.0, 20.0) for i in range(5)])
    era = _kind_size("era", [_round(i, 70.0, 20.0, rerun_runs=4) for i in range(5)])
    rows = evaluate(_run(small, cache, era))
    by = dict(((r["case"].split(" ")[0], r["goal"].split(" ")[0]), r) for r in rows)
    assert by[("cache", "first")]["met"] is True and by[("cache", "re-run:")]["met"] is True
    assert by[("era", "first")]["met"] is False and "dm_era_stack" in by[("era", "first")]["why"]
    assert by[("era", "re-run:")]["met"] is False
    assert not [r for r in rows if r["met"] is None and r["case"].startswith(("cache", "era"))]
    assert stack.PENDING_TARGETS == ()


def test_seed_figures_pair_the_seed_with_the_floor_of_the_same_round():
    rounds = []
    for i, seed_build in enumerate((30.0, 40.0, 50.0, 60.0, 70.0)):
        r = _round(i, 50.0, 20.0)
        r["seed"] = dict(build=dict(wall_s=seed_build, hosts=dict((h, dict(wall_s=seed_build, rc=0)) for h in HOSTS)),
                         teardown=dict(wall_s=12.0, hosts=dict((h, dict(wall_s=12.0, rc=0)) for h in HOSTS)))
        rounds.append(r)
    fig = stack.phase_figures(_size("small", rounds), HOSTS)
    assert fig["seed_ratio"]["build"]["median"] == pytest.approx(2.5)
    assert fig["seed_ratio"]["teardown"]["median"] == pytest.approx(2.0)
    assert "seed" not in stack.phase_figures(_size("small", [_round(i, 50.0, 20.0) for i in range(5)]), HOSTS)
