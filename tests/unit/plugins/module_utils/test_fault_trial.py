"""Unit tests of the fault trials (_stack.fault_trial) on a stateful stand-in of the kernel's dm devices
(test_dm_ops.StatefulKernel) and a stand-in of the workload's I/O: the stacks read from their
records, the trial's steps (inject, workload, what the layers say, heal, data), the words of the
report, check mode, and the refusals before anything is touched. The faults themselves are tried
on the lab guests (tests/integration/dm/test_fault_playbooks.py)."""

import errno
import json
import os

import pytest

from argv_check import assert_argv
from test_dm_ops import StatefulKernel
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.fault_trial import (
    FaultTrialRunner, StackView, data_words, did, io_summary, io_words, layer_report)

DATA = '0 8192 linear 7:0 4096'


def write_record(tmp_path, name, data):
    os.makedirs(str(tmp_path / name))
    with open(str(tmp_path / name / 'state.json'), 'w') as handle:
        json.dump(data, handle)


@pytest.fixture
def thin(tmp_path):
    write_record(tmp_path, 's0', {'volumes': ['v1'], 'snapshots': ['v1s'], 'checksums': {'v1': 'aa'}})
    kernel = StatefulKernel()
    kernel.add('s0_meta', '0 4096 linear 7:0 0')
    kernel.add('s0_data', DATA)
    kernel.add('s0_pool', '0 8192 thin-pool /dev/mapper/s0_meta /dev/mapper/s0_data 128 0')
    kernel.add('v1', '0 1024 thin /dev/mapper/s0_pool 1')
    kernel.add('v1s', '0 1024 thin /dev/mapper/s0_pool 2')
    return kernel


class FakeIO(object):
    """Reads and writes fail while the data device's table is ``error``; every op takes 5 ms."""

    def __init__(self, kernel, sums):
        self.kernel, self.sums, self.ops = kernel, sums, []

    def _broken(self):
        return 'error' in self.kernel.devices['s0_data']['live']

    def read(self, path, offset):
        self.ops.append(('read', path, offset, self._broken()))
        return (False, 'Input/output error', 5.0) if self._broken() else (True, None, 5.0)

    def write(self, path, offset, create=False):
        self.ops.append(('write', path, offset, self._broken()))
        return (False, 'Input/output error', 5.0) if self._broken() else (True, None, 5.0)

    def sha256(self, path, nbytes):
        return self.sums[path]

    def remove(self, path):
        self.ops.append(('remove', path))


class TrialModule(object):
    def __init__(self, kernel, params, check_mode=False):
        self.kernel = kernel
        self.params = dict(dict(duration=0, faults=None, udev_timeout=0), **params)
        self.check_mode = check_mode
        self._diff = False
        self.no_log_values = set()
        self.warnings = []

    def get_bin_path(self, name, required=False):
        return '/usr/sbin/' + name

    def run_command(self, argv, data=None, binary_data=False, environ_update=None):
        assert_argv(argv)
        if os.path.basename(argv[0]) == 'findmnt':
            return 0, '', ''
        return self.kernel(['dmsetup'] + list(argv[1:]), data)

    def warn(self, msg):
        self.warnings.append(msg)


def run(kernel, tmp_path, sums, check_mode=False, **params):
    module = TrialModule(kernel, dict(params, record_dir=str(tmp_path / 'faults')), check_mode=check_mode)
    ticks = iter(range(1000))
    runner = FaultTrialRunner(module, io=FakeIO(kernel, sums), clock=lambda: next(ticks))
    runner.run()
    return runner


