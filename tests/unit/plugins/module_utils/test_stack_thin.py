"""Unit tests of the thin stack planner (_stack.thin) on a fake host: the dm devices are those of
test_dm_ops' StatefulKernel (tables, inactive slots, suspends as the kernel keeps them), the other
tools (losetup, blockdev, wipefs, findmnt, blkid, mkfs, mount, thin tools) answer from a small model
of the host. What the stack does on a real kernel is tested on the lab (molecule thin_stack and the
fleet scenario)."""

import json
import os

import pytest

from test_dm_ops import StatefulKernel

from argv_check import assert_argv
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DmHost
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.metadata import Superblock
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.base import parse_blkid_export, pattern
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.thin import ThinConfig, ThinStack

MAPPER = '/dev/mapper/'
CHANGING = ('mkfs.ext4', 'mkfs.xfs', 'mount', 'umount', 'wipefs --all', 'blkdiscard', 'losetup --find',
            'losetup --detach')


class FakeHost(object):
    """The tools a thin stack runs, over a StatefulKernel. ``calls``: every argv but dmsetup's."""

    def __init__(self, disks=None, signatures=None, metadata_estimate=577536, check_rc=0):
        self.kernel = StatefulKernel()
        self.disks = dict(disks or {})          # path -> sectors
        self.sigs = dict(signatures or {})      # path -> [(type, offset)]
        self.users = {}                         # path -> lsblk children ({'name', 'type'})
        self.loops = {}                         # /dev/loopN -> file
        self.fs = {}                            # device -> filesystem type
        self.mounts = []                        # (source, target)
        self.estimate = metadata_estimate
        self.check_rc = check_rc
        self.calls = []
        self.fail = {}                          # argv[0] -> (rc, out, err) once

    def changes(self):
        return [c for c in self.calls if any(' '.join(c).startswith(p) for p in CHANGING)]

    def __call__(self, argv, data=None):
        argv = list(argv)
        if argv[0] == 'dmsetup':
            return self.kernel(argv, data)
        self.calls.append(argv)
        tool = argv[0]
        if tool in self.fail:
            return self.fail.pop(tool)
        if tool == 'losetup':
            if argv[1] == '--list':
                rows = [{'name': n, 'back-file': f} for n, f in sorted(self.loops.items())]
                return 0, json.dumps({'loopdevices': rows}) if rows else '', ''
            if argv[1] == '--find':
                name = '/dev/loop%d' % len(self.loops)
                self.loops[name] = argv[-1]
                return 0, name + '\n', ''
            if argv[1] == '--detach':
                del self.loops[argv[2]]
                return 0, '', ''
        if tool == 'blockdev':
            return 0, ''.join('%d\n' % self.disks[d] for d in argv[2:]), ''
        if tool == 'wipefs':
            if argv[1] == '--all':
                for d in argv[2:]:
                    self.sigs.pop(d, None)
                return 0, '', ''
            found = [{'device': argv[2], 'offset': off, 'type': t} for t, off in self.sigs.get(argv[2], [])]
            return 0, json.dumps({'signatures': found}) if found else '', ''
        if tool == 'lsblk':
            row = {'name': argv[-1], 'type': 'disk', 'mountpoint': None}
            if self.users.get(argv[-1]):
                row['children'] = self.users[argv[-1]]
            return 0, json.dumps({'blockdevices': [row]}), ''
        if tool == 'findmnt':
            return 0, json.dumps({'filesystems': [{'source': s, 'target': t} for s, t in self.mounts]}), ''
        if tool == 'blkid':
            blocks = ['DEVNAME=%s\nTYPE=%s\n' % (d, self.fs[d]) for d in argv[4:] if d in self.fs]
            return (0 if blocks else 2), '\n'.join(blocks), ''
        if tool.startswith('mkfs.'):
            self.fs[argv[1]] = tool[len('mkfs.'):]
            return 0, '', ''
        if tool == 'mount':
            self.mounts.append((argv[3], argv[4]))
            return 0, '', ''
        if tool == 'umount':
            self.mounts = [m for m in self.mounts if m[1] != argv[1]]
            return 0, '', ''
        if tool == 'blkdiscard':
            return 0, '', ''
        if tool.endswith('thin_check'):
            if argv[-1] == '-V':
                return 0, '0.9.0\n', ''
            return self.check_rc, '', '' if self.check_rc == 0 else 'bad checksum in superblock\n'
        if tool.endswith('thin_metadata_size'):
            return 0, '%d\n' % self.estimate, ''
        raise AssertionError('unexpected command %r' % argv)


