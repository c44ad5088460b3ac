"""Unit tests of the cache stack planner (_stack.cache) on a fake host: the dm devices are those of
test_dm_ops' StatefulKernel, taught here the status of a cache target (hits, dirty blocks, the
policy of the live table) and read-only devices; the other tools are test_stack_thin's FakeHost
plus lsblk and cache_check. What the stack does on a real kernel is tested on the lab (molecule
cache_stack and the fleet scenario)."""

import hashlib
import json
import os

import pytest

from test_dm_ops import REFUSED, StatefulKernel
from test_stack_thin import FakeHost, FakeIO, FakeModule

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DmHost
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.cache import (
    REPORT_KEYS, CacheConfig, CacheStack, known_data)

MAPPER = '/dev/mapper/'
KNOWN = hashlib.sha256(known_data('lab', 4 * 1024 * 1024)).hexdigest()


class CacheKernel(StatefulKernel):
    """A StatefulKernel whose cache devices have a status, and whose devices can be read-only.
    ``dirty``: dirty blocks per cache device; under the cleaner policy ``drain()`` (a second of the
    kernel's time) writes back ``clean_rate`` of them."""

    def __init__(self, **kw):
        super(CacheKernel, self).__init__(**kw)
        self.readonly = set()
        self.dirty = {}
        self.clean_rate = 32
        self.needs_check = False

    def __call__(self, argv, data=None):
        rc, out, err = super(CacheKernel, self).__call__(argv, data)
        if argv[1] == 'create' and rc == 0:
            (self.readonly.add if '--readonly' in argv else self.readonly.discard)(argv[-1])
        return rc, out, err

    def _info(self):
        rows = []
        for row in super(CacheKernel, self)._info().splitlines(True):
            fields = row.split('|')
            if len(fields) > 4 and fields[0] in self.readonly:
                fields[4] = fields[4][:3] + 'r'
            rows.append('|'.join(fields))
        return ''.join(rows)

    def cache_line(self, name, words):
        args = words[3:]
        nfeat = int(args[4])
        features = args[5:5 + nfeat]
        policy = args[5 + nfeat]
        dirty = self.dirty.get(name, 0)
        return '8 27/2048 %s 70/1024 10 5 20 3 0 64 %d %d %s 2 migration_threshold 2048 %s 0 rw %s' % (
            args[3], dirty, nfeat, ' '.join(features), policy, 'needs_check' if self.needs_check else '-')

    def drain(self):
        for name, dev in self.devices.items():
            if ' cleaner ' in (dev['live'] or '') and self.dirty.get(name):
                self.dirty[name] = max(0, self.dirty[name] - self.clean_rate)

    def _status(self):
        out = []
        for name, dev in sorted(self.devices.items()):
            for line in (dev['live'] or '').splitlines():
                words = line.split()
                status = self.cache_line(name, words) if words[2] == 'cache' else ''
                out.append('%s: %s %s %s %s\n' % (name, words[0], words[1], words[2], status))
        return ''.join(out) or 'No devices found\n'


class CacheHost(FakeHost):
    """FakeHost with a CacheKernel, lsblk (``users``: disk -> lsblk blockdevices) and cache_check."""

    def __init__(self, users=None, cache_check_rc=0, **kw):
        super(CacheHost, self).__init__(**kw)
        self.kernel = CacheKernel()
        self.users = dict(users or {})
        self.cache_check_rc = cache_check_rc
        self.log = []       # every argv that is not a read of dmsetup, in order

    def __call__(self, argv, data=None):
        argv = list(argv)
        if argv[0] != 'dmsetup' or argv[1] not in ('info', 'table', 'status'):
            self.log.append(' '.join(argv[:3]))
        if argv[0] == 'lsblk':
            self.calls.append(argv)
            devices = self.users.get(argv[-1], [{'name': argv[-1][5:], 'type': 'disk', 'mountpoint': None}])
            return 0, json.dumps({'blockdevices': devices}), ''
        if argv[0] == 'cache_check':
            self.calls.append(argv)
            if self.cache_check_rc == 0:
                return 0, '', ''
            return self.cache_check_rc, '', 'examining superblock\nsuperblock is corrupt\n'
        return super(CacheHost, self).__call__(argv, data)


