"""bench suite `dmpd`: the goal rows of evaluate() on a made-up run, and which hosts a run measures (bench/ is found from the work
tree's root)."""

import os
import sys

import pytest

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


def _opts(**kw):
    from bench import run as bench_run
    return bench_run.parser().parse_args([a for k, v in kw.items() for a in ("--" + k.replace("_", "-"), v)])


def test_make_bench_measures_the_debian13_guest_after_this_machine_unless_told_not():
    assert dmpd.needs_lab(_opts()) is True
    assert dmpd.needs_lab(_opts(dmpd_lab_hosts="")) is False
    assert dmpd.needs_lab(_opts(host="root@storage-a")) is False
    assert _opts().dmpd_lab_hosts == "debian13"


def test_lab_needed_follows_the_dmpd_options(capsys):
    # the hook mk/bench.mk asks before it brings the lab up
    from bench import run as bench_run
    bench_run.main(["--lab-needed", "--suite", "dmpd"])
    assert capsys.readouterr().out.split() == ["dmpd"]
    bench_run.main(["--lab-needed", "--suite", "dmpd", "--dmpd-lab-hosts", ""])
    assert capsys.readouterr().out.split() == []
    bench_run.main(["--lab-needed", "--suite", "dmpd", "--suite", "fleet", "--host", "root@storage-a"])
    assert capsys.readouterr().out.split() == ["fleet"]


def test_a_guest_is_labelled_by_its_distro_unless_the_distro_has_several():
    one = {"debian13-1": dict(distro="debian13", ssh=["ssh", "-p", "2201", "-l", "root", "127.0.0.1"])}
    assert dmpd.lab_targets(one) == [("debian13", "debian13-1", one["debian13-1"]["ssh"])]
    two = dict(one, **{"debian13-2": dict(distro="debian13", ssh=["ssh", "b"]),
                       "debian12-1": dict(distro="debian12", ssh=["ssh", "c"])})
    assert [t[:2] for t in dmpd.lab_targets(two)] == [("debian12", "debian12-1"), ("debian13-1", "debian13-1"),
                                                      ("debian13-2", "debian13-2")]


def test_guests_without_a_lab_inventory_fail_naming_it_before_any_work(monkeypatch, tmp_path):
    measured = []
    monkeypatch.setattr(dmpd, "_run_local", lambda opts, label: measured.append(label) or (label, {}))
    missing = str(tmp_path / "inventory.yml")
    with pytest.raises(SystemExit) as exc:
        list(dmpd.run(_opts(dmpd_inventory=missing)))
    message = str(exc.value)
    assert measured == []
    assert missing in message and "make lab-up" in message and "--dmpd-lab-hosts ''" in message


def test_host_measures_that_host_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(dmpd, "_run_local", lambda opts, label: calls.append(("local", label)))
    monkeypatch.setattr(dmpd, "_run_remote", lambda opts, label, host, ssh: calls.append((label, host, ssh)) or (label, {}))
    runs = list(dmpd.run(_opts(host="root@storage-a", ssh="ssh -p 2222", label="storage-a")))
    assert runs == [("storage-a", {})]
    assert calls == [("storage-a", "root@storage-a", ["ssh", "-p", "2222", "root@storage-a"])]
