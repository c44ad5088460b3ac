# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""No device left suspended by our code, even when the module process is killed.

A ``finally: resume`` does not run when the module process gets SIGKILL (an Ansible timeout,
the OOM killer, a user's ``kill -9``) while it holds a device suspended (a thin origin around
``create_snap``, a cache around the check of its live metadata). So, before it suspends:

1. ``ResumeGuard`` starts a watchdog: a small Python process in its own session whose
   standard input is a pipe from the module. The module writes ``resumed`` and closes the pipe
   once it has resumed the devices itself; a pipe that closes without it (the module died:
   the kernel closes its end, however it died) makes the watchdog run ``dmsetup resume`` on
   each device at once, then exit. The watchdog never outlives the pipe.
2. A marker file per device (``/run/sts-devicemapper/suspended/NAME``, holding the module's
   pid) is written before the suspend and removed after the resume; ``recover()`` at the start
   of the next changing run resumes every marked device whose run is gone (the watchdog died
   too) and says so in a warning.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import subprocess
import sys

MARKER_DIR = '/run/sts-devicemapper/suspended'
RESUMED = b'resumed\n'

# the watchdog: argv = [dmsetup, marker_dir, name...]; stdin = the pipe from the module
WATCHDOG = r'''
import os, subprocess, sys
data = b''
while True:
    try:
        chunk = os.read(0, 64)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
if data != b'resumed\n':
    for name in sys.argv[3:]:
        rc = subprocess.call([sys.argv[1], 'resume', name], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if rc == 0:
            try:
                os.unlink(os.path.join(sys.argv[2], name))
            except OSError:
                pass
'''


def pid_alive(pid):
    """True when a process of that pid exists (also one of another user)."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


class ResumeGuard(object):
    """``with ResumeGuard(dmsetup, names):`` around suspending ``names`` and resuming them.

    The block must resume the devices itself; the guard only acts when the process dies first.
    ``python``: the interpreter of the watchdog (this one)."""

    def __init__(self, dmsetup, names, marker_dir=MARKER_DIR, python=None, popen=subprocess.Popen):
        self.dmsetup = dmsetup
        self.names = list(names)
        self.marker_dir = marker_dir
        self.python = python or sys.executable
        self.popen = popen
        self.proc = None
        self.keep = []   # set by the block: names it could not resume (their markers stay)

    def _mark(self):
        try:
            os.makedirs(self.marker_dir, 0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        for name in self.names:
            path = os.path.join(self.marker_dir, name)
            with open(path + '.tmp', 'w') as handle:
                handle.write('%d\n' % os.getpid())
            os.rename(path + '.tmp', path)

    def _unmark(self):
        for name in self.names:
            if name in self.keep:
                continue
            try:
                os.unlink(os.path.join(self.marker_dir, name))
            except OSError:
                pass

    def __enter__(self):
        self._mark()
        # run_command waits for its child; the watchdog must run beside the module and outlive it
        # (an argv list, no shell, like everything else)
        self.proc = self.popen([self.python, '-c', WATCHDOG, self.dmsetup, self.marker_dir] + self.names,  # pylint: disable=ansible-bad-function
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               close_fds=True, start_new_session=True)
        return self

    def __exit__(self, *exc_info):
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                # the block has resumed the devices itself (or tried, and says so): the watchdog stands down
                proc.stdin.write(RESUMED)
                proc.stdin.close()
            except (IOError, OSError):
                pass
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._unmark()
        return False


def recover(resume, is_suspended, marker_dir=MARKER_DIR):
    """Resume the devices a killed run of ours left suspended (marked, its pid gone).

    ``resume(name) -> (rc, out, err)``, ``is_suspended(name) -> bool or None`` (None: no such
    device). Returns a list of what was found, one sentence each (for warnings)."""
    try:
        names = sorted(os.listdir(marker_dir))
    except OSError:
        return []
    said = []
    for name in names:
        if name.endswith('.tmp'):
            continue
        path = os.path.join(marker_dir, name)
        try:
            with open(path) as handle:
                pid = int(handle.read().split()[0])
        except (IOError, OSError, ValueError, IndexError):
            pid = None
        if pid is not None and pid != os.getpid() and pid_alive(pid):
            continue  # that run is still going: its own finally (or its watchdog) resumes
        state = is_suspended(name)
        if state:
            rc, out, err = resume(name)
            if rc == 0:
                said.append('%s was left suspended by an earlier run of this collection that was killed '
                            '(pid %s); it is resumed now' % (name, pid))
            else:
                said.append('%s was left suspended by an earlier run (pid %s) and could not be resumed: %s'
                            % (name, pid, (err or out).strip()))
                continue
        try:
            os.unlink(path)
        except OSError:
            pass
    return said
