"""bench suite `discovery`: the figures and goals of evaluate(), and the agent's listing checks.

bench/ is not part of the collection: like test_stack_bench, these find it from the work
tree's root. The agent runs on a guest beside its sibling _measure.py, which it imports as a
top-level module: it is loaded here from its file with bench._measure under that name (bench/
itself stays off sys.path, where its run.py and stack.py would shadow other modules).
"""

import importlib.util
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import _measure, discovery  # noqa: E402


def _load_agent():
    sys.modules.setdefault("_measure", _measure)
    spec = importlib.util.spec_from_file_location("bench_discovery_agent",
                                                  os.path.join(ROOT, "bench", "discovery_agent.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


discovery_agent = _load_agent()


def _round(index, floor=(0.1, 0.1, 0.1), inproc=0.33, module=1.0, pas=0.2, seed=None, warmup=False):
    row = dict(round=index, warmup=warmup, inproc=dict(wall_s=inproc, parse_s=inproc - sum(floor) + 0.01),
               module=dict(wall_s=module), **{"pass": dict(wall_s=pas)})
    for name, wall in zip(discovery.FLOOR, floor):
        row[name] = dict(wall_s=wall)
    if seed is not None:
        row["seed"] = dict(wall_s=seed, list_s=seed - 1.0)
        row["shell"] = dict(wall_s=seed / 2)
    return row


def _run(steps):
    return dict(hosts=dict(h13=dict(distro="debian13", steps=steps)))


def _step(n, rounds):
    return dict(n=n, rounds=rounds)


def _goal(rows, prefix):
    return [r for r in rows if r["goal"].startswith(prefix)][0]


def test_the_floor_is_the_sum_of_the_three_commands_and_the_warm_up_is_left_out():
    rounds = [_round(0, floor=(9.0, 9.0, 9.0), inproc=90.0, warmup=True)]
    rounds += [_round(i, floor=(0.1, 0.1, f)) for i, f in enumerate((0.1, 0.2, 0.3, 0.4, 0.5), 1)]
    fig = discovery.step_figures(_step(10, rounds))
    assert fig["floor"]["median"] == pytest.approx(0.5)
    assert fig["floor"]["max"] == pytest.approx(0.7)
    assert fig["floor"]["n"] == 5
    assert fig["inproc"]["median"] == pytest.approx(0.33)


def test_in_process_goal_holds_at_every_n_or_names_the_worst():
    good = [_round(i, inproc=0.33) for i in range(5)]
    bad = [_round(i, inproc=0.45) for i in range(5)]
    row = _goal(discovery.evaluate(_run([_step(10, good), _step(100, good)])), "in process")
    assert row["met"] is True
    assert row["figure"].startswith("N=10 1.10x")
    row = _goal(discovery.evaluate(_run([_step(10, good), _step(100, bad)])), "in process")
    assert row["met"] is False
    assert row["why"].startswith("N=100: 0.450 s in process")


def test_module_goal_bound_is_twice_the_floor_plus_a_bare_python():
    # bound = 2 * 0.3 + 0.2 = 0.8
    at = [_round(i, module=0.8) for i in range(5)]
    over = [_round(i, module=0.9) for i in range(5)]
    assert _goal(discovery.evaluate(_run([_step(10, at)])), "whole dm_info")["met"] is True
    row = _goal(discovery.evaluate(_run([_step(10, over)])), "whole dm_info")
    assert row["met"] is False
    assert "dm_info 0.900 s vs 2x 0.300 s + 0.200 s" in row["why"]


def test_seed_goal_is_pending_until_the_seed_ran_at_500():
    rounds = [_round(i, seed=50.0) for i in range(5)]
    row = _goal(discovery.evaluate(_run([_step(100, rounds)])), ">= 100x")
    assert row["met"] is None
    assert "not measured at N=500" in row["figure"]


def test_seed_goal_needs_both_the_process_and_its_listing_100x_slower():
    fast = [_round(i, module=1.0, seed=150.0) for i in range(5)]
    row = _goal(discovery.evaluate(_run([_step(500, fast)])), ">= 100x")
    assert row["met"] is True
    assert row["figure"].startswith("150x")
    slow = [_round(i, module=1.0, seed=100.5) for i in range(5)]  # the listing alone is 99.5x
    assert _goal(discovery.evaluate(_run([_step(500, slow)])), ">= 100x")["met"] is False


def test_seed_goal_not_met_says_where_the_module_run_goes():
    slow = [_round(i, module=2.0, inproc=0.5, seed=150.0) for i in range(5)]
    for r in slow:
        r["import"] = dict(wall_s=0.9)
    row = _goal(discovery.evaluate(_run([_step(500, slow)])), ">= 100x")
    assert row["met"] is False
    assert row["why"] == ("below 100x: dm_info 2.00 s is a whole module process, of which a bare import of "
                          "ansible.module_utils.basic takes 0.90 s and the discovery itself 0.50 s in process "
                          "(sts-libs 300x slower than that); the other 0.60 s go to starting Python, the module "
                          "around the discovery and its result (not measured apart)")


class _Cmd(object):
    def __init__(self, name, out):
        self.name = name
        self.out = out


def test_agent_refuses_a_listing_that_misses_devices_of_ours(tmp_path):
    out = tmp_path / "dm_info.json"
    prefix = discovery_agent.PREFIX
    devices = dict((prefix + "%04d" % i, dict(table=["0 8 linear 7:0 0"], status=[dict(type="linear")]))
                   for i in range(3))
    devices["other"] = dict(table=["0 8 zero"], status=[dict(type="zero")])
    out.write_text(json.dumps(dict(devices=devices)))
    sample = {}
    discovery_agent._verify(_Cmd("module", str(out)), sample, 3)
    assert sample == dict(devices=4, ours=3, complete=3)
    with pytest.raises(RuntimeError, match="module listed 3 of our 4 devices"):
        discovery_agent._verify(_Cmd("module", str(out)), {}, 4)
    devices[prefix + "0001"]["status"] = []
    out.write_text(json.dumps(dict(devices=devices)))
    with pytest.raises(RuntimeError, match="2 with table and status"):
        discovery_agent._verify(_Cmd("module", str(out)), {}, 3)


def test_agent_checks_the_seed_listing_by_its_counts(tmp_path):
    out = tmp_path / "seed.json"
    out.write_text(json.dumps(dict(devices=12, ours=10, tables=10, statuses=9, import_s=0.5, list_s=3.0)))
    with pytest.raises(RuntimeError, match="seed listed 10 of our 10 devices, 9 with table and status"):
        discovery_agent._verify(_Cmd("seed", str(out)), {}, 10)