class FakeModule(object):
    def __init__(self, host):
        self.host = host

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return None if name == 'setpriv' else name  # no child guard (test_dmpd_tools tries it)

    def run_command(self, argv, data=None, binary_data=False, environ_update=None):
        return self.host(assert_argv(argv), data)


class FakeIO(object):
    """Workload I/O and superblocks of the fake host's devices."""

    def __init__(self):
        self.written = {}
        self.superblocks = {}

    def write(self, target, data):
        self.written[target] = data

    def sha256(self, target, nbytes):
        import hashlib
        return hashlib.sha256(self.written[target][:nbytes]).hexdigest()

    def superblock(self, path):
        return self.superblocks.get(path, Superblock(b'\0' * 4096))

    def as_dict(self):
        return dict(write=self.write, sha256=self.sha256, superblock=self.superblock)


def params(tmp_path, **kw):
    p = dict(state='present', name='lab', dir=str(tmp_path / 'state'), loop_size='64MiB', safe_mode=True,
             pool={'block_size': '64KiB', 'low_water_mark': 0, 'features': []}, metadata_size=None,
             volumes=[{'name': 'lab_fs', 'size': '32MiB', 'filesystem': 'ext4', 'mount': str(tmp_path / 'mnt')},
                      {'name': 'lab_raw', 'size': '16MiB'}],
             snapshots=[{'name': 'lab_raw_snap', 'origin': 'lab_raw'}], workload=True, verify=True)
    p.update(kw)
    return p


def stack_of(host, p, check_mode=False, io=None):
    io = io or FakeIO()

    def factory():
        return DmHost(host, check_mode=check_mode, resolve=lambda path: path, kernel='6.1.0', sleep=lambda s: None,
                      exists=lambda path: path[len(MAPPER):] in host.kernel.devices, udev_timeout=0)
    return ThinStack(ThinConfig(p), host, Dmpd(FakeModule(host)), check_mode=check_mode, host_factory=factory,
                     io=io.as_dict()), io


def converge(host, p, **kw):
    stack, io = stack_of(host, p, **kw)
    report = stack.present()
    return stack, report, io