class CacheIO(FakeIO):
    """Known data by device; ``alias``: a device that shows what another holds (the origin, once
    the dirty blocks are written back)."""

    def __init__(self):
        super(CacheIO, self).__init__()
        self.alias = {}
        self.writes = []

    def write(self, target, data):
        self.writes.append(target)
        super(CacheIO, self).write(target, data)

    def sha256(self, target, nbytes):
        target = self.alias.get(target, target)
        return hashlib.sha256(self.written.get(target, b'\0' * nbytes)[:nbytes]).hexdigest()


def params(tmp_path, **kw):
    p = dict(state='present', name='lab', dir=str(tmp_path / 'state'), loop_size='256MiB', metadata_size='8MiB',
             cache_size='64MiB', safe_mode=True, block_size='64KiB', mode='writeback', policy='smq',
             policy_args={'migration_threshold': 0}, workload=True, workload_size='4MiB', verify=True,
             clean_timeout=300)
    p.update(kw)
    return p


class Clock(object):
    def __init__(self, on_sleep=None):
        self.now = 1000.0
        self.sleeps = []
        self.on_sleep = on_sleep or (lambda: None)

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep()


def stack_of(host, p, check_mode=False, io=None, clock=None):
    # the host's devices keep what was written to them from one run to the next
    io = io or host.__dict__.setdefault('io', CacheIO())
    clock = clock or Clock(on_sleep=host.kernel.drain)

    def factory():
        return DmHost(host, check_mode=check_mode, resolve=lambda path: path, kernel='6.1.0', sleep=lambda s: None,
                      exists=lambda path: path[len(MAPPER):] in host.kernel.devices, udev_timeout=0)
    stack = CacheStack(CacheConfig(p), host, Dmpd(FakeModule(host)), check_mode=check_mode, host_factory=factory,
                       io=io.as_dict(), sleep=clock.sleep, clock=clock)
    return stack, io


def converge(host, p, **kw):
    stack, io = stack_of(host, p, **kw)
    report = stack.present()
    return stack, report, io


def record_of(tmp_path, name='lab'):
    return json.loads((tmp_path / 'state' / name / 'state.json').read_text())


VERIFY_VERBS = [('suspend', 'lab'), ('create', 'lab_cmeta_check'), ('resume', 'lab'), ('remove', 'lab_cmeta_check')]


def verbs(host):
    return [(verb, name) for verb, name, _data in host.kernel.verbs()]


# -- new stacks on the three backings ---------------------------------------------------------
def test_a_new_loop_stack_is_carved_cached_written_verified_and_recorded(tmp_path):
    host = CacheHost()
    stack, report, io = converge(host, params(tmp_path))
    assert verbs(host) == [('create', 'lab_cmeta'), ('create', 'lab_cdata'), ('create', 'lab_corig'),
                           ('create', 'lab')] + VERIFY_VERBS
    assert os.path.getsize(str(tmp_path / 'state' / 'lab' / 'backing.img')) == 256 * 1024 * 1024
    devices = host.kernel.devices
    assert devices['lab_cmeta']['live'] == '0 16384 linear /dev/loop0 0'
    assert devices['lab_cdata']['live'] == '0 131072 linear /dev/loop0 16384'
    assert devices['lab_corig']['live'] == '0 376832 linear /dev/loop0 147456'
    assert devices['lab']['live'] == '0 376832 cache 253:0 253:1 253:2 128 1 writeback smq 2 migration_threshold 0'
    assert not devices['lab']['suspended'] and 'lab_cmeta_check' not in devices
    # the check view was read-only, and the checker read it, not the live metadata
    assert ['cache_check', MAPPER + 'lab_cmeta_check'] in host.calls
    assert [' '.join(c[:2]) for c in host.changes()] == ['losetup --find']
    assert io.written[MAPPER + 'lab'] == known_data('lab', 4 * 1024 * 1024)
    assert record_of(tmp_path) == {
        'role': 'sts.devicemapper.cache_stack', 'name': 'lab', 'backing': 'loop',
        'image': str(tmp_path / 'state' / 'lab' / 'backing.img'), 'dm_devices': ['lab', 'lab_cmeta', 'lab_cdata', 'lab_corig'],
        'metadata_device': MAPPER + 'lab_cmeta', 'cache_device': MAPPER + 'lab_cdata', 'origin_device': MAPPER + 'lab_corig',
        'workload': {'file': str(tmp_path / 'state' / 'lab' / 'workload.bin'), 'bytes': 4194304, 'sha256': KNOWN}}
    assert sorted(report) == sorted(REPORT_KEYS)
    assert (report['device'], report['backing'], report['mode'], report['policy'], report['block_size']) == \
        ('lab', 'loop', 'writeback', 'smq', 128)
    assert (report['origin_device'], report['cache_device'], report['metadata_device']) == \
        (MAPPER + 'lab_corig', MAPPER + 'lab_cdata', MAPPER + 'lab_cmeta')
    assert report['hit_ratio'] == round(30 / 38.0, 4) and report['cache_usage_pct'] == round(7000 / 1024.0, 2)
    assert report['check_healthy'] is True and report['check_findings'] == [] and report['tool_version'] == '0.9.0'
    assert report['checksums'] == {'workload_sha256': KNOWN} and report['data_intact'] is None
    assert stack.problems == []
    assert stack.actions[0] == 'write the stack record %s' % stack.record.path


