"""bench suite `fleet`: per-task times from the callback's records, the paired ratios, the
costliest tasks and the page, on a made-up run (bench/ is found from the work tree's root)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import fleet  # noqa: E402

HOSTS = {"d12": {"distro": "debian12"}, "d13": {"distro": "debian13"}}


def _sample(wall, tasks=None):
    hosts = dict((h, dict(module_runs=4, changed=3)) for h in HOSTS)
    return dict(wall_s=wall, rc=0, hosts=hosts, tasks=tasks or {})


def _round(index, one12, one13, both, warmup=False, tasks=None):
    row = dict(round=index, warmup=warmup)
    for key, wall in (("d12", one12), ("d13", one13), ("both", both)):
        row[key] = dict(converge=_sample(wall, tasks if key == "both" else None), teardown=_sample(wall / 2.0))
    return row


def _run(rounds):
    return dict(rounds=rounds, hosts=HOSTS, guests={}, facts=dict(nproc=2, cpu_model="x", os="y"),
                ansible_core="2.21", rounds_timed=len(rounds) - 1, warmup=1, order="o", inventory="i", finished="f")


def test_task_times_sum_a_task_per_host_and_leave_skipped_out():
    records = [
        dict(host="d12", task="r : build", status="ok", start=10.0, end=13.5),
        dict(host="d13", task="r : build", status="ok", start=10.0, end=12.0),
        dict(host="d12", task="r : build", status="ok", start=20.0, end=20.5),  # a loop's second item
        dict(host="d12", task="r : skip me", status="skipped", start=1.0, end=2.0),
        dict(host="d13", task="r : no start", status="ok", start=None, end=2.0),
    ]
    assert fleet.task_times(records) == {"r : build": {"d12": 4.0, "d13": 2.0}}


def test_ratio_pairs_rounds_and_leaves_the_warm_up_out():
    rounds = [_round(0, 10.0, 10.0, 100.0, warmup=True)] + [_round(i, 10.0, 20.0, 30.0) for i in range(1, 6)]
    fig = fleet.figures(_run(rounds))
    assert fig["ratio"][("d12", "converge")]["median"] == 3.0
    assert fig["ratio"][("d13", "converge")]["median"] == 1.5
    assert fig["wall"][("both", "converge")] == dict(median=30.0, min=30.0, max=30.0, n=5)
    assert fig["module_runs"][("both", "converge")] == [4]


def test_costliest_orders_by_the_slower_host_and_keeps_the_top():
    tasks = {"t%02d" % i: {"d12": float(i), "d13": float(20 - i)} for i in range(15)}
    rounds = [_round(0, 1, 1, 1, warmup=True)] + [_round(i, 1, 1, 2, tasks=tasks) for i in range(1, 6)]
    top = fleet.costliest(_run(rounds), top=3)
    # slower host: t00 20 (d13), t01 19, t14 14 (d12) ... so t00, t01, t02
    assert [name for name, _per in top] == ["t00", "t01", "t02"]
    assert top[0][1]["d13"]["median"] == 20.0 and top[0][1]["d12"]["median"] == 0.0


def test_render_shows_both_ratios_and_the_task_table(tmp_path, monkeypatch):
    # the plot needs matplotlib (requirements/bench.txt), which the unit venvs do not carry
    monkeypatch.setattr(fleet, "_plot", lambda run, figdir: "fleet-time.png")
    tasks = {"sts.devicemapper.thin_stack : build | pool": {"d12": 5.0, "d13": 6.0}}
    rounds = [_round(0, 1, 1, 1, warmup=True)] + [_round(i, 10.0, 12.0, 18.0, tasks=tasks) for i in range(1, 6)]
    md = "\n".join(fleet.render(dict(runs={"fleet": _run(rounds)}), str(tmp_path), "performance"))
    assert "| debian12 alone | 10.0 [10.0-10.0] | 4 | 5.0 [5.0-5.0] | 4 | 1.80x [1.80-1.80] |" in md
    assert "| debian13 alone | 12.0 [12.0-12.0] | 4 | 6.0 [6.0-6.0] | 4 | 1.50x [1.50-1.50] |" in md
    assert "build \\| pool | 5.00 [5.00-5.00] | 6.00 [6.00-6.00] |" in md
    assert "](performance/fleet-time.png)" in md
    assert fleet.evaluate(_run(rounds)) == []


def test_tasks_of_the_controller_get_their_own_column(tmp_path, monkeypatch):
    tasks = {"stack": {"d12": 5.0, "d13": 6.0}, "Write the report": {"localhost": 1.5}, "cheap": {"d12": 0.1}}
    rounds = [_round(i, 10.0, 12.0, 18.0, tasks=tasks) for i in range(5)]
    assert fleet.columns(_run(rounds)) == ["d12", "d13", "localhost"]
    top = fleet.costliest(_run(rounds), top=2)
    assert [name for name, _per in top] == ["stack", "Write the report"]
    assert top[1][1]["localhost"]["median"] == 1.5 and "d12" not in top[1][1]
    monkeypatch.setattr(fleet, "_plot", lambda run, figdir: "fleet-time.png")
    md = "\n".join(fleet.render(dict(runs={"fleet": _run(rounds)}), str(tmp_path), "performance"))
    assert "| task | debian12 | debian13 | controller |" in md
    assert "| Write the report | - | - | 1.50 [1.50-1.50] |" in md
    assert "| stack | 5.00 [5.00-5.00] | 6.00 [6.00-6.00] | - |" in md
    no_controller = {"stack": {"d12": 5.0, "d13": 6.0}}
    assert fleet.columns(_run([_round(i, 1, 1, 2, tasks=no_controller) for i in range(5)])) == ["d12", "d13"]