# -- a new stack, and a converged one ---------------------------------------------------
def test_a_new_loop_stack_is_built_in_dependency_order_and_recorded(tmp_path):
    host = FakeHost()
    stack, report, io = converge(host, params(tmp_path))
    assert list(host.kernel.devices) == ['lab_meta', 'lab_data', 'lab_pool', 'lab_fs', 'lab_raw', 'lab_raw_snap']
    creates = [name for verb, name, _data in host.kernel.verbs() if verb == 'create']
    assert creates == ['lab_meta', 'lab_data', 'lab_pool', 'lab_fs', 'lab_raw', 'lab_raw_snap']
    # the loop file is the data size plus the metadata estimate (577536 bytes -> 1128 sectors -> 4096 minimum)
    assert os.path.getsize(str(tmp_path / 'state' / 'lab' / 'pool.img')) == (4096 + 131072) * 512
    assert host.kernel.devices['lab_meta']['live'] == '0 4096 linear /dev/loop0 0'
    assert host.kernel.devices['lab_data']['live'] == '0 131072 linear /dev/loop0 4096'
    # filesystem, mount, workload, then the snapshot (after the workload)
    order = [' '.join(c[:2]) for c in host.changes()]
    assert order == ['losetup --find', 'mkfs.ext4 /dev/mapper/lab_fs', 'mount -t']
    assert host.mounts == [(MAPPER + 'lab_fs', str(tmp_path / 'mnt'))]
    assert sorted(io.written) == sorted([str(tmp_path / 'mnt' / 'lab_workload.bin'), MAPPER + 'lab_raw'])
    assert io.written[MAPPER + 'lab_raw'] == pattern('thin_stack', 'lab', 'lab_raw')
    assert stack.actions.index('write the workload pattern to /dev/mapper/lab_raw') < \
        stack.actions.index('create device lab_raw_snap')
    record = json.loads((tmp_path / 'state' / 'lab' / 'state.json').read_text())
    assert record['built'] is True and record['layout'] == {'metadata_sectors': 4096, 'data_sectors': 131072}
    assert record['volumes'] == ['lab_fs', 'lab_raw'] and record['snapshots'] == ['lab_raw_snap']
    assert record['mount_dirs'] == [str(tmp_path / 'mnt')]
    assert sorted(record['checksums']) == ['lab_fs', 'lab_raw']
    assert report['pool_mode'] == 'rw' and report['check_healthy'] is True and report['tool_version'] == '0.9.0'
    assert report['checksums'] == record['checksums'] and stack.problems == []
    assert report['data_total_blocks'] == 2048 and report['loop_device'] == '/dev/loop0'


def test_a_converged_stack_changes_nothing_and_runs_no_changing_command(tmp_path):
    host = FakeHost()
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    stack, report, io = converge(host, params(tmp_path))
    assert stack.actions == []
    assert host.changes() == []
    # only the check's metadata snapshot pair reaches the kernel
    assert [(verb, data) for verb, _n, data in host.kernel.verbs()] == [('message', None), ('message', None)]
    assert [c[0][-1] for c in host.kernel.calls] == ['reserve_metadata_snap', 'release_metadata_snap']
    assert io.written == {} and report['check_healthy'] is True


def test_the_check_mode_of_a_new_stack_plans_everything_and_runs_nothing(tmp_path):
    host = FakeHost()
    stack, report, _io = converge(host, params(tmp_path), check_mode=True)
    assert host.changes() == [] and host.kernel.verbs() == []
    assert not (tmp_path / 'state').exists()
    assert stack.actions[0] == 'write the stack record %s' % (tmp_path / 'state' / 'lab' / 'state.json')
    assert 'create device lab_pool' in stack.actions and 'create device lab_raw_snap' in stack.actions
    assert report['pool_mode'] is None and report['check_healthy'] is None


def test_check_mode_on_a_converged_stack_plans_nothing(tmp_path):
    host = FakeHost()
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    stack, report, _io = converge(host, params(tmp_path), check_mode=True)
    assert stack.actions == [] and host.kernel.verbs() == [] and host.changes() == []
    assert report['pool_mode'] == 'rw' and report['check_healthy'] is None


def test_a_volume_added_later_is_created_and_the_layout_is_kept(tmp_path):
    host = FakeHost()
    converge(host, params(tmp_path))
    p = params(tmp_path)
    # no dev_id: its position (3) is the snapshot's, recorded when it was made, so it takes the next free one
    p['volumes'] = p['volumes'] + [{'name': 'lab_new', 'size': '8MiB'}]
    host.estimate = 50 * 1024 * 1024      # a new estimate must not change the carved devices
    stack, report, io = converge(host, p)
    assert stack.actions == ['create device lab_new', 'write the workload pattern to /dev/mapper/lab_new',
                             'write the stack record %s' % stack.record.path]
    assert host.kernel.devices['lab_new']['live'] == '0 16384 thin 253:2 4'
    assert host.kernel.devices['lab_raw_snap']['live'] == '0 32768 thin 253:2 3'
    assert json.loads((tmp_path / 'state' / 'lab' / 'state.json').read_text())['dev_ids'] == \
        {'lab_fs': 1, 'lab_raw': 2, 'lab_raw_snap': 3, 'lab_new': 4}
    assert host.kernel.devices['lab_meta']['live'] == '0 4096 linear /dev/loop0 0'
    assert report['volumes'] == ['lab_fs', 'lab_raw', 'lab_new']