def test_one_disk_is_probed_zeroed_and_carved_in_three(tmp_path):
    host = CacheHost(disks={'/dev/vdb': 1048576})
    stack, report, _io = converge(host, params(tmp_path, device='/dev/vdb', workload=False))
    assert ['wipefs', '--json', '/dev/vdb'] in host.calls
    assert ['lsblk', '--json', '--output', 'NAME,TYPE,MOUNTPOINT', '/dev/vdb'] in host.calls
    assert [' '.join(c) for c in host.changes()] == ['blkdiscard --zeroout --offset 0 --length 4096 /dev/vdb']
    devices = host.kernel.devices
    assert devices['lab_cmeta']['live'] == '0 16384 linear /dev/vdb 0'
    assert devices['lab_cdata']['live'] == '0 131072 linear /dev/vdb 16384'
    assert devices['lab_corig']['live'] == '0 901120 linear /dev/vdb 147456'
    assert report['backing'] == 'device' and record_of(tmp_path)['image'] is None and record_of(tmp_path)['workload'] is None
    assert stack.problems == []


def test_three_given_disks_are_used_whole_and_the_metadata_disk_zeroed(tmp_path):
    host = CacheHost(disks={'/dev/vdb': 1048576, '/dev/vdc': 131072, '/dev/vdd': 16384})
    p = params(tmp_path, origin_device='/dev/vdb', cache_device='/dev/vdc', metadata_device='/dev/vdd')
    stack, report, _io = converge(host, p)
    assert list(host.kernel.devices) == ['lab']
    assert host.kernel.devices['lab']['live'] == \
        '0 1048576 cache /dev/vdd /dev/vdc /dev/vdb 128 1 writeback smq 2 migration_threshold 0'
    assert ['blockdev', '--getsz', '/dev/vdd', '/dev/vdc', '/dev/vdb'] in host.calls
    assert [' '.join(c) for c in host.changes()] == ['blkdiscard --zeroout --offset 0 --length 4096 /dev/vdd']
    assert record_of(tmp_path)['dm_devices'] == ['lab']
    assert (report['backing'], report['origin_device'], report['metadata_device']) == ('disks', '/dev/vdb', '/dev/vdd')
    # the view over the given metadata disk is as long as the disk
    assert ('0 16384 linear /dev/vdd 0\n') in [data for verb, _n, data in host.kernel.verbs() if verb == 'create']


