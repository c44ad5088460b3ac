# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resume guard (_dm.resume_guard): real processes, real SIGKILL, a stand-in dmsetup that logs
what it is asked (this machine has no kernel device-mapper; the lab's fault suites run the real one)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from test_dm_ops import StatefulKernel, thin_kernel, snapshot

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DmHost
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.resume_guard import ResumeGuard, recover

COLLECTIONS = os.environ.get('PYTHONPATH', '')


@pytest.fixture
def fake_dmsetup(tmp_path):
    """An executable that appends its argv to a log; returns (path, read_log)."""
    log = tmp_path / 'dmsetup.log'
    path = tmp_path / 'dmsetup'
    path.write_text('#!%s\nimport sys\nwith open(%r, "a") as f:\n    f.write(" ".join(sys.argv[1:]) + "\\n")\n'
                    % (sys.executable, str(log)))
    path.chmod(0o755)

    def read_log():
        return log.read_text().splitlines() if log.exists() else []
    return str(path), read_log


def _wait_for(predicate, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_run_that_resumes_itself_makes_the_watchdog_stand_down(fake_dmsetup, tmp_path):
    dmsetup, log = fake_dmsetup
    markers = tmp_path / 'markers'
    with ResumeGuard(dmsetup, ['origin', 'other'], marker_dir=str(markers)) as guard:
        assert sorted(os.listdir(str(markers))) == ['origin', 'other']
        assert (markers / 'origin').read_text() == '%d\n' % os.getpid()
        proc = guard.proc
        assert proc.poll() is None
    assert proc.returncode == 0 and os.listdir(str(markers)) == []
    time.sleep(0.2)
    assert log() == []


def test_the_marker_of_a_device_the_run_could_not_resume_stays(fake_dmsetup, tmp_path):
    dmsetup, log = fake_dmsetup
    markers = tmp_path / 'markers'
    with ResumeGuard(dmsetup, ['origin', 'other'], marker_dir=str(markers)) as guard:
        guard.keep = ['other']
    assert os.listdir(str(markers)) == ['other'] and log() == []


KILLED = textwrap.dedent('''
    import os, signal, sys
    from ansible_collections.sts.devicemapper.plugins.module_utils._dm.resume_guard import ResumeGuard
    guard = ResumeGuard(sys.argv[1], ['origin', 'snap-origin'], marker_dir=sys.argv[2])
    guard.__enter__()
    print(guard.proc.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)   # as an Ansible timeout or kill -9 would, mid-suspend
''')


def test_a_killed_run_has_its_devices_resumed_by_the_watchdog(fake_dmsetup, tmp_path):
    dmsetup, log = fake_dmsetup
    markers = tmp_path / 'markers'
    proc = subprocess.run([sys.executable, '-c', KILLED, dmsetup, str(markers)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=COLLECTIONS), check=False, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    watchdog = int(proc.stdout.split()[0])
    assert _wait_for(lambda: log() == ['resume origin', 'resume snap-origin']), log()
    # the watchdog removed the markers of what it resumed, and is gone
    assert _wait_for(lambda: os.listdir(str(markers)) == [])
    assert _wait_for(lambda: not os.path.exists('/proc/%d' % watchdog) or
                     open('/proc/%d/stat' % watchdog).read().split()[2] == 'Z')


def _marker(markers, name, pid):
    markers.mkdir(exist_ok=True)
    (markers / name).write_text('%d\n' % pid)


def test_the_next_run_resumes_what_a_killed_run_left_suspended(tmp_path):
    markers = tmp_path / 'markers'
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    alive = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        _marker(markers, 'left', dead.pid)          # suspended, its run is gone: resumed
        _marker(markers, 'busy', alive.pid)         # its run still goes: not touched
        _marker(markers, 'fine', dead.pid)          # not suspended any more: marker dropped
        _marker(markers, 'gone', dead.pid)          # no such device: marker dropped
        suspended = {'left': True, 'busy': True, 'fine': False}
        resumed = []

        def resume(name):
            resumed.append(name)
            return 0, '', ''
        said = recover(resume, suspended.get, marker_dir=str(markers))
    finally:
        alive.kill()
        alive.wait()
    assert resumed == ['left']
    assert said == ['left was left suspended by an earlier run of this collection that was killed (pid %d); '
                    'it is resumed now' % dead.pid]
    assert os.listdir(str(markers)) == ['busy']


def test_a_device_that_does_not_resume_is_said_and_keeps_its_marker(tmp_path):
    markers = tmp_path / 'markers'
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    _marker(markers, 'stuck', dead.pid)
    said = recover(lambda name: (1, '', 'resume ioctl failed\n'), {'stuck': True}.get, marker_dir=str(markers))
    assert said == ['stuck was left suspended by an earlier run (pid %d) and could not be resumed: resume ioctl failed'
                    % dead.pid]
    assert os.listdir(str(markers)) == ['stuck']


def test_no_markers_no_work(tmp_path):
    assert recover(lambda name: pytest.fail('resumed %s' % name), {}.get, marker_dir=str(tmp_path / 'none')) == []


class RecordingGuard(object):
    def __init__(self, log):
        self.log = log
        self.keep = None

    def __call__(self, names):
        self.names = list(names)
        return self

    def __enter__(self):
        self.log.append(('guard', tuple(self.names)))
        return self

    def __exit__(self, *exc):
        self.log.append(('unguard', tuple(self.keep or ())))
        return False


def _host(kernel, guard):
    return DmHost(kernel, resolve=lambda p: p, kernel='6.1.0', sleep=lambda s: None,
                  exists=lambda p: True, guard=guard)


def test_create_snap_holds_the_guard_while_the_origin_is_suspended():
    kernel = thin_kernel()
    log = []
    guard = RecordingGuard(log)
    real = kernel.__call__

    def run(argv, data=None):
        if argv[1] in ('suspend', 'resume', 'message'):
            log.append((argv[1],))
        return real(argv, data)
    _host(run, guard).apply([snapshot()])
    assert log == [('guard', ('origin',)), ('suspend',), ('message',), ('resume',), ('unguard', ())]


def test_an_origin_that_does_not_resume_keeps_its_guard_marker():
    kernel = thin_kernel(fail={'resume': [(1, '', 'device-mapper: resume ioctl on origin failed: Invalid argument\n')]})
    log = []
    with pytest.raises(DmError, match='left suspended after create_snap'):
        _host(kernel, RecordingGuard(log)).apply([snapshot()])
    assert log == [('guard', ('origin',)), ('unguard', ('origin',))]


def test_check_mode_and_nothing_to_suspend_start_no_guard():
    log = []
    DmHost(StatefulKernel(), check_mode=True, kernel='6.1.0', guard=RecordingGuard(log)).guarded(['a']).__enter__()
    DmHost(StatefulKernel(), kernel='6.1.0', guard=RecordingGuard(log)).guarded([]).__enter__()
    assert log == []