def test_a_size_change_is_refused_naming_both_sizes(tmp_path):
    host = FakeHost()
    converge(host, params(tmp_path))
    p = params(tmp_path)
    p['volumes'][1]['size'] = '32MiB'
    host.calls, host.kernel.calls = [], []
    with pytest.raises(DmError) as err:
        converge(host, p)
    assert err.value.msg == ('volume lab_raw is 32768 sectors, wanted 65536 (32MiB): the stack does not resize thin '
                             'devices; give its size as it is, or tear the stack down to build it anew')
    assert host.changes() == [] and all(verb != 'load' for verb, _n, _d in host.kernel.verbs())
    assert host.kernel.devices['lab_raw']['live'] == '0 32768 thin 253:2 2'


# -- given disks and safe mode ---------------------------------------------------------------
def test_a_disk_with_a_signature_is_refused_in_safe_mode_and_nothing_changes(tmp_path):
    host = FakeHost(disks={'/dev/vdb': 2097152}, signatures={'/dev/vdb': [('ext4', '0x438')]})
    with pytest.raises(DmError) as err:
        converge(host, params(tmp_path, device='/dev/vdb'))
    assert err.value.msg.startswith('safe_mode: refusing to build stack lab on what is in use: '
                                    '/dev/vdb holds ext4 (signature at offset 0x438)')
    assert host.changes() == [] and host.kernel.devices == {} and not (tmp_path / 'state').exists()


def test_a_disk_another_dm_device_maps_is_refused_in_safe_mode(tmp_path):
    # no signature at all, but a live linear device of someone else's on it (the bad-input suite
    # found the thin stack would have built over it: only wipefs was asked)
    host = FakeHost(disks={'/dev/vdb': 2097152})
    host.users['/dev/vdb'] = [{'name': 'theirs', 'type': 'dm'}]
    with pytest.raises(DmError) as err:
        converge(host, params(tmp_path, device='/dev/vdb'))
    assert '/dev/vdb is used by dm theirs' in err.value.msg and 'safe_mode' in err.value.msg
    assert host.changes() == [] and host.kernel.devices == {} and not (tmp_path / 'state').exists()


def test_metadata_on_the_metadata_device_is_refused_in_safe_mode(tmp_path):
    host = FakeHost(disks={'/dev/vdb': 8192, '/dev/vdc': 2097152})
    io = FakeIO()
    sb = bytearray(4096)
    sb[32:40] = (27022010).to_bytes(8, 'little')
    io.superblocks['/dev/vdb'] = Superblock(bytes(sb))
    with pytest.raises(DmError, match='/dev/vdb holds thin metadata'):
        stack_of(host, params(tmp_path, metadata_device='/dev/vdb', data_device='/dev/vdc'), io=io)[0].present()


def test_without_safe_mode_the_signatures_are_erased_first(tmp_path):
    host = FakeHost(disks={'/dev/vdb': 2097152}, signatures={'/dev/vdb': [('ext4', '0x438')]})
    converge(host, params(tmp_path, device='/dev/vdb', safe_mode=False, volumes=[], snapshots=[]))
    wanted = ['wipefs --all /dev/vdb', 'blkdiscard --zeroout --offset 0 --length 4096 /dev/vdb']
    assert [' '.join(c) for c in host.changes()][:2] == wanted