# -- converged, check mode ---------------------------------------------------------------------
def test_a_converged_stack_changes_nothing_and_runs_no_changing_command(tmp_path):
    host = CacheHost()
    _s, _r, io = converge(host, params(tmp_path))
    host.calls, host.kernel.calls, io.writes = [], [], []
    stack, report, io = converge(host, params(tmp_path), io=io)
    assert stack.actions == [] and host.changes() == [] and io.writes == []
    # only the verification reaches the kernel, and leaves nothing behind
    assert verbs(host) == VERIFY_VERBS
    assert report['check_healthy'] is True and stack.problems == []
    host.kernel.calls = []
    stack, report, io = converge(host, params(tmp_path, verify=False), io=io)
    assert stack.actions == [] and host.kernel.verbs() == [] and report['check_healthy'] is None


def test_the_check_mode_of_a_new_stack_plans_everything_and_runs_nothing(tmp_path):
    host = CacheHost()
    stack, report, _io = converge(host, params(tmp_path), check_mode=True)
    assert host.changes() == [] and host.kernel.verbs() == []
    assert not (tmp_path / 'state').exists()
    assert stack.actions == ['write the stack record %s' % stack.record.path,
                             'create the sparse file %s (268435456 bytes)' % (tmp_path / 'state' / 'lab' / 'backing.img'),
                             'attach %s to a loop device' % (tmp_path / 'state' / 'lab' / 'backing.img'),
                             'create device lab_cmeta', 'create device lab_cdata', 'create device lab_corig',
                             'create device lab', 'write the known data to /dev/mapper/lab']
    assert report['device'] is None and report['check_healthy'] is None


def test_check_mode_on_a_converged_stack_plans_nothing_and_a_mode_change_is_planned(tmp_path):
    host = CacheHost()
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    stack, report, _io = converge(host, params(tmp_path), check_mode=True)
    assert stack.actions == [] and host.kernel.verbs() == [] and host.changes() == []
    assert report['mode'] == 'writeback' and report['check_healthy'] is None
    stack, report, _io = converge(host, params(tmp_path, mode='writethrough'), check_mode=True)
    assert stack.actions == ['change device lab'] and host.kernel.verbs() == []


def test_a_changed_mode_is_swapped_in_through_the_inactive_slot(tmp_path):
    host = CacheHost()
    converge(host, params(tmp_path))
    host.kernel.calls = []
    stack, report, _io = converge(host, params(tmp_path, mode='writethrough', policy_args={}))
    assert stack.actions == ['change device lab']
    assert verbs(host)[:2] == [('load', 'lab'), ('resume', 'lab')]
    assert host.kernel.devices['lab']['live'].endswith('128 1 writethrough smq 0')
    assert report['mode'] == 'writethrough' and stack.problems == []


def test_a_changed_carve_out_is_refused_before_anything_changes(tmp_path):
    host = CacheHost()
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    with pytest.raises(DmError) as err:
        converge(host, params(tmp_path, cache_size='32MiB'))
    assert err.value.msg.startswith('the carve-outs of stack lab differ from what the sizes ask for (lab_cdata: '
                                    'segment 0 length: wanted 65536, live 131072')
    assert 'the stack does not move data' in err.value.msg
    assert host.kernel.verbs() == [] and host.changes() == []
    assert record_of(tmp_path)['dm_devices'] == ['lab', 'lab_cmeta', 'lab_cdata', 'lab_corig']


def test_known_data_that_differs_is_written_again(tmp_path):
    host = CacheHost()
    _s, _r, io = converge(host, params(tmp_path))
    io.written[MAPPER + 'lab'] = b'x' * 4194304
    stack, report, _io = converge(host, params(tmp_path), io=io)
    assert stack.actions == ['write the known data to /dev/mapper/lab']
    assert io.written[MAPPER + 'lab'] == known_data('lab', 4194304) and stack.problems == []


def test_the_known_data_is_the_jinja_roles_byte_for_byte():
    data = known_data('sts_cache', 65536)
    assert len(data) == 65536 and data.count(b'\n') == 16
    assert data[:4096] == (b'sts_cache known data, 4 KiB block 0' + b' ' * (4095 - 35) + b'\n')
    assert data[4096:4096 + 35] == b'sts_cache known data, 4 KiB block 1'


