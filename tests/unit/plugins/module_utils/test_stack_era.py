"""Unit tests of the era stack planner (_stack.era) on a fake host: the dm devices are those of
test_dm_ops' StatefulKernel, taught here what dm-era answers (its status line, the metadata
snapshot messages, read-only devices); the era tools answer with captures of the real tools of
both generations (fixtures/dmpd/{0.9.0,1.1.0}/era_*.json). What the stack does on a real kernel
is tested on the lab (molecule era_stack and the fleet scenario)."""

import hashlib
import json
import os

import pytest

from argv_check import positional
from test_dm_ops import StatefulKernel
from test_stack_thin import FakeHost, FakeIO, FakeModule

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DmHost
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.era import (
    REPORT_KEYS, EraConfig, EraStack, known_data)

MAPPER = '/dev/mapper/'
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'dmpd')
GENERATIONS = ('0.9.0', '1.1.0')
CHANGING = ('mount', 'umount', 'wipefs --all', 'blkdiscard', 'losetup --find', 'losetup --detach', 'mkfs')
HELD_ROOT = 1234


def fixture(version, name):
    with open(os.path.join(FIXTURES, version, name + '.json')) as handle:
        return json.load(handle)


class EraKernel(StatefulKernel):
    """StatefulKernel with dm-era: ``<metadata block size> <used>/<total> <current era> <held root|->`` as
    status, take_metadata_snap (a new era, a held root) and drop_metadata_snap, read-only devices. A
    message to a suspended era device fails the test: the real one would never answer."""

    def __init__(self, **kw):
        super(EraKernel, self).__init__(**kw)
        self.era = {}          # name -> dict(current=, held=)
        self.readonly = set()

    def _info(self):
        text = super(EraKernel, self)._info()
        rows = []
        for line in text.splitlines(True):
            cols = line.split('|')
            if len(cols) > 4 and cols[0] in self.readonly:
                cols[4] = cols[4][:3] + 'r'
            rows.append('|'.join(cols))
        return ''.join(rows)

    def _status(self):
        out = []
        for line in super(EraKernel, self)._status().splitlines():
            if ': ' not in line:
                continue
            name, rest = line.split(': ', 1)
            words = rest.split()
            if len(words) >= 3 and words[2] == 'era':
                era = self.era.setdefault(name, dict(current=1, held=None))
                held = '-' if era['held'] is None else str(era['held'])
                line = '%s: %s %s era 8 72/1024 %d %s' % (name, words[0], words[1], era['current'], held)
            out.append(line + '\n')
        return ''.join(out) or 'No devices found\n'

    def is_era(self, name):
        return ' era ' in (self.devices.get(name, {}).get('live') or '')

    def __call__(self, argv, data=None):
        argv = positional(argv)
        if argv[1] == 'message' and self.is_era(argv[2]):
            self.calls.append((argv, data))
            name, word = argv[2], argv[4]
            assert not self.devices[name]['suspended'], 'a message to a suspended era device never returns'
            outcome = self.fail.get('message', []).pop(0) if self.fail.get('message') else None
            if isinstance(outcome, tuple):
                return outcome
            era = self.era.setdefault(name, dict(current=1, held=None))
            refused = (1, '', 'device-mapper: message ioctl on %s  failed: Invalid argument\nCommand failed.\n' % name)
            if word == 'take_metadata_snap':
                if era['held'] is not None:
                    return refused
                era['current'] += 1
                era['held'] = HELD_ROOT
                return 0, '', ''
            if word == 'drop_metadata_snap':
                if era['held'] is None:
                    return refused
                era['held'] = None
                return 0, '', ''
            return refused
        rc, out, err = super(EraKernel, self).__call__(argv, data)
        if argv[1] == 'create' and rc == 0 and '--readonly' in argv:
            self.readonly.add(argv[-1])
        if argv[1] == 'remove' and rc == 0:
            self.readonly.discard(argv[-1])
            self.era.pop(argv[-1], None)
        return rc, out, err

    def messages(self):
        return [argv[4] for argv, _data in self.calls if argv[1] == 'message']