def test_our_own_earlier_pool_on_a_given_disk_is_recognised_not_refused(tmp_path):
    host = FakeHost(disks={'/dev/vdb': 2097152})
    p = params(tmp_path, device='/dev/vdb', volumes=[{'name': 'lab_raw', 'size': '16MiB'}], snapshots=[])
    converge(host, p)
    # the pool is torn down by hand (the metadata stays on the disk), the record stays
    for name in ('lab_raw', 'lab_pool', 'lab_data', 'lab_meta'):
        del host.kernel.devices[name]
    host.sigs['/dev/vdb'] = [('thin-pool?', '0x0')]
    io = FakeIO()
    sb = bytearray(4096)
    sb[32:40] = (27022010).to_bytes(8, 'little')
    io.superblocks[MAPPER + 'lab_meta'] = io.superblocks['/dev/vdb'] = Superblock(bytes(sb))
    host.calls = []
    stack, io = stack_of(host, p, io=io)
    stack.present()
    assert not any(c[0] in ('wipefs', 'blkdiscard') for c in host.calls)
    assert 'lab_pool' in host.kernel.devices


def test_the_carve_of_one_disk_leaves_whole_pool_blocks(tmp_path):
    host = FakeHost(disks={'/dev/vdb': 200000})
    converge(host, params(tmp_path, device='/dev/vdb', metadata_size='2MiB', volumes=[], snapshots=[]))
    # 200000 - 4096 = 195904 sectors -> 1530 blocks of 128
    assert host.kernel.devices['lab_data']['live'] == '0 195840 linear /dev/vdb 4096'


def test_a_disk_too_small_for_one_pool_block_is_refused_before_anything_runs(tmp_path):
    host = FakeHost(disks={'/dev/vdb': 4100})
    with pytest.raises(DmError, match='leaves 4 sectors of pool data after 4096 sectors of metadata'):
        converge(host, params(tmp_path, device='/dev/vdb', metadata_size='2MiB', volumes=[], snapshots=[]))
    assert host.kernel.devices == {} and not (tmp_path / 'state').exists()


def test_a_stack_recorded_on_other_backing_is_refused(tmp_path):
    host = FakeHost(disks={'/dev/vdb': 2097152})
    converge(host, params(tmp_path, volumes=[], snapshots=[]))
    with pytest.raises(DmError, match='recorded in .* as built on loop .*pool.img; tear it down'):
        converge(host, params(tmp_path, device='/dev/vdb', volumes=[], snapshots=[]))


# -- verification -----------------------------------------------------------------------------
def test_a_failed_check_is_a_problem_and_the_snapshot_is_released(tmp_path):
    host = FakeHost()
    host.check_rc = 1
    stack, report, _io = converge(host, params(tmp_path))
    assert report['check_healthy'] is False
    assert stack.problems == ['thin_check of /dev/mapper/lab_meta through the metadata snapshot failed: '
                              'bad checksum in superblock']
    messages = [c[0][-1] for c in host.kernel.calls if c[0][1] == 'message']
    assert messages[-2:] == ['reserve_metadata_snap', 'release_metadata_snap']


# -- teardown ---------------------------------------------------------------------------------
def test_teardown_unmounts_removes_in_reverse_order_and_detaches(tmp_path):
    host = FakeHost()
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    stack, _io = stack_of(host, params(tmp_path, state='absent'))
    report = stack.absent()
    removes = [name for verb, name, _data in host.kernel.verbs() if verb == 'remove']
    assert set(removes[:3]) == {'lab_raw_snap', 'lab_raw', 'lab_fs'}
    assert removes.index('lab_pool') > max(removes.index(n) for n in ('lab_raw_snap', 'lab_raw', 'lab_fs'))
    assert removes.index('lab_pool') < min(removes.index('lab_meta'), removes.index('lab_data'))
    assert host.calls[1][0] == 'umount' and host.mounts == [] and host.loops == {}
    assert not (tmp_path / 'state' / 'lab').exists() and not (tmp_path / 'mnt').exists()
    assert report['state'] == 'absent' and report['loops_detached'] == ['/dev/loop0']
    assert sorted(report['removed']) == sorted(['lab_raw_snap', 'lab_raw', 'lab_fs', 'lab_pool', 'lab_meta', 'lab_data'])
    # again: nothing left to do
    stack, _io = stack_of(host, params(tmp_path, state='absent'))
    stack.absent()
    assert stack.actions == []


