# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host lock (_host_lock.HostLock) with real flock(2) on a file, held by real processes."""

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils import _host_lock
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._host_lock import HostLock
from ansible_collections.sts.devicemapper.plugins.module_utils._module_base import ModuleRunner

HOLDER = r'''
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.write(fd, b'%d sts-holder-marker\n' % os.getpid())
print('held', flush=True)
time.sleep(600)
'''


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock file (as another run of ours would); killed at the end."""
    path = str(tmp_path / 'sts-devicemapper.lock')
    proc = subprocess.Popen([sys.executable, '-c', HOLDER, path], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'held'
    yield path, proc
    proc.kill()
    proc.wait()


class FakeClock(object):
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_lock_is_held_inside_and_names_its_holder(tmp_path):
    path = str(tmp_path / 'lock')
    with HostLock(5, path=path, owner='sts.devicemapper.dm_device') as lock:
        with open(path) as handle:
            assert handle.read() == '%d sts.devicemapper.dm_device\n' % os.getpid()
        assert lock.waited < 5
    with open(path) as handle:
        assert handle.read() == ''
    # free again: another process takes it at once
    probe = subprocess.run([sys.executable, '-c', 'import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); '
                            'fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)', path], check=False)
    assert probe.returncode == 0


def test_a_held_lock_times_out_naming_the_holder_and_nothing_runs(holder):
    path, proc = holder
    clock = FakeClock()
    ran = []
    with pytest.raises(DmError) as err:
        with HostLock(3, path=path, clock=clock, sleep=clock.sleep):
            ran.append(True)
    assert ran == []
    msg = err.value.msg
    assert 'pid %d' % proc.pid in msg and 'sts-holder-marker' in msg, msg
    assert 'lock_timeout=3 seconds' in msg and path in msg and 'nothing was read or changed' in msg, msg
    assert err.value.details == {'lock': path}
    # it polled until the timeout, not once and not forever
    assert len(clock.sleeps) == int(3 / _host_lock.POLL_SECONDS) and clock.now >= 3


def test_the_lock_is_taken_once_the_holder_is_killed(holder):
    path, proc = holder
    waited = {}

    def sleep(seconds):
        if not waited:
            # the holder dies while we wait (SIGKILL: no clean-up of its own); the kernel drops its lock
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        waited[len(waited)] = seconds
        time.sleep(seconds)

    with HostLock(30, path=path, sleep=sleep) as lock:
        with open(path) as handle:
            assert handle.read() == '%d \n' % os.getpid()
    assert waited and lock.waited < 30


def test_two_waiters_get_the_lock_one_after_the_other(tmp_path):
    """Two processes taking the lock at once never hold it together."""
    path = str(tmp_path / 'lock')
    log = str(tmp_path / 'log')
    script = r'''
import sys, time
from ansible_collections.sts.devicemapper.plugins.module_utils._host_lock import HostLock
with HostLock(60, path=sys.argv[1]):
    with open(sys.argv[2], 'a') as log:
        log.write('in %s\n' % sys.argv[3])
    time.sleep(0.5)
    with open(sys.argv[2], 'a') as log:
        log.write('out %s\n' % sys.argv[3])
'''
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, '-c', script, path, log, str(i)], env=env) for i in range(3)]
    assert [p.wait() for p in procs] == [0, 0, 0]
    with open(log) as handle:
        lines = handle.read().split()
    pairs = list(zip(lines[0::4], lines[1::4], lines[2::4], lines[3::4]))
    assert len(pairs) == 3 and all(a == 'in' and c == 'out' and b == d for a, b, c, d in pairs), lines


@pytest.mark.parametrize('timeout', [-1, None])
def test_a_negative_or_missing_timeout_is_refused(timeout, tmp_path):
    with pytest.raises(DmError, match='lock_timeout: expected 0 or more seconds, got'):
        HostLock(timeout, path=str(tmp_path / 'lock'))


class _Module(object):
    _name = 'sts.devicemapper.dm_device'

    def __init__(self, check_mode, params=None):
        self.check_mode = check_mode
        self.params = dict(params or {}, lock_timeout=7)


class _Changing(ModuleRunner):
    locks = True


def test_runners_that_change_dm_state_lock_outside_check_mode():
    assert isinstance(_Changing(_Module(False)).lock(), HostLock)
    assert _Changing(_Module(False)).lock().timeout == 7
    assert _Changing(_Module(False)).lock().owner == 'sts.devicemapper.dm_device'
    assert not isinstance(_Changing(_Module(True)).lock(), HostLock)
    assert not isinstance(ModuleRunner(_Module(False)).lock(), HostLock)


def test_the_changing_runners_are_the_ones_that_lock():
    from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import (
        DeviceRunner, InfoRunner, MessageRunner)
    from ansible_collections.sts.devicemapper.plugins.module_utils._stack.base import StackRunner
    assert DeviceRunner.locks and MessageRunner.locks and StackRunner.locks
    assert not InfoRunner.locks
