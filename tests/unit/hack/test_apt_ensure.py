"""hack/apt_ensure.py against a fake apt-get that takes a lock the way apt does.

The fake fails at once when its lock is held (as apt-get does without DPkg::Lock::Timeout), so
whatever waiting there is, is apt_ensure's own.
"""

import os
import subprocess
import sys
import textwrap
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
APT_ENSURE = os.path.join(HERE, "..", "..", "..", "hack", "apt_ensure.py")

FAKE_APT_GET = textwrap.dedent("""\
    import fcntl, os, sys, time
    lock_path = os.environ["STS_APT_LOCKS"].split(":")[0]
    state, log = os.environ["FAKE_APT_STATE"], os.environ["FAKE_APT_LOG"]
    args = [a for a in sys.argv[1:] if not a.startswith("-") and "::" not in a]
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f"E: Could not get lock {lock_path}", file=sys.stderr)
        sys.exit(100)
    with open(log, "a") as f:
        f.write(f"start {os.getpid()} {time.monotonic()} {' '.join(args)}\\n")
    time.sleep(0.4)
    if args[0] == "install":
        with open(state, "a") as f:
            f.write("".join(p + "\\n" for p in args[1:]))
    with open(log, "a") as f:
        f.write(f"end {os.getpid()} {time.monotonic()}\\n")
""")

FAKE_DPKG_QUERY = textwrap.dedent("""\
    import os, sys
    with open(os.environ["FAKE_APT_STATE"]) as f:
        installed = set(f.read().split())
    rc = 0
    for pkg in sys.argv[4:]:
        if pkg in installed:
            print(f"{pkg}\\tinstall ok installed")
        else:
            print(f"dpkg-query: no packages found matching {pkg}", file=sys.stderr)
            rc = 1
    sys.exit(rc)
""")

HOLDER = textwrap.dedent("""\
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
""")


@pytest.fixture
def fake_apt(tmp_path):
    """An environment whose apt-get and dpkg-query are the fakes above, on locks under tmp_path."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, body in (("apt-get", FAKE_APT_GET), ("dpkg-query", FAKE_DPKG_QUERY), ("sudo", "")):
        path = bindir / name
        if name == "sudo":
            path.write_text('#!/bin/sh\nexec "$@"\n')
        else:
            path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(0o755)
    (tmp_path / "installed").write_text("coreutils\n")
    frontend = tmp_path / "lock-frontend"
    frontend.touch()
    env = dict(os.environ,
               PATH=f"{bindir}:{os.environ['PATH']}",
               STS_APT_LOCK=str(tmp_path / "own.lock"),
               STS_APT_LOCKS=str(frontend),
               FAKE_APT_STATE=str(tmp_path / "installed"),
               FAKE_APT_LOG=str(tmp_path / "apt.log"))
    return env


def run_ensure(env, *args, **popen):
    return subprocess.Popen([sys.executable, APT_ENSURE, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def apt_runs(env):
    """(start, end, args) of every fake apt-get run, in order."""
    if not os.path.exists(env["FAKE_APT_LOG"]):
        return []
    runs, starts = [], {}
    with open(env["FAKE_APT_LOG"]) as f:
        for line in f:
            kind, pid, stamp, *rest = line.split()
            if kind == "start":
                starts[pid] = (float(stamp), rest)
            else:
                begun, rest = starts.pop(pid)
                runs.append((begun, float(stamp), rest))
    return sorted(runs)


def installed(env):
    with open(env["FAKE_APT_STATE"]) as f:
        return set(f.read().split())


def test_two_installs_at_once_both_succeed_one_after_the_other(fake_apt):
    first = run_ensure(fake_apt, "qemu-utils", "debootstrap")
    second = run_ensure(fake_apt, "qemu-utils", "e2fsprogs")
    outs = [p.communicate(timeout=60) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    assert {"qemu-utils", "debootstrap", "e2fsprogs"} <= installed(fake_apt)
    runs = apt_runs(fake_apt)
    # update + install for the first, update + install of only what is still missing for the second
    assert [r[2][0] for r in runs] == ["update", "install", "update", "install"], runs
    # whichever came second installed only what the first had not: nothing twice
    first_install, second_install = (r[2][1:] for r in runs if r[2][0] == "install")
    assert len(first_install) == 2 and len(second_install) == 1, runs
    assert sorted(first_install + second_install) == ["debootstrap", "e2fsprogs", "qemu-utils"], runs
    for earlier, later in zip(runs, runs[1:]):
        assert earlier[1] <= later[0], f"apt-get runs overlap: {runs}"


def test_nothing_missing_runs_no_apt_get(fake_apt):
    proc = run_ensure(fake_apt, "coreutils")
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert apt_runs(fake_apt) == []


def test_waits_for_a_foreign_holder_and_names_it(fake_apt):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, fake_apt["STS_APT_LOCKS"], "2"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        begun = time.monotonic()
        proc = run_ensure(fake_apt, "--timeout", "60", "thin-provisioning-tools")
        err = proc.communicate(timeout=60)[1]
        assert proc.returncode == 0, err
        assert f"held by pid {holder.pid}" in err
        assert "thin-provisioning-tools" in installed(fake_apt)
        # apt-get ran only once the holder had let go
        assert apt_runs(fake_apt)[0][0] >= begun
    finally:
        holder.kill()
        holder.wait()


def test_a_holder_past_the_timeout_fails_clearly_and_runs_nothing(fake_apt):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, fake_apt["STS_APT_LOCKS"], "60"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        proc = run_ensure(fake_apt, "--timeout", "1", "shellcheck")
        err = proc.communicate(timeout=30)[1]
        assert proc.returncode == 1
        assert fake_apt["STS_APT_LOCKS"] in err and f"pid {holder.pid}" in err and "timeout" in err, err
        assert "Traceback" not in err
        assert apt_runs(fake_apt) == []
        assert "shellcheck" not in installed(fake_apt)
    finally:
        holder.kill()
        holder.wait()


def test_apt_get_failing_for_another_reason_is_reported(fake_apt, tmp_path):
    failing = tmp_path / "bin" / "apt-get"
    failing.write_text("#!/bin/sh\necho 'E: Unable to locate package nosuchpkg' >&2\nexit 100\n")
    proc = run_ensure(fake_apt, "nosuchpkg")
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 1
    assert "could not install nosuchpkg" in err and "rc=100" in err, err