def test_teardown_on_a_given_disk_zeroes_the_superblock_last_so_a_rebuild_passes_safe_mode(tmp_path):
    # site.yml, teardown.yml, site.yml on the lab's disks: the pool's metadata stayed on the disk and the
    # rebuild was refused in safe mode ('/dev/vdb holds thin metadata'); the fleet benchmark found it
    host = FakeHost(disks={'/dev/vdb': 2097152})
    p = params(tmp_path, device='/dev/vdb', volumes=[{'name': 'lab_raw', 'size': '16MiB'}], snapshots=[])
    converge(host, p)
    io = FakeIO()
    sb = bytearray(4096)
    sb[32:40] = (27022010).to_bytes(8, 'little')        # what the kernel left when the pool went
    io.superblocks['/dev/vdb'] = Superblock(bytes(sb))
    host.calls, host.kernel.calls = [], []
    plan, _io = stack_of(host, dict(p, state='absent'), check_mode=True, io=io)
    plan.absent()
    assert plan.actions[-2:] == ['zero the superblock of the metadata area /dev/vdb',
                                 'remove the stack directory %s' % (tmp_path / 'state' / 'lab')]
    assert host.changes() == [] and 'lab_pool' in host.kernel.devices
    stack, _io = stack_of(host, dict(p, state='absent'), io=io)
    stack.absent()
    assert host.kernel.devices == {}
    assert [' '.join(c) for c in host.changes()] == ['blkdiscard --zeroout --offset 0 --length 4096 /dev/vdb']
    assert host.calls.index(['blkdiscard', '--zeroout', '--offset', '0', '--length', '4096', '/dev/vdb']) == \
        len(host.calls) - 1
    # a second teardown has no record: it writes nothing
    host.calls = []
    again, _io = stack_of(host, dict(p, state='absent'), io=io)
    again.absent()
    assert again.actions == [] and host.changes() == []
    # what blkdiscard did to the disk: the superblock reads as zeros, so the rebuild is not refused
    del io.superblocks['/dev/vdb']
    stack, _io = stack_of(host, p, io=io)
    stack.present()
    assert 'lab_pool' in host.kernel.devices


def test_teardown_of_a_loop_stack_writes_no_disk(tmp_path):
    host = FakeHost()
    converge(host, params(tmp_path))
    host.calls = []
    stack, _io = stack_of(host, params(tmp_path, state='absent'))
    stack.absent()
    assert not any(c[0] == 'blkdiscard' for c in host.calls)


def test_a_build_that_failed_midway_is_torn_down_from_its_record(tmp_path):
    host = FakeHost()
    host.kernel.fail = {'create': [None, None, None, 'refused']}   # meta, data, pool; the first volume fails
    with pytest.raises(DmError):
        converge(host, params(tmp_path))
    record = json.loads((tmp_path / 'state' / 'lab' / 'state.json').read_text())
    assert record['loop_file'].endswith('pool.img') and record['built'] is False
    assert set(host.kernel.devices) == {'lab_meta', 'lab_data', 'lab_pool'}
    # a teardown that names no volume at all still finds the pool, carve-outs and loop file
    stack, _io = stack_of(host, params(tmp_path, state='absent', volumes=[], snapshots=[]))
    stack.absent()
    assert host.kernel.devices == {} and host.loops == {} and not (tmp_path / 'state' / 'lab').exists()