# -- given disks and safe mode -----------------------------------------------------------------
def test_a_disk_with_a_signature_is_refused_in_safe_mode_and_nothing_changes(tmp_path):
    host = CacheHost(disks={'/dev/vdb': 1048576}, signatures={'/dev/vdb': [('ext4', '0x438')]})
    with pytest.raises(DmError) as err:
        converge(host, params(tmp_path, device='/dev/vdb'))
    assert err.value.msg == ('safe_mode refuses to build lab on /dev/vdb: /dev/vdb holds ext4 (signature at offset '
                             '0x438). Wipe them, pick other disks, or set safe_mode false.')
    assert host.changes() == [] and host.kernel.calls == [] and not (tmp_path / 'state').exists()


def test_a_mounted_or_used_disk_is_refused_in_safe_mode(tmp_path):
    users = {'/dev/vdb': [{'name': 'vdb', 'type': 'disk', 'mountpoint': '/srv',
                           'children': [{'name': 'vg-lv', 'type': 'lvm'}]}]}
    host = CacheHost(disks={'/dev/vdb': 131072, '/dev/vdc': 131072, '/dev/vdd': 16384}, users=users)
    p = params(tmp_path, origin_device='/dev/vdb', cache_device='/dev/vdc', metadata_device='/dev/vdd')
    with pytest.raises(DmError) as err:
        converge(host, p)
    assert '/dev/vdb is mounted on /srv; /dev/vdb is used by lvm vg-lv' in err.value.msg
    assert host.changes() == [] and host.kernel.calls == []


def test_without_safe_mode_a_disk_with_a_signature_is_used_and_not_wiped(tmp_path):
    host = CacheHost(disks={'/dev/vdb': 1048576}, signatures={'/dev/vdb': [('ext4', '0x438')]})
    converge(host, params(tmp_path, device='/dev/vdb', safe_mode=False, workload=False))
    assert not any(c[0] in ('wipefs', 'lsblk') for c in host.calls)
    assert [c[0] for c in host.changes()] == ['blkdiscard'] and 'lab' in host.kernel.devices


def test_our_own_earlier_stack_is_recognised_and_its_metadata_kept(tmp_path):
    host = CacheHost(disks={'/dev/vdb': 1048576})
    p = params(tmp_path, device='/dev/vdb', workload=False)
    converge(host, p)
    # the devices are gone (a reboot), the record and the metadata stay; wipefs now sees something
    host.kernel.devices.clear()
    host.sigs['/dev/vdb'] = [('unknown', '0x0')]
    host.calls = []
    stack, _report, _io = converge(host, p)
    assert not any(c[0] in ('wipefs', 'lsblk', 'blkdiscard') for c in host.calls)
    assert 'lab' in host.kernel.devices and stack.problems == []


def test_a_stack_built_by_the_jinja_role_converges_unchanged(tmp_path):
    host = CacheHost()
    converge(host, params(tmp_path))
    # the record as the role's to_nice_json wrote it
    record = record_of(tmp_path)
    (tmp_path / 'state' / 'lab' / 'state.json').write_text(json.dumps(record, indent=4) + '\n')
    (tmp_path / 'state' / 'lab' / 'workload.bin').write_bytes(known_data('lab', 4194304))
    host.calls, host.kernel.calls = [], []
    stack, _report, _io = converge(host, params(tmp_path), io=_io_with_known_data())
    assert stack.actions == [] and host.changes() == []


def _io_with_known_data():
    io = CacheIO()
    io.written[MAPPER + 'lab'] = known_data('lab', 4194304)
    return io


def test_a_stack_recorded_on_other_backing_is_refused(tmp_path):
    host = CacheHost(disks={'/dev/vdb': 1048576})
    converge(host, params(tmp_path, workload=False))
    with pytest.raises(DmError, match=r'recorded in .* as built on loop .*; tear it down \(state: absent\)'):
        converge(host, params(tmp_path, origin_device='/dev/vdb', cache_device='/dev/vdc', metadata_device='/dev/vdd'))


