"""bench suite `stack`: the module-run counting of the callback and the goal logic of evaluate().

bench/ is not part of the collection: like tests/unit/hack (which reaches hack/ by its path),
these find it from the work tree's root, put on sys.path here. The callback imports ansible's
CallbackBase, which every unit venv has.
"""

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