# -- bad input: every wrong value named at once ------------------------------------------------
@pytest.mark.parametrize('change,message', [
    (dict(name='a b'), "name 'a b': expected 1 to 100 letters"),
    (dict(name='..'), "name '..': expected a name with a letter, digit or _ + - in it, not only dots"),
    (dict(name='.'), "name '.': expected a name with a letter"),
    (dict(loop_size='1.1K'), "loop_size: '1.1K' is not a whole number of bytes"),
    (dict(loop_size='512KiB'), 'loop_size is 1024 sectors; expected at least 16 pool blocks (2048 sectors)'),
    (dict(pool={'block_size': '96KiB'}), "pool.block_size: '96KiB' (192 sectors); expected a multiple of 128 sectors"),
    (dict(pool={'features': ['fast']}), 'pool.features fast: expected some of'),
    (dict(metadata_device='/dev/vdb'), 'metadata_device and data_device go together'),
    (dict(device='/dev/vdb', metadata_device='/dev/vdc', data_device='/dev/vdd'), 'not both'),
    (dict(volumes=[{'name': 'v', 'size': 'junk'}]), "volume v size: 'junk' is not a size"),
    (dict(volumes=[{'name': 'v', 'size': 0}]), 'volume v size: 0 is 0 sectors; expected at least 1'),
    (dict(volumes=[{'name': 'lab_pool', 'size': 8}]), 'lab_pool is taken'),
    (dict(volumes=[{'name': 'v', 'size': 8}, {'name': 'v', 'size': 8}]), 'v is given more than once'),
    (dict(volumes=[{'name': 'v', 'size': 8, 'dev_id': 16777216}]), 'v: dev_id 16777216; expected a number'),
    (dict(volumes=[{'name': 'v', 'size': 8, 'dev_id': 2}], snapshots=[{'name': 's', 'origin': 'v'}]),
     'dev_id 2 is used by v and s'),
    (dict(snapshots=[{'name': 's', 'origin': 'nowhere'}]), 'snapshot s: origin nowhere is not a volume'),
    (dict(volumes=[{'name': 'v', 'size': 8, 'mount': '/mnt/v'}]), 'volume v: mount /mnt/v needs a filesystem'),
    (dict(volumes=[{'name': 'v', 'size': 8, 'filesystem': 'ext4', 'mount': 'mnt'}]), 'mount mnt is not an absolute'),
    (dict(volumes=[{'name': 'v', 'size': 8, 'filesystem': 'ntfs'}]), "filesystem 'ntfs'; expected one of"),
])
def test_bad_parameters_are_refused_naming_the_value(tmp_path, change, message):
    host = FakeHost()
    p = params(tmp_path, volumes=[], snapshots=[])
    p.update(change)
    with pytest.raises(DmError) as err:
        ThinStack(ThinConfig(p), host, None)
    assert message in err.value.msg
    assert host.calls == [] and host.kernel.calls == []


def test_blkid_export_of_several_devices():
    text = 'DEVNAME=/dev/mapper/a\nUUID=x\nTYPE=ext4\n\nDEVNAME=/dev/mapper/b\nPTTYPE=gpt\n'
    assert parse_blkid_export(text) == {'/dev/mapper/a': 'ext4', '/dev/mapper/b': 'gpt'}


def test_given_disks_that_are_no_block_devices_are_refused_naming_them(tmp_path):
    from ansible_collections.sts.devicemapper.plugins.module_utils._stack.base import require_block_devices
    with pytest.raises(DmError, match='%s is a directory; expected a block device' % tmp_path):
        require_block_devices([str(tmp_path)])
    with pytest.raises(DmError, match='/dev/sts-none does not exist; expected a block device'):
        require_block_devices(['/dev/sts-none'])
    (tmp_path / 'f').write_text('x')
    with pytest.raises(DmError, match='f is a regular file; expected a block device'):
        require_block_devices([str(tmp_path / 'f')])


def test_the_workload_records_the_pattern_s_checksum_and_fails_when_the_volume_gives_back_other_data(tmp_path):
    import hashlib
    host = FakeHost()
    _stack, _report, io = converge(host, params(tmp_path))
    record = json.loads((tmp_path / 'state' / 'lab' / 'state.json').read_text())
    assert record['checksums']['lab_raw'] == hashlib.sha256(pattern('thin_stack', 'lab', 'lab_raw')).hexdigest()

    class Lossy(FakeIO):
        def sha256(self, target, nbytes):
            return hashlib.sha256(b'\0' * nbytes).hexdigest()
    lossy = tmp_path / 'lossy'
    with pytest.raises(DmError, match='the workload read back from .*/lab_workload.bin is not what was written to it'):
        converge(FakeHost(), params(lossy), io=Lossy())