def test_a_disk_too_small_for_the_origin_is_refused_before_anything_runs(tmp_path):
    host = CacheHost(disks={'/dev/vdb': 147456 + 4096})
    with pytest.raises(DmError, match='leave 4096 sectors of origin after 16384 of metadata and 131072 of cache; '
                                      'expected more than 0 and at least the 8192 of the workload'):
        converge(host, params(tmp_path, device='/dev/vdb'))
    assert host.kernel.calls == [] and host.changes() == [] and not (tmp_path / 'state').exists()


# -- verification ------------------------------------------------------------------------------
def test_a_failed_check_is_a_problem_and_the_cache_is_resumed(tmp_path):
    host = CacheHost(cache_check_rc=1)
    stack, report, _io = converge(host, params(tmp_path))
    # the checker's progress lines are not findings
    assert report['check_healthy'] is False and report['check_findings'] == ['superblock is corrupt']
    assert stack.problems == ['cache_check of the live metadata of /dev/mapper/lab_cmeta failed: superblock is corrupt']
    assert not host.kernel.devices['lab']['suspended'] and 'lab_cmeta_check' not in host.kernel.devices


def test_a_checker_that_does_not_run_still_leaves_the_cache_resumed_and_the_view_gone(tmp_path):
    host = CacheHost()
    converge(host, params(tmp_path))
    host.cache_check_rc = 3       # neither ok nor error for tools 0.9: the check did not run
    host.kernel.calls = []
    with pytest.raises(DmError, match=r'cache_check did not run the check \(rc=3, unexpected\)'):
        converge(host, params(tmp_path))
    assert verbs(host) == VERIFY_VERBS
    assert not host.kernel.devices['lab']['suspended'] and 'lab_cmeta_check' not in host.kernel.devices


def test_a_view_that_cannot_be_made_still_leaves_the_cache_resumed(tmp_path):
    host = CacheHost()
    converge(host, params(tmp_path))
    host.kernel.fail = {'create': [REFUSED]}
    host.kernel.calls = []
    with pytest.raises(DmError, match='device lab_cmeta_check not created'):
        converge(host, params(tmp_path))
    assert verbs(host)[0] == ('suspend', 'lab') and ('resume', 'lab') in verbs(host)
    assert not host.kernel.devices['lab']['suspended'] and 'lab_cmeta_check' not in host.kernel.devices


def test_a_resume_that_fails_is_reported_loudly(tmp_path):
    host = CacheHost()
    converge(host, params(tmp_path))
    host.kernel.fail = {'resume': [REFUSED]}
    with pytest.raises(DmError, match='after the check of the live metadata: .*lab is STILL SUSPENDED'):
        converge(host, params(tmp_path))


def test_status_problems_are_listed(tmp_path):
    host = CacheHost()
    converge(host, params(tmp_path))
    host.kernel.needs_check = True
    stack, _report, _io = converge(host, params(tmp_path, policy='cleaner', verify=False))
    assert stack.actions == ['change device lab']
    assert stack.problems == ['cache lab: needs_check is set']


# -- teardown ----------------------------------------------------------------------------------
def built_dirty(tmp_path, host):
    _s, _r, io = converge(host, params(tmp_path))
    host.kernel.dirty['lab'] = 64
    io.alias[MAPPER + 'lab_corig'] = MAPPER + 'lab'   # what the cleaner writes back
    host.calls, host.kernel.calls = [], []
    return io