def test_an_error_trial_breaks_the_data_device_runs_the_workload_heals_and_checks_the_data(thin, tmp_path):
    runner = run(thin, tmp_path, {'/dev/mapper/v1': 'aa'}, stacks=[{'kind': 'thin', 'name': 's0', 'dir': str(tmp_path)}],
                 faults=[{'fault': {'type': 'error'}}])
    (trial,) = runner.result['trials']
    assert trial['device'] == 's0_data' and trial['table_injected'] == ['0 8192 error']
    assert trial['healed'] and trial['table_after'] == [DATA] and thin.devices['s0_data']['live'] == DATA
    # reads of both thins and writes past the known data of the volume only, all under the fault
    assert [op[:3] for op in runner.io.ops] == [('read', '/dev/mapper/v1', 0), ('write', '/dev/mapper/v1', 262144),
                                                ('read', '/dev/mapper/v1s', 0)]
    assert all(op[3] for op in runner.io.ops)
    assert trial['io'] == dict(reads_ok=0, reads_failed=2, writes_ok=0, writes_failed=1, slowest_read_ms=5.0,
                               slowest_write_ms=5.0, errors=['Input/output error'])
    assert trial['during']['s0_pool']['mode'] == 'rw' and trial['after']['s0_pool']['failed'] is False
    assert trial['did'] == ['pool s0_pool: mode rw, so after the heal too', 'thin devices v1, v1s: active throughout']
    assert trial['data'] == [{'volume': 'v1', 'path': '/dev/mapper/v1', 'sha256': 'aa', 'expected': 'aa',
                              'intact': True, 'unreadable': None}]
    assert trial['data_words'] == 'verified'
    assert runner.result['data_verified'] is True and runner.result['problems'] == []
    assert not os.listdir(str(tmp_path / 'faults'))


def test_data_that_differs_after_the_heal_is_a_problem(thin, tmp_path):
    runner = run(thin, tmp_path, {'/dev/mapper/v1': 'bb'}, stacks=[{'kind': 'thin', 'name': 's0', 'dir': str(tmp_path)}],
                 faults=[{'fault': {'type': 'delay', 'read_ms': 5}, 'duration': 0}])
    assert runner.result['data_verified'] is False
    assert runner.result['problems'] == ['thin stack s0, delay under data: the known data differs after the heal (v1)']
    assert runner.result['trials'][0]['data_words'] == 'DIFFERS'


class UnreadableIO(FakeIO):
    """The known data's reads fail: a filesystem that shut itself down after the fault (ext4 on 6.12)."""

    def sha256(self, path, nbytes):
        raise OSError(errno.EIO, os.strerror(errno.EIO), path)


def test_data_that_cannot_be_read_after_the_heal_is_named_so_not_as_differing(thin, tmp_path):
    module = TrialModule(thin, dict(stacks=[{'kind': 'thin', 'name': 's0', 'dir': str(tmp_path)}],
                                    faults=[{'fault': {'type': 'error'}}], record_dir=str(tmp_path / 'faults')))
    ticks = iter(range(1000))
    runner = FaultTrialRunner(module, io=UnreadableIO(thin, {}), clock=lambda: next(ticks))
    runner.run()
    (trial,) = runner.result['trials']
    assert trial['data'][0]['unreadable'] == 'Input/output error' and trial['data'][0]['intact'] is False
    assert trial['data_words'] == 'UNREADABLE (Input/output error)'
    assert runner.result['data_verified'] is False
    assert runner.result['problems'] == [
        'thin stack s0, error under data: the known data cannot be read after the heal (v1: Input/output error)']


class _View(object):
    watch = {}
    top = ['v1']


class _Host(object):
    facts = {}


def test_a_filesystem_with_ext4_errors_says_so_though_the_mount_table_says_rw():
    mounts = [{'source': '/dev/mapper/v1', 'target': '/mnt/v1', 'options': 'rw,relatime', 'fstype': 'ext4'},
              {'source': '/dev/mapper/other', 'target': '/mnt/o', 'options': 'rw', 'fstype': 'xfs'}]
    _layers, fs = layer_report(_Host(), _View(), mounts, lambda source: 2 if source == '/dev/mapper/v1' else None)
    assert fs == {'/mnt/v1': 'rw (ext4 recorded 2 errors: it writes no more)'}
    assert layer_report(_Host(), _View(), mounts, lambda source: 0)[1] == {'/mnt/v1': 'rw'}
    assert layer_report(_Host(), _View(), mounts)[1] == {'/mnt/v1': 'rw'}
    assert data_words(None) == 'not checked (check mode)' and data_words([]) == 'no known data'


def test_check_mode_plans_every_trial_and_does_no_io(thin, tmp_path):
    runner = run(thin, tmp_path, {}, check_mode=True, stacks=[{'kind': 'thin', 'name': 's0', 'dir': str(tmp_path)}])
    assert [t['fault']['type'] for t in runner.result['trials']] == ['error', 'flakey', 'delay']
    assert runner.result['trials'][2]['table_injected'] == ['0 8192 delay 7:0 4096 100 7:0 4096 100']
    assert runner.io.ops == [] and thin.devices['s0_data']['live'] == DATA and runner.result['data_verified'] is None


