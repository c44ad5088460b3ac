"""bench suite `dmpd`: the goal rows of evaluate() on a made-up run (bench/ is found from the work
tree's root)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import dmpd  # noqa: E402


def _sample(wall, hwm=20000):
    return dict(wall_s=wall, user_s=wall / 2, sys_s=0.0, self_hwm_kib=hwm, tree_maxrss_kib=hwm)


def _case(op, module_s):
    rounds = [dict(warmup=True, tool=_sample(9.0), module=_sample(99.0), **{"import": _sample(1.0)})]
    rounds += [dict(tool=_sample(1.0), module=_sample(module_s), **{"import": _sample(0.2)}) for _round in range(5)]
    return dict(op=op, rounds=rounds)


def test_a_size_the_run_did_not_measure_is_said_pending_not_dropped():
    run = dict(sizes=[dict(mappings=1000000, cases=[_case("check", 1.2)])])
    rows = dmpd.evaluate(run)
    measured = [r for r in rows if r["case"] == "dmpd_check, 1,000,000 mappings"]
    assert [r["met"] for r in measured] == [True, True]
    assert measured[0]["figure"].startswith("1.00x (1.00-1.00)")
    pending = [r for r in rows if r["case"] == "10,000,000 mappings"]
    assert [r["met"] for r in pending] == [None, None]
    assert pending[0]["figure"] == "not measured in this run (--mappings 10000000)"


def test_a_slow_module_is_not_met_with_its_extra_time():
    run = dict(sizes=[dict(mappings=m, cases=[_case("check", 1.5)]) for m in dmpd.DEFAULT_MAPPINGS])
    rows = dmpd.evaluate(run)
    assert len(rows) == 4 and not [r for r in rows if r["met"] is None]
    ratio = rows[0]
    assert ratio["met"] is False and ratio["why"].startswith("extra 0.300 s: ")