def test_teardown_flushes_through_the_cleaner_then_removes_cache_carve_outs_and_loop(tmp_path):
    host = CacheHost()
    io = built_dirty(tmp_path, host)
    clock = Clock(on_sleep=host.kernel.drain)
    stack, _io = stack_of(host, params(tmp_path, state='absent'), io=io, clock=clock)
    host.log = []
    report = stack.absent()
    # flush, remove the cache, check its metadata and the origin, then the carve-outs and the loop
    assert [line for line in host.log if not line.startswith(('thin_check -V', 'losetup --list'))] == [
        'dmsetup load lab', 'dmsetup resume lab', 'dmsetup remove lab', 'cache_check /dev/mapper/lab_cmeta',
        'dmsetup remove lab_corig', 'dmsetup remove lab_cdata', 'dmsetup remove lab_cmeta', 'losetup --detach /dev/loop0']
    cleaner = [data for verb, _n, data in host.kernel.verbs() if verb == 'load'][0]
    assert cleaner == '0 376832 cache 253:0 253:1 253:2 128 1 writeback cleaner 0\n'
    assert clock.sleeps == [2, 2]      # 64 dirty -> 32 -> 0
    assert host.kernel.devices == {} and host.loops == {} and not (tmp_path / 'state' / 'lab').exists()
    assert (report['state'], report['device'], report['policy'], report['dirty_blocks_before_teardown'],
            report['dirty_blocks']) == ('absent', 'lab', 'smq', 64, 0)
    assert report['check_healthy'] is True and report['data_intact'] is True
    assert report['checksums'] == {'workload_sha256': KNOWN, 'origin_sha256': KNOWN}
    assert sorted(report) == sorted(REPORT_KEYS) and stack.problems == []
    # again: nothing left to do
    stack, _io = stack_of(host, params(tmp_path, state='absent'))
    report = stack.absent()
    assert stack.actions == [] and report['device'] is None and report['check_healthy'] is None


def test_teardown_waits_no_longer_than_the_clean_timeout_and_removes_nothing(tmp_path):
    host = CacheHost()
    io = built_dirty(tmp_path, host)
    host.kernel.clean_rate = 0
    clock = Clock(on_sleep=host.kernel.drain)
    stack, _io = stack_of(host, params(tmp_path, state='absent', clean_timeout=10), io=io, clock=clock)
    with pytest.raises(DmError, match=r'cache lab: 64 dirty blocks are left after 10 s of the cleaner policy'):
        stack.absent()
    assert clock.sleeps == [2] * 5
    assert set(host.kernel.devices) == {'lab', 'lab_cmeta', 'lab_cdata', 'lab_corig'}
    assert ' cleaner 0' in host.kernel.devices['lab']['live']


def test_teardown_stops_when_the_origin_lost_the_data_and_a_second_run_without_verify_finishes(tmp_path):
    host = CacheHost()
    io = built_dirty(tmp_path, host)
    io.alias = {}                   # the origin holds zeros: the data is lost
    stack, _io = stack_of(host, params(tmp_path, state='absent'), io=io)
    report = stack.absent()
    assert report['data_intact'] is False and stack.problems[0].startswith('the origin /dev/mapper/lab_corig does not')
    assert set(host.kernel.devices) == {'lab_cmeta', 'lab_cdata', 'lab_corig'}
    assert (tmp_path / 'state' / 'lab' / 'state.json').exists() and host.loops
    stack, _io = stack_of(host, params(tmp_path, state='absent', verify=False), io=io)
    stack.absent()
    assert host.kernel.devices == {} and host.loops == {} and not (tmp_path / 'state' / 'lab').exists()


def test_teardown_in_check_mode_plans_and_runs_nothing(tmp_path):
    host = CacheHost()
    io = built_dirty(tmp_path, host)
    stack, _io = stack_of(host, params(tmp_path, state='absent'), io=io, check_mode=True)
    report = stack.absent()
    assert host.kernel.verbs() == [] and host.changes() == []
    assert stack.actions == ['change device lab', 'remove device lab', 'remove device lab_corig',
                             'remove device lab_cdata', 'remove device lab_cmeta', 'detach /dev/loop0',
                             'remove the stack directory %s' % (tmp_path / 'state' / 'lab')]
    assert report['check_healthy'] is None and (tmp_path / 'state' / 'lab' / 'state.json').exists()