@pytest.mark.parametrize('stacks, faults, needle', [
    ([{'kind': 'thin', 'name': 'nope'}], None, 'thin stack nope: no record at '),
    ([{'kind': 'thin', 'name': 's0'}], [{'fault': {'type': 'error'}, 'layer': 'origin'}],
     "stack.layer 'origin': a stack of kind thin carves metadata, data"),
    ([{'kind': 'thin', 'name': 's0'}], [{'fault': 'error'}], "faults: item {'fault': 'error'}: expected a fault"),
    ([{'kind': 'thin', 'name': 's0'}], [{'fault': {'type': 'error'}, 'duration': -1}], 'faults: duration -1'),
    ([], None, 'stacks: expected at least one stack'),
])
def test_bad_trials_are_refused_before_anything_is_touched(thin, tmp_path, stacks, faults, needle):
    for stack in stacks:
        stack['dir'] = str(tmp_path)
    with pytest.raises(DmError) as err:
        run(thin, tmp_path, {}, stacks=stacks, faults=faults)
    assert needle in err.value.msg and thin.calls == []


def test_stack_views_of_the_cache_and_era_records(tmp_path):
    write_record(tmp_path, 'c0', {'workload': {'bytes': 1048576, 'sha256': 'cc'}})
    write_record(tmp_path, 'e0', {'workload': None})
    cache = StackView('cache', 'c0', str(tmp_path))
    assert cache.top == ['c0'] and cache.known == [('c0', '/dev/mapper/c0', 1048576, 'cc')] and cache.watch == {'c0': 'cache'}
    era = StackView('era', 'e0', str(tmp_path))
    assert era.known == [] and era.watch == {'e0': 'era'}


def test_the_words_of_the_report():
    before = {'p': {'role': 'pool', 'present': True, 'mode': 'rw'},
              'c': {'role': 'cache', 'present': True, 'metadata_mode': 'rw', 'read_hits': 10, 'read_misses': 4}}
    during = {'p': {'role': 'pool', 'present': True, 'mode': 'ro', 'needs_check': True},
              'c': {'role': 'cache', 'present': True, 'metadata_mode': 'rw', 'read_hits': 15, 'read_misses': 5}}
    after = {'p': {'role': 'pool', 'present': True, 'failed': True, 'status': 'Fail'}, 'c': during['c']}
    assert did(before, during, after, {'/mnt/x': 'ro'}, {'/mnt/x': 'ro'}) == [
        'cache c: metadata rw, so after the heal too (5 reads served from the cache, 1 from the origin meanwhile)',
        'pool p: mode rw -> mode ro, needs_check under the fault, failed (status Fail) after the heal',
        'filesystem on /mnt/x: ro under the fault, ro after the heal']
    io = io_summary([('read', True, None, 1.0), ('read', False, 'Input/output error', 3.5), ('write', True, None, 120.0)])
    assert io_words(io) == ('reads 1 ok, 1 failed; writes 1 ok, 0 failed; slowest read 4 ms; slowest write 120 ms '
                            '(Input/output error)')


class MountedTrialModule(TrialModule):
    """v1 carries a mounted filesystem of ``fstype`` at /mnt/v1; ``answers`` gives umount, e2fsck and mount
    their exit codes (0 by default); ``calls`` records them."""

    def __init__(self, kernel, params, fstype='ext4', answers=None):
        super(MountedTrialModule, self).__init__(kernel, params)
        self.fstype, self.answers, self.calls = fstype, answers or {}, []

    def run_command(self, argv, data=None, binary_data=False, environ_update=None):
        assert_argv(argv)
        tool = os.path.basename(argv[0])
        if tool == 'findmnt':
            assert argv[-1] == 'SOURCE,TARGET,FSTYPE,OPTIONS'
            return 0, json.dumps({'filesystems': [
                {'source': '/dev/mapper/v1', 'target': '/mnt/v1', 'options': 'rw,relatime', 'fstype': self.fstype},
                {'source': '/dev/vda', 'target': '/', 'options': 'rw', 'fstype': 'ext4'}]}), ''
        if tool in ('umount', 'e2fsck', 'mount'):
            self.calls.append(list(argv))
            rc = self.answers.get(tool, 0)
            return rc, '', '' if rc in (0, 1) else '%s: it went wrong' % tool
        return super(MountedTrialModule, self).run_command(argv, data, binary_data, environ_update)