class EraHost(FakeHost):
    """FakeHost with lsblk and the era tools of one generation, answering with its captures."""

    def __init__(self, version='0.9.0', usage=None, **kw):
        super(EraHost, self).__init__(**kw)
        self.kernel = EraKernel()
        self.version = version
        self.usage = dict(usage or {})       # disk -> lsblk blockdevices entry
        self.check = fixture(version, 'era_check_ok')
        self.invalidate = fixture(version, 'era_invalidate_since_2')
        self.dump = fixture(version, 'era_dump_logical')

    def changes(self):
        return [c for c in self.calls if any(' '.join(c).startswith(p) for p in CHANGING)]

    def tool_calls(self, name):
        return [c for c in self.calls if c[0] == name]

    def __call__(self, argv, data=None):
        argv = list(argv)
        tool = argv[0]
        if tool == 'dmsetup' or tool in self.fail:
            return super(EraHost, self).__call__(argv, data)
        if tool == 'thin_check' and argv[-1] == '-V':
            self.calls.append(argv)
            return 0, self.version + '\n', ''
        if tool == 'lsblk':
            self.calls.append(argv)
            entry = dict(dict(name=os.path.basename(argv[-1]), type='disk', mountpoint=None),
                         **self.usage.get(argv[-1], {}))
            return 0, json.dumps({'blockdevices': [entry]}), ''
        if tool in ('era_check', 'era_invalidate', 'era_dump'):
            self.calls.append(argv)
            answer = {'era_check': self.check, 'era_invalidate': self.invalidate, 'era_dump': self.dump}[tool]
            if tool == 'era_dump' and '-o' in argv and answer['rc'] == 0:
                with open(argv[argv.index('-o') + 1], 'w') as handle:
                    handle.write(answer['stdout'])
                return 0, '', answer['stderr']
            return answer['rc'], answer['stdout'], answer['stderr']
        return super(EraHost, self).__call__(argv, data)


class EraIO(FakeIO):
    """A device nobody wrote reads as zeros."""

    def sha256(self, target, nbytes):
        return hashlib.sha256(self.written.get(target, b'\0' * nbytes)[:nbytes]).hexdigest()


def params(tmp_path, **kw):
    p = dict(state='present', name='lab', dir=str(tmp_path / 'state'), origin_device=None, metadata_device=None,
             device=None, metadata_size='8MiB', loop_size='64MiB', safe_mode=True, block_size='64KiB', since_era=1,
             workload=True, workload_size='256KiB', verify=True)
    p.update(kw)
    return p


def stack_of(host, p, check_mode=False, io=None, tmp_path=None):
    # what was written to the devices stays with the host from one run to the next
    if io is not None:
        host.io = io
    io = getattr(host, 'io', None) or EraIO()
    host.io = io

    def factory():
        return DmHost(host, check_mode=check_mode, resolve=lambda path: path, kernel='6.1.0', sleep=lambda s: None,
                      exists=lambda path: path[len(MAPPER):] in host.kernel.devices, udev_timeout=0)
    scratch = str(tmp_path or os.path.dirname(p['dir']))
    return EraStack(EraConfig(p), host, Dmpd(FakeModule(host)), check_mode=check_mode, host_factory=factory,
                    io=io.as_dict(), scratch=lambda: scratch), io


def converge(host, p, **kw):
    stack, io = stack_of(host, p, **kw)
    report = stack.present()
    return stack, report, io


def record_of(tmp_path, name='lab'):
    return json.loads((tmp_path / 'state' / name / 'state.json').read_text())


