"""The dm modules (dm_device, dm_target, dm_info, dm_message) run for real against a kernel
with device-mapper: the lab guests, or any host of yours.

    make install
    STS_DM_INVENTORY=.lab/inventory.yml STS_DM_HOSTS=debian13-1 \\
        .venv/bin/python -m pytest tests/integration/dm -n 2 --dist loadfile

Without STS_DM_INVENTORY the host is this machine (connection local); where ``dmsetup``
cannot reach a kernel device-mapper (the development machines) every test is skipped and
says why. The host needs root, ``dmsetup``, python3 and the two data disks named in its
``lab_data_disks`` inventory variable (at least 2 GiB each): **the tests write to them**.

Each test owns a region of the data disks (``area()``, 256 MiB slots, ``SLOTS``) and the
device names starting with its ``prefix`` (``stsit-<test name>-``), so test files can run on
two workers (``-n 2 --dist loadfile``: the tests of one file share a worker). A test that
fails has its devices removed afterwards. At the end of the session (on the last worker to
finish) no device may be suspended, every ``stsit-`` device left is removed, and the first and
last MiB of both data disks are zeroed (so the next user's probes find them blank).
"""

import fcntl
import json
import os
import re
import subprocess
import tempfile

import pytest

from _harness import _ansible_bin
from dm_helpers import MIB, PREFIX, SLOT, SLOTS, SLOTS_NEEDED, Area, DmGuest

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_HELPER = os.path.join(HERE, 'files', 'guest.py')


