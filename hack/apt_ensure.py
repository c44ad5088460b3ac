"""Install the Debian packages that are missing, whoever else is using apt at the time.

    python3 hack/apt_ensure.py [--timeout SECONDS] PKG...

The one installer of Debian packages for every make target, hack/ script and the lab.
Packages already installed cost one dpkg-query and nothing else. Otherwise:

- installs of this project serialise on a lock of their own (two lab image builds, a make
  target and a helper starting at once install one after the other, and the second finds the
  packages already there);
- apt's own locks held by someone else (unattended-upgrades, another apt-get) are waited
  for, up to the timeout, with a message naming the process that holds them; apt-get itself
  is also told to wait (DPkg::Lock::Timeout) for a holder that slips in between;
- the package lists are refreshed once before installing (a fresh machine has none).

Settings from the environment: STS_APT_LOCK_TIMEOUT (seconds, default 900), and for tests
STS_APT_LOCK (this project's lock file) and STS_APT_LOCKS (apt's lock files, colon-separated).
"""

import argparse
import fcntl
import os
import shutil
import struct
import subprocess
import sys
import time

OWN_LOCK = "/run/lock/sts-devicemapper-apt.lock"
# apt-get update takes the lists lock; install the archives lock, dpkg's frontend lock and
# dpkg's own lock.
APT_LOCKS = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock",
             "/var/lib/apt/lists/lock", "/var/cache/apt/archives/lock")
DEFAULT_TIMEOUT = 900
POLL_SECONDS = 0.5
# how often a wait says that it is still waiting
REPORT_EVERY = 30


def say(msg):
    print(f"apt-ensure: {msg}", file=sys.stderr, flush=True)


class Failed(Exception):
    """The packages could not be installed; the message says why."""


def missing_packages(packages):
    """The packages of the list that dpkg does not report as installed."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Status}\n", *packages],
                         capture_output=True, text=True, check=False).stdout
    installed = {line.split("\t", 1)[0].split(":", 1)[0] for line in out.splitlines()
                 if line.endswith("\tinstall ok installed")}
    return [p for p in packages if p not in installed]


def _inode_holders():
    """(device, inode) -> pids holding a lock on it, from /proc/locks."""
    holders = {}
    try:
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return holders
    for line in lines:
        fields = line.split()
        # "1: POSIX  ADVISORY  WRITE 3498 fe:00:398611 0 EOF"; blocked waiters carry "->"
        if len(fields) < 6 or fields[1] == "->":
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            holders.setdefault((int(major, 16), int(minor, 16), int(inode)), set()).add(pid)
        except ValueError:
            continue
    return holders


def describe_holder(path):
    """'pid N (command line)' for the processes holding a lock on path, or a plain phrase."""
    try:
        st = os.stat(path)
    except OSError:
        return "an unknown process"
    key = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    pids = sorted(_inode_holders().get(key, ()))
    if not pids:
        return "an unknown process"
    parts = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        parts.append(f"pid {pid} ({cmd[:120]})")
    return ", ".join(parts)


# struct flock on Linux: l_type, l_whence (short), l_start, l_len (off_t), l_pid (int)
_FLOCK = "hhqqi4x"


def _lock_is_held(path):
    """Whether another process holds apt's fcntl lock on path (asked with F_GETLK: taking
    nothing, so an apt-get starting at that moment cannot trip over the question)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        probe = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        l_type = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, probe))[0]
    finally:
        os.close(fd)
    return l_type != fcntl.F_UNLCK


def wait_for_apt_locks(locks, deadline):
    """Return once none of apt's locks is held; raise Failed naming the holder at the deadline."""
    last_report = None
    while True:
        held = [p for p in locks if _lock_is_held(p)]
        if not held:
            return
        now = time.monotonic()
        if now >= deadline:
            raise Failed(f"{held[0]} is still held by {describe_holder(held[0])} after the timeout; "
                         f"wait for it to finish (or set STS_APT_LOCK_TIMEOUT) and run again")
        if last_report is None or now - last_report >= REPORT_EVERY:
            say(f"waiting for {held[0]}, held by {describe_holder(held[0])} "
                f"(up to {deadline - now:.0f} s more)")
            last_report = now
        time.sleep(POLL_SECONDS)


def take_own_lock(path, deadline):
    """Hold this project's install lock (an open file with a flock) until the process ends."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # not a with-block: the flock lasts as long as the file is open, until ensure() closes it
    f = open(path, "a+")
    reported = False
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                f.seek(0)
                raise Failed(f"another install of this project (pid {f.read().strip() or '?'}) still "
                             f"holds {path} after the timeout")
            if not reported:
                f.seek(0)
                say(f"waiting for another install of this project (pid {f.read().strip() or '?'}) to finish")
                reported = True
            time.sleep(POLL_SECONDS)
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def _apt_get(args, locks, deadline, env):
    """Run apt-get ARGS, waiting for apt's locks before and, should it lose a race, after."""
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    while True:
        wait_for_apt_locks(locks, deadline)
        remaining = max(1, int(deadline - time.monotonic()))
        cmd = [*sudo, "apt-get", "-o", f"DPkg::Lock::Timeout={remaining}", *args]
        proc = subprocess.run(cmd, env=env, check=False)
        if proc.returncode == 0:
            return
        if time.monotonic() < deadline and any(_lock_is_held(p) for p in locks):
            # someone took a lock between our look and apt-get's: wait for them and try again
            continue
        raise Failed(f"'{' '.join(cmd)}' failed (rc={proc.returncode}); its messages are above")


def ensure(packages, timeout=None, own_lock=None, locks=None):
    """Install whichever of packages are missing; raise Failed with the reason if that fails."""
    if timeout is None:
        timeout = float(os.environ.get("STS_APT_LOCK_TIMEOUT", DEFAULT_TIMEOUT))
    own_lock = own_lock or os.environ.get("STS_APT_LOCK", OWN_LOCK)
    if locks is None:
        locks = os.environ["STS_APT_LOCKS"].split(":") if os.environ.get("STS_APT_LOCKS") else APT_LOCKS
    packages = list(dict.fromkeys(packages))
    if not missing_packages(packages):
        return []
    if os.geteuid() != 0 and not shutil.which("sudo"):
        raise Failed(f"missing Debian packages {' '.join(missing_packages(packages))}; "
                     f"install them as root: apt-get install {' '.join(missing_packages(packages))}")
    deadline = time.monotonic() + timeout
    lock = take_own_lock(own_lock, deadline)
    try:
        # whoever held the lock before us may have installed some of them
        todo = missing_packages(packages)
        if not todo:
            return []
        say(f"installing {' '.join(todo)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _apt_get(["update", "-qq"], locks, deadline, env)
        _apt_get(["install", "-y", "-qq", "--no-install-recommends", *todo], locks, deadline, env)
        still = missing_packages(todo)
        if still:
            raise Failed(f"apt-get reported success but {' '.join(still)} is not installed")
        return todo
    finally:
        lock.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds to wait for apt's locks (default STS_APT_LOCK_TIMEOUT or {DEFAULT_TIMEOUT})")
    parser.add_argument("packages", nargs="+", metavar="PKG")
    args = parser.parse_args(argv)
    try:
        ensure(args.packages, timeout=args.timeout)
    except Failed as e:
        say(f"could not install {' '.join(args.packages)}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