# -- a new stack on each backing ----------------------------------------------------------
def test_a_new_loop_stack_is_built_read_and_recorded(tmp_path):
    host = EraHost()
    stack, report, io = converge(host, params(tmp_path))
    creates = [name for verb, name, _data in host.kernel.verbs() if verb == 'create']
    assert creates == ['lab_emeta', 'lab_eorig', 'lab_emeta_ro', 'lab']
    assert os.path.getsize(str(tmp_path / 'state' / 'lab' / 'backing.img')) == 64 * 1024 * 1024
    dev = host.kernel.devices
    assert dev['lab_emeta']['live'] == '0 16384 linear /dev/loop0 0'
    assert dev['lab_eorig']['live'] == '0 114688 linear /dev/loop0 16384'
    assert dev['lab_emeta_ro']['live'] == '0 16384 linear 253:0 0' and host.kernel.readonly == {'lab_emeta_ro'}
    assert dev['lab']['live'] == '0 114688 era 253:0 253:1 128'
    # the snapshot is taken and dropped around the tools; nothing is ever suspended
    assert host.kernel.messages() == ['take_metadata_snap', 'drop_metadata_snap']
    assert host.kernel.era['lab']['held'] is None
    assert not any(verb == 'suspend' for verb, _n, _d in host.kernel.verbs())
    assert [c[0] for c in host.calls if c[0].startswith('era_')] == ['era_check', 'era_invalidate', 'era_dump']
    assert host.tool_calls('era_check')[0][-1] == MAPPER + 'lab_emeta_ro'
    assert host.tool_calls('era_invalidate')[0] == ['era_invalidate', '--metadata-snapshot', '--written-since', '1',
                                                    MAPPER + 'lab_emeta']
    assert host.tool_calls('era_dump')[0][1:3] == ['--logical', '-o'] and \
        host.tool_calls('era_dump')[0][-1] == MAPPER + 'lab_emeta_ro'
    assert not [f for f in os.listdir(str(tmp_path)) if f.endswith('era_dump.xml')]
    assert io.written == {MAPPER + 'lab': known_data('lab', 262144)}
    assert [' '.join(c[:2]) for c in host.changes()] == ['losetup --find']
    assert record_of(tmp_path) == {
        'role': 'sts.devicemapper.era_stack', 'name': 'lab', 'backing': 'loop',
        'image': str(tmp_path / 'state' / 'lab' / 'backing.img'),
        'dm_devices': ['lab', 'lab_emeta_ro', 'lab_emeta', 'lab_eorig'],
        'metadata_device': MAPPER + 'lab_emeta', 'origin_device': MAPPER + 'lab_eorig',
        'workload': {'file': str(tmp_path / 'state' / 'lab' / 'workload.bin'), 'bytes': 262144,
                     'sha256': hashlib.sha256(known_data('lab', 262144)).hexdigest()}}
    assert sorted(report) == sorted(REPORT_KEYS)
    assert report['device'] == 'lab' and report['backing'] == 'loop' and report['block_size'] == 128
    assert report['current_era'] == 2 and report['since_era'] == 1
    assert report['changed_ranges'] == [[2, 3], [4, 8], [9, 11], [12, 13], [14, 15]]
    assert report['changed_blocks'] == 9
    assert report['check_healthy'] is True and report['check_findings'] == [] and report['tool_version'] == '0.9.0'
    assert report['metadata_usage_pct'] == 7.03
    assert report['workload_blocks'] == [0, 4] and report['checksums'] == {
        'workload_sha256': record_of(tmp_path)['workload']['sha256']}
    assert stack.problems == [] and stack.warnings == []


def test_one_disk_is_carved_in_two_after_the_safe_mode_probe_and_its_metadata_zeroed(tmp_path):
    host = EraHost(disks={'/dev/vdb': 262144})
    stack, report, _io = converge(host, params(tmp_path, device='/dev/vdb'))
    assert host.kernel.devices['lab_emeta']['live'] == '0 16384 linear /dev/vdb 0'
    assert host.kernel.devices['lab_eorig']['live'] == '0 245760 linear /dev/vdb 16384'
    assert host.kernel.devices['lab']['live'] == '0 245760 era 253:0 253:1 128'
    probes = [c[0] for c in host.calls if c[0] in ('wipefs', 'lsblk')]
    assert probes == ['wipefs', 'lsblk']
    assert [' '.join(c) for c in host.changes()] == ['blkdiscard --zeroout --offset 0 --length 4096 /dev/vdb']
    assert report['backing'] == 'device' and report['origin_device'] == MAPPER + 'lab_eorig'
    assert record_of(tmp_path)['image'] is None and stack.problems == []


def test_two_given_disks_carry_the_era_device_and_its_view_only(tmp_path):
    host = EraHost(disks={'/dev/vdb': 16384, '/dev/vdc': 524288})
    _stack, report, _io = converge(host, params(tmp_path, metadata_device='/dev/vdb', origin_device='/dev/vdc'))
    assert sorted(host.kernel.devices) == ['lab', 'lab_emeta_ro']
    assert host.kernel.devices['lab_emeta_ro']['live'] == '0 16384 linear /dev/vdb 0'
    assert host.kernel.devices['lab']['live'] == '0 524288 era /dev/vdb /dev/vdc 128'
    assert [' '.join(c) for c in host.changes()] == ['blkdiscard --zeroout --offset 0 --length 4096 /dev/vdb']
    assert host.tool_calls('era_invalidate')[0][-1] == '/dev/vdb'
    assert record_of(tmp_path)['dm_devices'] == ['lab', 'lab_emeta_ro']
    assert report['metadata_device'] == '/dev/vdb' and report['origin_device'] == '/dev/vdc'