def test_teardown_on_given_disks_zeroes_only_the_metadata_disk_head_last(tmp_path):
    host = CacheHost(disks={'/dev/vdb': 1048576, '/dev/vdc': 131072, '/dev/vdd': 16384})
    p = params(tmp_path, origin_device='/dev/vdb', cache_device='/dev/vdc', metadata_device='/dev/vdd',
               workload=False)
    _s, _r, io = converge(host, p)
    host.calls, host.log = [], []
    stack, _io = stack_of(host, dict(p, state='absent'), io=io)
    stack.absent()
    assert host.kernel.devices == {} and stack.problems == []
    # the origin holds the data, the cache disk nothing of ours: only the metadata superblock goes
    assert [' '.join(c) for c in host.changes()] == ['blkdiscard --zeroout --offset 0 --length 4096 /dev/vdd']
    assert host.log[-1] == 'blkdiscard --zeroout --offset'
    host.calls = []
    again, _io = stack_of(host, dict(p, state='absent'), io=io)
    again.absent()
    assert again.actions == [] and host.changes() == []


def test_a_build_that_failed_midway_is_torn_down_from_its_record(tmp_path):
    host = CacheHost()
    host.kernel.fail = {'create': [None, None, None, REFUSED]}   # the carve-outs; the cache fails
    with pytest.raises(DmError, match='device lab not created'):
        converge(host, params(tmp_path))
    assert record_of(tmp_path)['image'].endswith('backing.img')
    assert set(host.kernel.devices) == {'lab_cmeta', 'lab_cdata', 'lab_corig'} and host.loops
    # a teardown with none of the build's variables still finds the carve-outs, the loop and the file
    stack, _io = stack_of(host, dict(state='absent', name='lab', dir=str(tmp_path / 'state')))
    report = stack.absent()
    assert host.kernel.devices == {} and host.loops == {} and not (tmp_path / 'state' / 'lab').exists()
    assert report['device'] is None and report['backing'] == 'loop'


# -- bad input: every wrong value named ---------------------------------------------------------
@pytest.mark.parametrize('change,message', [
    (dict(name='_lab'), "name '_lab': expected a letter or digit"),
    (dict(name='a b'), "name 'a b'"),
    (dict(origin_device='/dev/vdb'), 'origin_device, cache_device and metadata_device go together; got only origin_device'),
    (dict(origin_device='/dev/vdb', cache_device='/dev/vdc', metadata_device='/dev/vdd', device='/dev/vde'), 'not both'),
    (dict(origin_device='/dev/vdb', cache_device='/dev/vdb', metadata_device='/dev/vdd'), 'expected three different'),
    (dict(metadata_size='1.1K'), "metadata_size: '1.1K' is not a whole number of bytes"),
    (dict(metadata_size=0), 'metadata_size: 0 is 0 sectors; expected at least 1'),
    (dict(cache_size='junk'), "cache_size: 'junk' is not a size"),
    (dict(loop_size='72MiB'), 'loop_size is 147456 sectors; expected more than metadata_size + cache_size'),
    (dict(block_size='48KiB'), "block_size '48KiB' is 96 sectors; expected a multiple of 32KiB"),
    (dict(block_size='2GiB'), "block_size '2GiB' is 4194304 sectors"),
    (dict(mode='writearound'), "mode 'writearound': expected one of writethrough, writeback, passthrough"),
    (dict(policy='mq'), "policy 'mq': expected one of smq, cleaner"),
    (dict(policy_args={'migration_threshold': 'lots'}), "policy_args migration_threshold: 'lots'"),
    (dict(policy_args={'migration_threshold': -1}), 'policy_args migration_threshold: -1'),
    (dict(workload_size='96KiB'), "workload_size: '96KiB' is 98304 bytes; expected a multiple of 64KiB"),
    (dict(workload_size='100b'), "workload_size: '100b' is 100 bytes"),
    (dict(clean_timeout=0), 'clean_timeout 0: expected seconds > 0'),
])
def test_bad_parameters_are_refused_naming_the_value(tmp_path, change, message):
    host = CacheHost()
    p = params(tmp_path)
    p.update(change)
    with pytest.raises(DmError) as err:
        CacheStack(CacheConfig(p), host, None)
    assert message in err.value.msg
    assert host.calls == [] and host.kernel.calls == []


def test_every_wrong_value_is_named_at_once(tmp_path):
    with pytest.raises(DmError) as err:
        CacheConfig(params(tmp_path, mode='fast', policy='lru', clean_timeout=-5))
    assert err.value.msg.count(';') == 2