class ShutDownFsIO(FakeIO):
    """The known file on /mnt/v1 reads EIO (ext4 shut itself down) until the filesystem was mounted again."""

    def __init__(self, kernel, module):
        super(ShutDownFsIO, self).__init__(kernel, {})
        self.module = module

    def sha256(self, path, nbytes):
        assert path == '/mnt/v1/s0_workload.bin'
        mounted_again = [c for c in self.module.calls if c[0] == 'mount']
        if not mounted_again or self.module.answers.get('mount'):
            raise OSError(errno.EIO, os.strerror(errno.EIO), path)
        return 'aa'


def run_mounted(thin, tmp_path, **kwargs):
    params = dict(stacks=[{'kind': 'thin', 'name': 's0', 'dir': str(tmp_path)}], faults=[{'fault': {'type': 'error'}}],
                  record_dir=str(tmp_path / 'faults'))
    params.update(kwargs.pop('params', {}))
    module = MountedTrialModule(thin, params, **kwargs)
    ticks = iter(range(1000))
    runner = FaultTrialRunner(module, io=ShutDownFsIO(thin, module), clock=lambda: next(ticks))
    runner.run()
    return module, runner


def test_a_filesystem_that_shut_itself_down_is_unmounted_checked_and_mounted_again_then_verified(thin, tmp_path):
    module, runner = run_mounted(thin, tmp_path, answers={'e2fsck': 1})
    assert module.calls == [['umount', '/mnt/v1'], ['e2fsck', '-f', '-p', '/dev/mapper/v1'],
                            ['mount', '-t', 'ext4', '-o', 'rw,relatime', '/dev/mapper/v1', '/mnt/v1']]
    (trial,) = runner.result['trials']
    assert trial['data_before_recovery'][0]['unreadable'] == 'Input/output error'
    assert trial['data'][0]['intact'] and trial['data_verified'] is True
    assert trial['data_words'] == 'verified after the recovery of /mnt/v1'
    assert trial['recovery'][0]['recovered'] is True and [s['rc'] for s in trial['recovery'][0]['steps']] == [0, 1, 0]
    assert trial['did'][-1] == ('filesystem on /mnt/v1: its known data unreadable after the heal; unmounted, '
                                'e2fsck -f -p rc 1 (errors fixed), mounted again: recovered')
    assert runner.result['data_verified'] is True and runner.result['problems'] == []


def test_a_failed_check_still_mounts_the_filesystem_again_and_the_data_stays_a_problem(thin, tmp_path):
    module, runner = run_mounted(thin, tmp_path, answers={'e2fsck': 4, 'mount': 32})
    assert [c[0] for c in module.calls] == ['umount', 'e2fsck', 'mount']
    (trial,) = runner.result['trials']
    assert trial['recovery'][0]['recovered'] is False
    assert trial['did'][-1] == ('filesystem on /mnt/v1: its known data unreadable after the heal; unmounted, '
                                'e2fsck -f -p rc 4 (errors left), mount FAILED (rc 32: mount: it went wrong): '
                                'NOT recovered')
    assert trial['data_words'] == 'UNREADABLE (Input/output error) after the recovery of /mnt/v1'
    assert runner.result['problems'] == [
        'thin stack s0, error under data: the known data cannot be read after the heal (v1: Input/output error)']


def test_a_filesystem_that_cannot_be_unmounted_is_left_as_it_is(thin, tmp_path):
    module, runner = run_mounted(thin, tmp_path, answers={'umount': 32})
    assert module.calls == [['umount', '/mnt/v1']]
    assert runner.result['trials'][0]['recovery'][0]['recovered'] is False
    assert runner.result['data_verified'] is False


def test_no_recovery_when_not_asked_or_for_another_filesystem(thin, tmp_path):
    module, runner = run_mounted(thin, tmp_path, params={'recover': False})
    assert module.calls == [] and runner.result['trials'][0]['recovery'] == []
    assert runner.result['trials'][0]['data_words'] == 'UNREADABLE (Input/output error)'
    module, runner = run_mounted(thin, tmp_path, fstype='xfs')
    assert module.calls == []
    assert runner.result['trials'][0]['recovery'][0]['steps'] == [
        {'argv': None, 'rc': None, 'output': 'no check for a xfs filesystem'}]