def test_a_converged_stack_changes_nothing_and_runs_no_changing_command(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    stack, report, io = converge(host, params(tmp_path))
    assert stack.actions == [] and host.changes() == []
    assert [verb for verb, _n, _d in host.kernel.verbs()] == ['message', 'message']
    assert host.kernel.messages() == ['take_metadata_snap', 'drop_metadata_snap']
    assert report['current_era'] == 3 and report['check_healthy'] is True


def test_the_known_data_is_written_again_when_the_era_device_lost_it(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    host.io.written[MAPPER + 'lab'] = b'x' * 262144
    stack, report, io = converge(host, params(tmp_path))
    assert stack.actions == ['write the known data (262144 bytes) to /dev/mapper/lab']
    assert io.written[MAPPER + 'lab'] == known_data('lab', 262144) and stack.problems == []


def test_check_mode_of_a_new_stack_plans_everything_and_runs_nothing(tmp_path):
    host = EraHost()
    stack, report, _io = converge(host, params(tmp_path), check_mode=True)
    assert host.changes() == [] and host.kernel.verbs() == [] and not (tmp_path / 'state').exists()
    assert stack.actions == [
        'write the stack record %s' % (tmp_path / 'state' / 'lab' / 'state.json'),
        'create the sparse file %s (67108864 bytes)' % (tmp_path / 'state' / 'lab' / 'backing.img'),
        'attach %s to a loop device' % (tmp_path / 'state' / 'lab' / 'backing.img'),
        'create device lab_emeta', 'create device lab_eorig', 'create device lab_emeta_ro', 'create device lab',
        'write the known data (262144 bytes) to /dev/mapper/lab']
    assert report['device'] is None and report['check_healthy'] is None and report['changed_ranges'] is None
    assert not [c for c in host.calls if c[0].startswith('era_')]


def test_check_mode_of_a_new_stack_on_a_disk_plans_the_zeroing(tmp_path):
    host = EraHost(disks={'/dev/vdb': 262144})
    stack, _report, _io = converge(host, params(tmp_path, device='/dev/vdb'), check_mode=True)
    assert host.changes() == [] and host.kernel.verbs() == []
    assert 'zero the superblock of the metadata area /dev/vdb' in stack.actions
    assert stack.actions[-5:-1] == ['create device lab_emeta', 'create device lab_eorig', 'create device lab_emeta_ro',
                                    'create device lab']


def test_check_mode_on_a_converged_stack_plans_nothing_and_reads_the_era(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    stack, report, _io = converge(host, params(tmp_path), check_mode=True)
    assert stack.actions == [] and host.kernel.verbs() == [] and host.changes() == []
    assert report['current_era'] == 2 and report['block_size'] == 128 and report['workload_blocks'] == [0, 4]
    assert report['check_healthy'] is None and report['blocks_written_per_era'] is None
    assert report['tool_version'] == '0.9.0'


# -- safe mode, and stacks built before ------------------------------------------------------
def test_a_disk_with_a_signature_is_refused_in_safe_mode_and_nothing_changes(tmp_path):
    host = EraHost(disks={'/dev/vdb': 262144}, signatures={'/dev/vdb': [('ext4', '0x438')]},
                   usage={'/dev/vdb': {'children': [{'name': 'vdb1', 'type': 'part'}]}})
    with pytest.raises(DmError) as err:
        converge(host, params(tmp_path, device='/dev/vdb'))
    assert err.value.msg == ('safe_mode refuses to build era stack lab on /dev/vdb: /dev/vdb holds ext4 (signature at '
                             'offset 0x438); /dev/vdb is used by part vdb1. Wipe them, pick other disks, or set '
                             'safe_mode false (era_stack_safe_mode in the role).')
    assert host.changes() == [] and host.kernel.devices == {} and not (tmp_path / 'state').exists()


def test_a_mounted_disk_is_refused_in_safe_mode(tmp_path):
    host = EraHost(disks={'/dev/vdb': 16384, '/dev/vdc': 524288}, usage={'/dev/vdc': {'mountpoint': '/srv'}})
    with pytest.raises(DmError, match='/dev/vdc is mounted on /srv'):
        converge(host, params(tmp_path, metadata_device='/dev/vdb', origin_device='/dev/vdc'))
    assert host.changes() == [] and host.kernel.devices == {}


def test_without_safe_mode_the_disk_is_not_probed_and_only_its_metadata_head_is_zeroed(tmp_path):
    host = EraHost(disks={'/dev/vdb': 262144}, signatures={'/dev/vdb': [('ext4', '0x438')]})
    converge(host, params(tmp_path, device='/dev/vdb', safe_mode=False))
    assert not [c for c in host.calls if c[0] in ('wipefs', 'lsblk')]
    assert [' '.join(c) for c in host.changes()] == ['blkdiscard --zeroout --offset 0 --length 4096 /dev/vdb']


def test_our_own_earlier_stack_on_a_disk_is_recognised_neither_probed_nor_zeroed(tmp_path):
    host = EraHost(disks={'/dev/vdb': 262144})
    p = params(tmp_path, device='/dev/vdb')
    converge(host, p)
    # a reboot: the devices are gone, the record and the metadata on the disk stay
    host.kernel.devices.clear()
    host.sigs['/dev/vdb'] = [('unknown', '0x0')]
    host.calls = []
    stack, report, _io = converge(host, p)
    assert not [c for c in host.calls if c[0] in ('wipefs', 'lsblk', 'blkdiscard')]
    assert stack.actions == ['create device lab_emeta', 'create device lab_eorig', 'create device lab_emeta_ro',
                             'create device lab']
    assert report['device'] == 'lab' and stack.problems == []


def test_a_record_the_jinja_role_wrote_is_recognised_and_kept_as_it_is(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    path = tmp_path / 'state' / 'lab' / 'state.json'
    jinja = record_of(tmp_path)
    # as the role's copy task wrote it: to_nice_json (indent 4, keys sorted) and a newline
    path.write_text(json.dumps(jinja, indent=4, sort_keys=True) + '\n')
    before = path.read_text()
    stack, _report, _io = converge(host, params(tmp_path))
    assert stack.actions == [] and path.read_text() == before


def test_a_stack_recorded_on_other_backing_is_refused(tmp_path):
    host = EraHost(disks={'/dev/vdb': 262144})
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    with pytest.raises(DmError, match='recorded in .* as built on loop .*; tear it down'):
        converge(host, params(tmp_path, device='/dev/vdb'))
    assert host.changes() == [] and host.kernel.verbs() == []


def test_a_live_era_device_with_another_block_size_is_refused_not_swapped(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    with pytest.raises(DmError) as err:
        converge(host, params(tmp_path, block_size='128KiB'))
    assert err.value.msg.startswith('device lab of era stack lab is there with another table (')
    assert 'the stack does not swap the tables of a live era stack' in err.value.msg
    assert host.kernel.verbs() == [] and host.kernel.devices['lab']['live'].endswith(' 128')


# -- bad input: every wrong value named ---------------------------------------------------------
@pytest.mark.parametrize('change,message', [
    (dict(name='.hidden'), "name '.hidden': expected a letter or digit"),
    (dict(name='..'), "name '..': expected a letter or digit"),
    (dict(name='a' * 101), 'expected a letter or digit, then at most 99'),
    (dict(origin_device='/dev/vdc'), 'origin_device and metadata_device go together; got only origin_device /dev/vdc'),
    (dict(metadata_device='/dev/vdb'), 'got only metadata_device /dev/vdb'),
    (dict(device='/dev/vdb', origin_device='/dev/vdc', metadata_device='/dev/vdd'), 'give device /dev/vdb (one disk'),
    (dict(origin_device='/dev/vdb', metadata_device='/dev/vdb'), 'are both /dev/vdb; expected two disks'),
    (dict(metadata_size='1.1K'), "metadata_size: '1.1K' is not a whole number of bytes"),
    (dict(metadata_size=0), 'metadata_size 0: expected more than 0'),
    (dict(loop_size='junk'), "loop_size: 'junk' is not a size"),
    (dict(loop_size='8MiB'), 'loop_size is 16384 sectors; expected more than metadata_size (16384 sectors)'),
    (dict(block_size='6KiB'), "block_size '6KiB' is 12 sectors; expected a multiple of 4KiB"),
    (dict(block_size=0), 'block_size 0 is 0 sectors'),
    (dict(workload_size='100KiB'), "workload_size '100KiB' is 102400 bytes; expected a multiple of 64KiB"),
    (dict(workload_size='1000b'), "workload_size: '1000b' is 1000 bytes, not a whole number of 512-byte sectors"),
    (dict(since_era=-1), 'since_era -1: expected a whole number >= 0'),
    (dict(since_era=True), 'since_era True: expected a whole number >= 0'),
])
def test_bad_parameters_are_refused_naming_the_value(tmp_path, change, message):
    host = EraHost()
    p = params(tmp_path)
    p.update(change)
    with pytest.raises(DmError) as err:
        EraStack(EraConfig(p), host, None)
    assert message in err.value.msg
    assert host.calls == [] and host.kernel.calls == []


def test_every_bad_value_is_named_at_once(tmp_path):
    with pytest.raises(DmError) as err:
        EraConfig(params(tmp_path, block_size='6KiB', since_era=-2, workload_size='1K'))
    for name in ("block_size '6KiB'", "workload_size '1K'", 'since_era -2'):
        assert name in err.value.msg


def test_a_workload_size_is_not_checked_without_the_workload(tmp_path):
    assert EraConfig(params(tmp_path, workload=False, workload_size='1K')).workload_sha256 is None


def test_a_disk_that_leaves_no_origin_for_the_workload_is_refused_before_anything_runs(tmp_path):
    host = EraHost(disks={'/dev/vdb': 16400})
    with pytest.raises(DmError, match=r'leave 16 sectors of origin after 16384 of metadata; expected more than 0 '
                                      r'and at least 512 for the workload'):
        converge(host, params(tmp_path, device='/dev/vdb'))
    assert host.changes() == [] and not (tmp_path / 'state').exists()


# -- verification: the snapshot is always dropped, nothing is suspended ------------------------
def test_a_failed_era_check_is_a_problem_and_the_snapshot_is_dropped(tmp_path):
    host = EraHost()
    host.check = dict(rc=1, stdout='', stderr='examining superblock\nsuperblock is corrupt\n')
    stack, report, _io = converge(host, params(tmp_path))
    assert report['check_healthy'] is False and report['check_findings'] == ['superblock is corrupt']
    assert stack.problems == ['era_check of /dev/mapper/lab_emeta_ro (the read-only view of /dev/mapper/lab_emeta) '
                              'failed: superblock is corrupt']
    assert host.kernel.messages()[-1] == 'drop_metadata_snap' and host.kernel.era['lab']['held'] is None


@pytest.mark.parametrize('tool,answer', [
    ('era_check', dict(rc=2, stdout='', stderr='error: unexpected argument\n')),
    ('era_invalidate', None),
])
def test_a_failure_during_verification_leaves_nothing_suspended_and_no_snapshot_held(tmp_path, tool, answer):
    host = EraHost(version='1.1.0')
    converge(host, params(tmp_path, workload=False))
    host.kernel.calls = []
    if tool == 'era_invalidate':
        answer = fixture('1.1.0', 'era_invalidate_no_snapshot')
    setattr(host, {'era_check': 'check', 'era_invalidate': 'invalidate'}[tool], answer)
    with pytest.raises(DmError):
        converge(host, params(tmp_path, workload=False))
    assert host.kernel.messages() == ['take_metadata_snap', 'drop_metadata_snap']
    assert host.kernel.era['lab']['held'] is None
    assert not any(dev['suspended'] for dev in host.kernel.devices.values())


def test_a_snapshot_left_held_is_dropped_and_the_next_run_works(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    host.kernel.era['lab']['held'] = 99
    host.kernel.calls = []
    with pytest.raises(DmError, match='take_metadata_snap refused .*a metadata snapshot left held was dropped'):
        converge(host, params(tmp_path))
    assert host.kernel.messages() == ['take_metadata_snap', 'drop_metadata_snap']
    _stack, report, _io = converge(host, params(tmp_path))
    assert report['check_healthy'] is True


def test_a_suspended_era_device_is_a_problem_and_is_sent_no_message(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    host.kernel.devices['lab']['suspended'] = True
    host.kernel.calls = []
    stack, report, _io = converge(host, params(tmp_path, workload=False))
    assert host.kernel.messages() == []
    assert stack.problems == ['era device lab is suspended: not read (a suspended era device answers neither status '
                              'nor messages until it is resumed)']
    assert report['current_era'] is None


@pytest.mark.parametrize('version', GENERATIONS)
def test_blocks_written_per_era_from_the_logical_dump_of_either_tool_generation(tmp_path, version):
    host = EraHost(version=version)
    stack, report, _io = converge(host, params(tmp_path))
    # captured era array (--logical): eras 1 x5, 2, 3 x2, 4 x2, 5 x3, 6; two blocks never written (era 0)
    assert report['blocks_written_per_era'] == {'1': 5, '2': 1, '3': 2, '4': 2, '5': 3, '6': 1}
    assert report['tool_version'] == version
    invalidate = host.tool_calls('era_invalidate')[0]
    if version == '0.9.0':
        assert '--metadata-snapshot' in invalidate
    else:
        assert '--metadata-snapshot=%d' % HELD_ROOT in invalidate
    # the blocks written since era 2 are those era_invalidate lists
    since_2 = sum(n for era, n in report['blocks_written_per_era'].items() if int(era) >= 2)
    assert since_2 == report['changed_blocks'] == 9
    assert stack.warnings == []


def test_a_dump_that_cannot_be_read_is_a_warning_not_a_failure(tmp_path):
    host = EraHost()
    host.dump = dict(rc=0, stdout='<superblock block_size="128" nr_blocks="16" current_era="6"><era_array>',
                     stderr='')
    stack, report, _io = converge(host, params(tmp_path))
    assert report['blocks_written_per_era'] is None and report['changed_blocks'] == 9
    assert stack.warnings and 'era_dump of /dev/mapper/lab_emeta_ro could not be read' in stack.warnings[0]
    assert stack.problems == []


# -- teardown ---------------------------------------------------------------------------------
def test_teardown_removes_the_era_device_checks_its_metadata_then_the_rest(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    host.kernel.era['lab']['held'] = 7       # left by an interrupted run
    host.calls, host.kernel.calls = [], []
    stack, _io = stack_of(host, params(tmp_path, state='absent'))
    report = stack.absent()
    steps = [(verb, name) for verb, name, _d in host.kernel.verbs()]
    assert steps[0] == ('message', 'lab')
    removes = [name for verb, name in steps if verb == 'remove']
    assert set(removes[:2]) == {'lab', 'lab_emeta_ro'} and set(removes[2:]) == {'lab_emeta', 'lab_eorig'}
    check_at = host.calls.index(['era_check', MAPPER + 'lab_emeta'])
    assert check_at < host.calls.index(['losetup', '--detach', '/dev/loop0'])
    assert host.kernel.devices == {} and host.loops == {} and not (tmp_path / 'state' / 'lab').exists()
    assert report['state'] == 'absent' and report['device'] == 'lab' and report['check_healthy'] is True
    assert report['current_era'] == 2 and report['block_size'] == 128 and report['changed_ranges'] is None
    assert report['loops_detached'] == ['/dev/loop0'] and report['tool_version'] == '0.9.0'
    assert sorted(report['removed']) == ['lab', 'lab_emeta', 'lab_emeta_ro', 'lab_eorig']
    assert report['checksums']['workload_sha256'] and report['workload_blocks'] == [0, 4]
    assert stack.problems == []
    stack, _io = stack_of(host, params(tmp_path, state='absent'))
    report = stack.absent()
    assert stack.actions == [] and report['device'] is None and report['check_healthy'] is None


def test_teardown_on_a_given_disk_zeroes_its_metadata_head_after_everything_is_removed(tmp_path):
    host = EraHost(disks={'/dev/vdb': 262144})
    converge(host, params(tmp_path, device='/dev/vdb'))
    host.calls = []
    stack, _io = stack_of(host, params(tmp_path, device='/dev/vdb', state='absent'))
    stack.absent()
    assert host.kernel.devices == {}
    assert [' '.join(c) for c in host.changes()] == ['blkdiscard --zeroout --offset 0 --length 4096 /dev/vdb']
    assert host.calls[-1][0] == 'blkdiscard'
    host.calls = []
    again, _io = stack_of(host, params(tmp_path, device='/dev/vdb', state='absent'))
    again.absent()
    assert again.actions == [] and host.changes() == []


def test_a_failed_teardown_check_stops_before_the_carve_outs_and_a_second_run_removes_them(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    host.check = dict(rc=1, stdout='', stderr='bad checksum in superblock\n')
    stack, _io = stack_of(host, params(tmp_path, state='absent'))
    report = stack.absent()
    assert report['check_healthy'] is False and len(stack.problems) == 1
    assert 'nothing more was removed' in stack.problems[0]
    assert sorted(host.kernel.devices) == ['lab_emeta', 'lab_eorig'] and host.loops
    assert (tmp_path / 'state' / 'lab' / 'state.json').exists()
    stack, _io = stack_of(host, params(tmp_path, state='absent'))
    stack.absent()
    assert host.kernel.devices == {} and host.loops == {} and not (tmp_path / 'state' / 'lab').exists()


def test_check_mode_teardown_plans_and_runs_nothing(tmp_path):
    host = EraHost()
    converge(host, params(tmp_path))
    host.calls, host.kernel.calls = [], []
    stack, _io = stack_of(host, params(tmp_path, state='absent'), check_mode=True)
    stack.absent()
    assert host.kernel.verbs() == [] and host.changes() == [] and (tmp_path / 'state' / 'lab').exists()
    assert sorted(stack.actions[:2]) == ['remove device lab', 'remove device lab_emeta_ro']
    assert sorted(stack.actions[2:4]) == ['remove device lab_emeta', 'remove device lab_eorig']
    assert stack.actions[4:] == ['detach /dev/loop0', 'remove the stack directory %s' % (tmp_path / 'state' / 'lab')]


def test_a_build_that_failed_midway_is_torn_down_from_its_record(tmp_path):
    host = EraHost()
    host.kernel.fail = {'create': [None, None, None, 'refused']}   # carve-outs and view; the era device fails
    with pytest.raises(DmError):
        converge(host, params(tmp_path))
    assert record_of(tmp_path)['image'].endswith('backing.img')
    assert set(host.kernel.devices) == {'lab_emeta', 'lab_eorig', 'lab_emeta_ro'} and host.loops
    # a teardown with other sizes still finds everything through the record
    stack, _io = stack_of(host, params(tmp_path, state='absent', loop_size='1G', workload=False))
    report = stack.absent()
    assert report['device'] is None and report['check_healthy'] is None
    assert host.kernel.devices == {} and host.loops == {} and not (tmp_path / 'state' / 'lab').exists()


# -- the known data --------------------------------------------------------------------------
def test_the_known_data_is_what_the_jinja_role_wrote():
    jinja2 = pytest.importorskip('jinja2')
    # roles/era_stack/vars/main.yml before the module: __era_stack_workload_content
    template = ("{%- for block in range(workload // 4096) -%} {{ '%-4095s' | format(name ~ ' known data, 4 KiB "
                "block ' ~ block) ~ newline }} {%- endfor -%}")
    text = jinja2.Environment().from_string(template).render(workload=65536, name='sts_era', newline='\n')
    assert known_data('sts_era', 65536) == text.encode('utf-8')
    assert len(text) == 65536 and text.count('\n') == 16


# -- the module's runner: result, diff of the record, warnings -----------------------------------
class FakeAnsibleModule(FakeModule):
    def __init__(self, host, params, check_mode=False, tmpdir=None):
        super(FakeAnsibleModule, self).__init__(host)
        self.params = params
        self.check_mode = check_mode
        self._diff = True
        self.no_log_values = set()
        self.tmpdir = tmpdir
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def run_module(monkeypatch, host, p, check_mode=False, tmp_path=None):
    from ansible_collections.sts.devicemapper.plugins.module_utils._stack import base as stack_base
    from ansible_collections.sts.devicemapper.plugins.module_utils._stack import era as stack_era

    def factory(run, check_mode=False, udev_timeout=10, guard=None):
        return DmHost(run, check_mode=check_mode, resolve=lambda path: path, kernel='6.1.0', sleep=lambda s: None,
                      exists=lambda path: path[len(MAPPER):] in host.kernel.devices, udev_timeout=0)
    monkeypatch.setattr(stack_base, 'DmHost', factory)
    host.io = getattr(host, 'io', None) or EraIO()
    monkeypatch.setattr(stack_base, 'sha256_direct', host.io.sha256)
    monkeypatch.setattr(stack_base, 'write_direct', host.io.write)
    monkeypatch.setattr(stack_base.md, 'read_superblock', host.io.superblock)
    module = FakeAnsibleModule(host, dict(p, udev_timeout=0), check_mode=check_mode, tmpdir=str(tmp_path))
    runner = stack_era.EraStackRunner(module)
    try:
        runner.run()
    finally:
        runner.cleanup()
    return runner.result, module


def test_the_module_returns_the_plan_the_report_and_the_record_as_its_diff(tmp_path, monkeypatch):
    host = EraHost()
    p = params(tmp_path)
    result, _module = run_module(monkeypatch, host, p, check_mode=True, tmp_path=tmp_path)
    assert result['changed'] is True and result['diff']['before'] == '' and '"backing": "loop"' in result['diff']['after']
    # planned, not run
    assert [c[:2] for c in result['commands']] == [['losetup', '--find']]
    assert host.changes() == [] and host.kernel.verbs() == []
    result, module = run_module(monkeypatch, host, p, tmp_path=tmp_path)
    assert result['changed'] is True and result['problems'] == [] and module.warnings == []
    assert result['commands'] == [['losetup', '--find', '--show', str(tmp_path / 'state' / 'lab' / 'backing.img')]]
    assert json.loads(result['diff']['after']) == record_of(tmp_path)
    assert result['report']['blocks_written_per_era'] == {'1': 5, '2': 1, '3': 2, '4': 2, '5': 3, '6': 1}
    result, _module = run_module(monkeypatch, host, p, tmp_path=tmp_path)
    assert result['changed'] is False and result['actions'] == []
    assert result['diff']['before'] == result['diff']['after']
    result, _module = run_module(monkeypatch, host, dict(p, state='absent'), tmp_path=tmp_path)
    assert result['changed'] is True and result['diff']['after'] == '' and host.kernel.devices == {}
    assert result['report']['state'] == 'absent'