def _hostvars(host):
    if not host.inventory:
        return {}
    proc = subprocess.run([_ansible_bin('ansible-inventory'), '-i', host.inventory, '--host', host.pattern],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise pytest.UsageError('ansible-inventory --host %s: %s' % (host.pattern, proc.stderr.strip()))
    return json.loads(proc.stdout)


class _Session(object):
    """Coordinates the workers of one pytest-xdist run (or the one process without xdist).

    The first worker to start removes leftovers of earlier runs; a worker that finishes while
    no other is running (finished == started) checks and sweeps. Both run under an exclusive
    lock that every start and finish takes, so no worker's devices are swept while it runs."""

    def __init__(self, pattern):
        run = os.environ.get('PYTEST_XDIST_TESTRUNUID')
        self.workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1')) if run else 1
        key = re.sub(r'[^A-Za-z0-9_.-]', '_', '%s-%s' % (pattern, run or os.getpid()))
        self.path = os.path.join(tempfile.gettempdir(), 'sts-dm-it-%s.json' % key)

    def _locked(self, count, work):
        """Count this worker as started or finished; run ``work(state)`` under the lock."""
        with open(self.path, 'a+') as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            text = handle.read()
            state = json.loads(text) if text else {'started': 0, 'finished': 0}
            state[count] += 1
            handle.seek(0)
            handle.truncate()
            json.dump(state, handle)
            handle.flush()
            if state['finished'] >= self.workers:
                os.unlink(self.path)
            return work(state)

    def start(self, look):
        """``look(first)``: first is True for the first worker to start."""
        self._locked('started', lambda state: look(state['started'] == 1))

    def finish(self, last):
        self._locked('finished', lambda state: last() if state['finished'] >= state['started'] else None)


@pytest.fixture(scope='session')
def dm():
    """The host with kernel device-mapper, its data disks and the guest helper; skips without them."""
    host = DmGuest.from_env('localhost')
    disks = list(_hostvars(host).get('lab_data_disks') or [])
    worker = os.environ.get('PYTEST_XDIST_WORKER', 'main')
    host.helper = '/var/tmp/sts-dm-it-guest-%s.py' % worker
    host.upload(GUEST_HELPER, host.helper, mode='0700')
    session = _Session(host.pattern)
    facts = []

    def first_look(first):
        # one call: is there a kernel dm, which kernel, how big the disks are (and, for the first
        # worker to start, the leftovers of an earlier run removed)
        steps = [{'op': 'run', 'argv': ['dmsetup', 'version']}, {'op': 'run', 'argv': ['uname', '-r']}]
        steps += [{'op': 'size', 'dev': d} for d in disks[:2]]
        if first:
            steps.append({'op': 'cleanup', 'prefix': PREFIX})
        facts.extend(host.guest(*steps))
    session.start(first_look)
    version, uname = facts[0], facts[1]
    if version['rc'] != 0:
        host.guest({'op': 'remove_self'})
        pytest.skip('no kernel device-mapper on %s: dmsetup version: rc %s, %s' % (
            host.pattern, version['rc'], version['stderr'].strip()))
    if len(disks) < 2:
        host.guest({'op': 'remove_self'})
        pytest.skip('%s has device-mapper but no two spare disks in its lab_data_disks inventory variable'
                    % host.pattern)
    host.kernel = uname['stdout'].strip()
    host.kernel_version = tuple(int(x) for x in re.match(r'(\d+)\.(\d+)', host.kernel).groups())
    small = ['%s: %d MiB' % (d, f['sectors'] // MIB) for d, f in zip(disks, facts[2:4])
             if f['sectors'] < SLOTS_NEEDED * SLOT]
    if small:
        host.guest({'op': 'remove_self'})
        pytest.skip('the data disks must have at least %d MiB (%d slots of 256 MiB; LAB_DISK_SIZE=5G): %s'
                    % (SLOTS_NEEDED * SLOT // MIB, SLOTS_NEEDED, ', '.join(small)))
    host.disks = disks[:2]
    sizes = [f['sectors'] for f in facts[2:4]]
    # everything the modules and ansible print in this session (results, diffs, errors, stdout and
    # stderr), searched at the end for the key material the tests registered in host.secrets
    host.transcript, host.secrets = [], set()
    yield host
    host.close()
    found = _scan_secrets(host.transcript, host.secrets)

    outcome = {}

    def last():
        # no other worker runs now: nothing may be left suspended; then remove what the tests left
        results = host.guest({'op': 'suspended'}, {'op': 'cleanup', 'prefix': PREFIX})
        outcome['suspended'], outcome['swept'] = results[0], results[1]
        # the disks as blank as they came to the probes of whatever runs next (wipefs, blkid, the
        # roles' safe mode): their first and last MiB zeroed, once no test device uses them
        steps = []
        if not results[1]['left']:
            for disk, size in zip(host.disks, sizes):
                steps += [{'op': 'zero', 'dev': disk, 'offset': 0, 'length': MIB},
                          {'op': 'zero', 'dev': disk, 'offset': size - MIB, 'length': MIB}]
        host.guest(*(steps + [{'op': 'remove_self'}]))
    session.finish(last)
    if not outcome:
        host.guest({'op': 'remove_self'})
        return
    assert not found, 'key material shows in the output of this session: %d place(s)' % found
    suspended, swept = outcome['suspended']['names'], outcome['swept']
    assert not suspended, 'devices left suspended at the end of the session: %s' % ', '.join(suspended)
    assert not swept['left'], 'test devices that could not be removed: %s (%s)' % (swept['left'], swept['errors'])
    assert not swept['removed'], 'tests left these devices behind (now removed): %s' % ', '.join(swept['removed'])


# what this process searched (with xdist: each worker's, summed by the controller process)
SECRET_SCAN = {'texts': 0, 'bytes': 0, 'secrets': 0, 'found': 0}


def _scan_secrets(texts, secrets):
    found = sum(1 for text in texts for secret in secrets if secret in text)
    SECRET_SCAN['texts'] += len(texts)
    SECRET_SCAN['bytes'] += sum(len(t) for t in texts)
    SECRET_SCAN['secrets'] += len(secrets)
    SECRET_SCAN['found'] += found
    return found


def pytest_sessionfinish(session):
    if hasattr(session.config, 'workeroutput'):
        session.config.workeroutput['secret_scan'] = json.dumps(SECRET_SCAN)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # pylint: disable=unused-argument
    scan = json.loads(getattr(node, 'workeroutput', {}).get('secret_scan') or '{}')
    for key, value in scan.items():
        SECRET_SCAN[key] += value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, 'rep_' + report.when, report)


@pytest.fixture
def prefix(dm, request):
    """``stsit-<test name>-``: the names this test's devices start with; removed afterwards if the test failed."""
    short = re.sub(r'[^A-Za-z0-9]+', '-', request.node.name[len('test_'):]).strip('-')[:48]
    value = '%s%s-' % (PREFIX, short)
    yield value
    call = getattr(request.node, 'rep_call', None)
    if call is None or call.failed:
        dm.guest({'op': 'cleanup', 'prefix': value})


@pytest.fixture
def area(dm, request):
    """This test file's region of the data disks (SLOTS, by the file name without test_)."""
    key = os.path.basename(str(request.node.fspath))[len('test_'):-len('.py')]
    first, count = SLOTS[key]
    return Area(dm.disks, first, count)


def pytest_terminal_summary(terminalreporter):
    """The figures the suites recorded (record_property('figures', JSON)), one line each, so the
    log of a run (and lab-test's summary) says what was tried: ``figures: {...}``."""
    lines = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, value in getattr(report, 'user_properties', None) or []:
                if key == 'figures' and getattr(report, 'when', None) == 'call':
                    lines.append('figures: %s %s' % (report.nodeid, value))
    if SECRET_SCAN['texts']:
        scan = dict(SECRET_SCAN, suite='key material in all output')
        lines.append('figures: secrets %s' % json.dumps(scan, sort_keys=True))
    if lines:
        terminalreporter.section('figures')
        for line in sorted(lines):
            terminalreporter.write_line(line)
