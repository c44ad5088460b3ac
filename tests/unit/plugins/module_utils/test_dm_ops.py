"""Unit tests of the dm command layer and device operations: argv building, ordering and the
comparisons that make dm_device/dm_target idempotent, on the output captured from the lab
kernels (fixtures/dm). The behaviour itself (swaps, recovery, messages) is tested on the lab
guests in tests/integration/dm."""

import json
import os
import re

import pytest

from argv_check import assert_argv, positional
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.discovery import DISCOVERY_ARGVS
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import secrets
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DeviceSpec, DmHost
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Table
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.dmsetup import VERBS, Dmsetup, build_argv, kernel_message

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'dm')
DISTROS = ('debian12', 'debian13')
KEY = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'


def capture(distro):
    with open(os.path.join(FIXTURES, distro + '.json')) as handle:
        return json.load(handle)


class FakeDmsetup(object):
    """Answers the three discovery argvs with captured output; records everything else."""

    def __init__(self, info='', table='', status='', answers=None):
        self.discovery = dict(zip((tuple(a) for a in DISCOVERY_ARGVS), (info, table, status)))
        self.answers = answers or {}
        self.calls = []

    def __call__(self, argv, data=None):
        if tuple(argv) in self.discovery:
            return 0, self.discovery[tuple(argv)] or 'No devices found\n', ''
        self.calls.append((list(argv), data))
        return self.answers.get(argv[1], (0, '', ''))


def host_of(distro, check_mode=True, **kw):
    cap = capture(distro)
    fake = FakeDmsetup(cap['all']['info']['stdout'], cap['all']['table']['stdout'], cap['all']['status']['stdout'], **kw)
    devnos = cap['devnos']

    def resolve(path):
        if path not in devnos:
            raise DmError('%s: unknown in the capture' % path)
        return devnos[path]
    return DmHost(fake, check_mode=check_mode, resolve=resolve, kernel=cap['kernel'], exists=lambda p: True), fake


# -- command layer ------------------------------------------------------------------------
def test_argv_of_every_verb():
    assert build_argv('create', 'v0', uuid='STS-1', readonly=True) == ['dmsetup', 'create', '--readonly', '-u', 'STS-1', 'v0']
    assert build_argv('create', 'v0', uuid=None, readonly=False) == ['dmsetup', 'create', 'v0']
    assert build_argv('load', 'v0', readonly=True) == ['dmsetup', 'load', '--readonly', 'v0']
    assert build_argv('remove', 'v0', force=True, deferred=False) == ['dmsetup', 'remove', '--force', 'v0']
    assert build_argv('remove', 'v0', deferred=True) == ['dmsetup', 'remove', '--deferred', 'v0']
    assert build_argv('setuuid', 'v0', uuid='U') == ['dmsetup', 'rename', 'v0', '--setuuid', 'U']
    assert build_argv('message', 'pool', sector=0, words=['create_snap', 2, 1]) == \
        ['dmsetup', 'message', '--', 'pool', '0', 'create_snap', '2', '1']
    assert build_argv('table', 'v0', showkeys=True) == ['dmsetup', 'table', '--showkeys', 'v0']
    for verb in VERBS:
        if verb != 'message':
            assert build_argv(verb, 'x')[-1] == 'x'


@pytest.mark.parametrize('name', ['', 'a/b', 'con trol', 'control', '..', 'x' * 128, 'caf\u00e9', '--help', '-f'])
def test_bad_names_never_reach_dmsetup(name):
    with pytest.raises(DmError, match='device name'):
        build_argv('remove', name)


@pytest.mark.parametrize('kw,match', [
    (dict(words=[]), 'expected a message word'),
    (dict(words=['create_thin 1']), 'none with spaces'),
    (dict(words=['']), 'none empty'),
    (dict(words=['x'], sector=-1), 'sector -1: expected a whole number >= 0'),
])
def test_bad_messages(kw, match):
    with pytest.raises(DmError, match=match):
        build_argv('message', 'pool', **kw)


def test_unknown_verb_and_option():
    with pytest.raises(DmError, match="verb 'frobnicate'"):
        build_argv('frobnicate', 'x')
    with pytest.raises(DmError, match="unknown option 'force'"):
        build_argv('create', 'x', force=True)
    with pytest.raises(DmError, match='device uuid'):
        build_argv('create', 'x', uuid='has space')


def test_the_table_goes_on_stdin_never_on_the_command_line():
    fake = FakeDmsetup()
    table = Table.parse('0 2048 crypt aes-xts-plain64 %s 0 7:0 0' % KEY, strict=True)
    Dmsetup(fake).call('create', 'c0', table=table)
    (argv, data), = fake.calls
    assert argv == ['dmsetup', 'create', 'c0']
    assert KEY not in ' '.join(argv)
    assert data == '0 2048 crypt aes-xts-plain64 %s 0 7:0 0\n' % KEY


def test_a_failing_verb_reports_the_kernel_message():
    fake = FakeDmsetup(answers={'load': (1, '', 'device-mapper: reload ioctl on v0  failed: No such device or address\n'
                                                'Command failed.\n')})
    with pytest.raises(DmError) as info:
        Dmsetup(fake).call('load', 'v0', table=Table.parse('0 8 zero'))
    assert info.value.msg == 'dmsetup load v0 failed (rc 1): device-mapper: reload ioctl on v0  failed: No such device or address'
    assert info.value.details['rc'] == 1
    assert kernel_message('', 'only stdout') == 'only stdout'


def test_reads_are_not_listed_among_the_commands():
    dm = Dmsetup(FakeDmsetup())
    dm.live_table_text('v0')
    dm.call('resume', 'v0')
    assert dm.commands == [['dmsetup', 'resume', 'v0']]


# -- idempotence on what the kernels echoed ------------------------------------------------
@pytest.mark.parametrize('distro', DISTROS)
def test_every_captured_device_matches_the_table_it_was_created_from(distro):
    """The wanted table (as a user wrote it) against the kernel's echo: no difference, no command."""
    host, fake = host_of(distro)
    checked = 0
    last = {}  # a device captured twice (created, then reloaded) holds the last table given
    for case in capture(distro)['devices']:
        if case.get('create', {}).get('rc', 1) == 0 and (case.get('given') or '').strip():
            last[case['name']] = case
    for case in last.values():
        if case['name'] not in host.facts:
            continue
        spec = DeviceSpec(case['name'], table=Table.parse(case['given'], strict=True))
        result = host.ensure(spec)
        assert (result['changed'], result['differences']) == (False, []), case['case']
        checked += 1
    assert checked >= 40
    assert fake.calls == []


@pytest.mark.parametrize('distro', DISTROS)
def test_a_different_table_is_refused_without_reload_and_planned_with_it(distro):
    host, fake = host_of(distro)
    name = 'stscap-linear'
    assert name in host.facts
    with pytest.raises(DmError) as info:
        host.ensure(DeviceSpec(name, table=Table.parse('0 65536 linear /dev/loop1 0', strict=True)))
    assert 'set reload: true' in info.value.msg
    assert info.value.details['differences'] == ["segment 0 linear args: wanted '7:1 0', live '7:0 0'"]
    result = host.ensure(DeviceSpec(name, reload=True, table=Table.parse('0 65536 linear /dev/loop1 0', strict=True)))
    assert result['changed'] and result['after']['table'] == ['0 65536 linear /dev/loop1 0']
    assert fake.calls == []


@pytest.mark.parametrize('distro', DISTROS)
def test_a_device_with_no_live_table_gets_the_wanted_one_without_reload(distro):
    """What a create cut short between its create and load ioctls leaves: the re-run finishes it."""
    spec = DeviceSpec('stscap-notable', table=Table.parse('0 2048 zero', strict=True))
    host, fake = host_of(distro)
    assert host.facts['stscap-notable']['live_table'] is False
    result = host.ensure(spec)
    assert result['changed'] and result['differences'] == ['live table: none loaded']
    assert 'no live table' in result['completed'] and result['after']['table'] == ['0 2048 zero']
    assert fake.calls == []
    # for real: load and resume (the fake kernel keeps no table, so the check after it fails)
    host, fake = host_of(distro, check_mode=False)
    with pytest.raises(DmError, match='not as wanted after the change'):
        host.ensure(spec)
    assert [argv[1] for argv, _data in fake.calls] == ['table', 'load', 'resume']
    assert fake.calls[1][1] == '0 2048 zero\n'


# -- batches -------------------------------------------------------------------------------
def test_a_batch_is_applied_users_after_what_they_use_and_removed_in_reverse():
    host = DmHost(FakeDmsetup(), check_mode=True, resolve=lambda p: '7:0', kernel='6.12.0', exists=lambda p: True)
    specs = [DeviceSpec('top', table=Table.parse('0 8 linear /dev/mapper/mid 0', strict=True)),
             DeviceSpec('mid', table=Table.parse('0 8 linear /dev/mapper/base 0', strict=True)),
             DeviceSpec('other', table=Table.parse('0 8 zero', strict=True)),
             DeviceSpec('base', table=Table.parse('0 8 zero', strict=True))]
    assert [s.name for s in host.order(specs)] == ['other', 'base', 'mid', 'top']
    results = host.apply(specs)
    assert [r['name'] for r in results] == ['other', 'base', 'mid', 'top']
    assert all(r['changed'] and r['commands'] == [] for r in results)


def test_a_cycle_and_a_duplicate_are_refused():
    host = DmHost(FakeDmsetup(), check_mode=True, resolve=lambda p: '7:0', kernel='6.12.0')
    a = DeviceSpec('a', table=Table.parse('0 8 linear /dev/mapper/b 0', strict=True))
    b = DeviceSpec('b', table=Table.parse('0 8 linear /dev/mapper/a 0', strict=True))
    with pytest.raises(DmError, match='cycle'):
        host.order([a, b])
    with pytest.raises(DmError, match='more than once'):
        host.order([a, DeviceSpec('a')])


INFO = ('base||253|0|L--w|1|1|0|7:0|top\n'
        'top||253|1|L--w|0|1|0|253:0|\n')
TABLES = 'base: 0 8 linear 7:0 0\ntop: 0 8 linear 253:0 0\n'
STATUS = 'base: 0 8 linear \ntop: 0 8 linear \n'


def test_removal_of_a_held_device_is_refused_unless_its_user_goes_first():
    host = DmHost(FakeDmsetup(INFO, TABLES, STATUS), check_mode=True, kernel='6.1.0')
    with pytest.raises(DmError, match=r'device base is in use \(open count 1; held by top\)'):
        host.ensure(DeviceSpec('base', state='absent'))
    results = host.apply([DeviceSpec('base', state='absent'), DeviceSpec('top', state='absent')])
    assert [(r['name'], r['changed'], r['after']) for r in results] == [
        ('top', True, {'exists': False}), ('base', True, {'exists': False})]


def test_a_failed_load_clears_the_inactive_slot_and_says_the_live_table_is_untouched():
    fake = FakeDmsetup(INFO, TABLES, STATUS, answers={
        'load': (1, '', 'device-mapper: reload ioctl on top  failed: Invalid argument\n'),
        'table': (0, '0 8 linear 253:0 0\n', '')})
    host = DmHost(fake, check_mode=False, kernel='6.1.0')
    with pytest.raises(DmError) as info:
        host.ensure(DeviceSpec('top', reload=True, table=Table.parse('0 16 zero', strict=True)))
    assert info.value.msg.startswith('the new table of top did not load (its live table is untouched)')
    assert [argv[1] for argv, _data in fake.calls] == ['table', 'load', 'clear']


def test_crypt_keys_are_found_in_every_form_they_can_be_given():
    params = {'table': ['0 8 crypt aes-xts-plain64 %s 0 7:0 0' % KEY, '8 8 zero'],
              'devices': [{'type': 'crypt', 'options': {'key': 'abcd', 'cipher': 'x'}},
                          {'segments': [{'type': 'crypt', 'key': 'ef01'}]},
                          {'type': 'crypt', 'options': {'key': ':32:logon:not-secret'}}]}
    assert sorted(secrets(params)) == sorted([KEY, 'abcd', 'ef01'])


# -- the dm_info module's runner ----------------------------------------------------------
class FakeModule(object):
    """Stands in for AnsibleModule for the runners: params, check mode, run_command counted."""

    def __init__(self, params, answers, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self.no_log_values = set()
        self.answers = answers
        self.calls = []

    def get_bin_path(self, name, required=False):
        return '/usr/sbin/' + name

    def run_command(self, argv, data=None, binary_data=False, environ_update=None):
        self.calls.append(list(assert_argv(argv)))
        return 0, self.answers[tuple(['dmsetup'] + argv[1:])], ''


@pytest.mark.parametrize('distro', DISTROS)
def test_dm_info_on_two_hundred_devices_runs_three_dmsetup_commands(distro):
    from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import InfoRunner
    from test_dm_discovery import _synthetic
    info, table, status = _synthetic(capture(distro), 200)
    answers = dict(zip((tuple(a) for a in DISCOVERY_ARGVS), (info, table, status)))
    module = FakeModule(dict(names=None, target_types=None, uuid_prefix=None), answers)
    runner = InfoRunner(module)
    runner.run()
    assert module.calls == [['/usr/sbin/dmsetup'] + list(a[1:]) for a in DISCOVERY_ARGVS]
    assert runner.result['count'] == 200 and len(runner.result['devices']) == 200
    assert all(dev['status'] for dev in runner.result['devices'].values())
    thin_pools = [d for d in runner.result['devices'].values() if 'thin-pool' in d['target_types']]
    assert thin_pools and all('transaction_id' in d['status'][0] for d in thin_pools)


def test_dm_runners_hand_every_crypt_key_to_no_log_before_anything_runs():
    from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import DeviceRunner
    module = FakeModule(dict(name='c0', table=['0 8 crypt aes-xts-plain64 %s 0 7:0 0' % KEY]), {})
    DeviceRunner(module)
    assert module.no_log_values == {KEY}
    assert module.calls == []


@pytest.mark.parametrize('params, match', [
    (dict(action='create_thin'), 'action create_thin: needs dev_id'),
    (dict(action='create_snap', dev_id=7), 'action create_snap: needs origin_id'),
    (dict(action='delete', dev_id=1 << 24), 'action delete: dev_id 16777216 is out of range; expected 0 to 16777215'),
    (dict(action='set_transaction_id', transaction_id=-1), 'transaction_id -1 is out of range; expected 0 to 18446744073709551615'),
])
def test_dm_message_refuses_missing_or_out_of_range_ids_before_reading_the_host(params, match):
    from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import MessageRunner
    module = FakeModule(dict(dict(name='pool', sector=0, target_message=None, dev_id=None, origin_id=None,
                                  transaction_id=None, lock_timeout=None), **params), {})
    with pytest.raises(DmError, match=re.escape(match)):
        MessageRunner(module).run()
    assert module.calls == []


def test_a_batch_naming_a_device_twice_is_refused_before_reading_the_host():
    from ansible_collections.sts.devicemapper.plugins.modules.dm_device import DeviceModule
    item = dict(name='d', table=['0 8 zero'])
    module = FakeModule(dict(name=None, devices=[dict(item), dict(item)], state='present', udev_timeout=None,
                             name_prefix=None, uuid_prefix=None), {})
    with pytest.raises(DmError, match='devices: d listed more than once'):
        DeviceModule(module).run()
    assert module.calls == []


def test_force_does_not_cut_a_holder_s_io_path():
    fake = FakeDmsetup(INFO, TABLES, STATUS)
    host = DmHost(fake, check_mode=False, kernel='6.1.0')
    with pytest.raises(DmError, match='force cannot remove a device another dm device holds'):
        host.ensure(DeviceSpec('base', state='absent', force=True))
    assert fake.calls == []


def test_integrity_keys_are_found_for_no_log():
    key = 'd4' * 16
    assert secrets({'type': 'integrity', 'options': {'device': '7:1', 'internal_hash': 'hmac(sha256):' + key}}) == [key]
    assert secrets('0 2048 integrity 7:1 0 4 J 1 journal_mac:hmac(sha256):%s' % key) == [key]
    assert secrets({'type': 'integrity', 'options': {'internal_hash': 'crc32c'}}) == []


def test_a_verity_table_makes_a_read_only_device_unless_told_otherwise():
    table = Table.parse(['0 512 verity 1 7:99 7:100 4096 4096 64 0 sha256 ' + 'ab' * 32 + ' -'])
    assert DeviceSpec('v', table=table).readonly is True
    assert DeviceSpec('v', table=table, readonly=True).readonly is True
    with pytest.raises(DmError) as err:
        DeviceSpec('v', table=table, readonly=False)
    assert 'verity' in err.value.msg and 'read-only' in err.value.msg
    assert DeviceSpec('z', table=Table.parse(['0 8 zero'])).readonly is None


class EchoingKernel(object):
    """A fake kernel that keeps devices and echoes every created table through ``echo``."""

    def __init__(self, echo):
        self.echo = echo
        self.devices = {}
        self.calls = []

    def __call__(self, argv, data=None):
        argv = list(argv)
        if argv[1] == 'info':
            return 0, ''.join('%s||253|%d|L--w|0|1|0||\n' % (n, i) for i, n in enumerate(sorted(self.devices))), ''
        if argv[1] in ('table', 'status'):
            return 0, ''.join('%s: %s\n' % (n, t) for n, t in sorted(self.devices.items())), ''
        self.calls.append(argv)
        if argv[1] == 'create':
            self.devices[argv[-1]] = self.echo(data.strip())
        elif argv[1] == 'remove':
            self.devices.pop(argv[-1], None)
        return 0, '', ''


def test_a_created_device_that_is_not_as_wanted_is_removed_again():
    kernel = EchoingKernel(lambda line: line.replace('0 8 zero', '0 16 zero'))
    host = DmHost(kernel, check_mode=False, resolve=lambda p: p, kernel=(6, 1), exists=lambda p: p.split('/')[-1] in kernel.devices)
    with pytest.raises(DmError) as err:
        host.apply([DeviceSpec('z0', table=Table.parse('0 8 zero'))])
    assert 'not as wanted after the change' in err.value.msg and 'removed again' in err.value.msg
    assert [c[1] for c in kernel.calls] == ['create', 'remove'] and kernel.devices == {}


# -- recovery, undo and create_snap on a fake kernel that keeps state ---------------------
# A resume that fails after the kernel swapped the table in (a target's preresume refused):
# the new table is live and the device stays suspended.
SWAPPED = 'swapped'
# A resume that fails before the swap: suspended, the new table still in the inactive slot.
UNSWAPPED = 'unswapped'
# A verb that fails and changes nothing.
REFUSED = 'refused'
POOL_STATUS = '1 216/2048 64/2048 - rw discard_passdown queue_if_no_space - 512'
MAPPER_PREFIX = '/dev/mapper/'


class StatefulKernel(object):
    """Devices with a live table, an inactive slot and a suspended flag, changed by the dmsetup
    verbs as the kernel changes them. ``fail`` maps a verb to what its next calls do, in order:
    None (succeed), REFUSED, an (rc, stdout, stderr) answer, or for resume SWAPPED / UNSWAPPED. ``echo`` is how the kernel
    shows back a table line it was given. ``calls``: every argv but the discovery ones, with
    the table given on stdin."""

    def __init__(self, fail=None, echo=lambda line: line):
        self.fail = dict((verb, list(outcomes)) for verb, outcomes in (fail or {}).items())
        self.echo = echo
        self.devices = {}
        self.calls = []
        self.next_minor = 0
        # opens from outside dm (a mounted filesystem): name -> count, added to the open count
        self.opens = {}

    def add(self, name, table, suspended=False, inactive=None):
        self.devices[name] = dict(minor=self.next_minor, live=self._echoed(table), inactive=inactive,
                                  suspended=suspended)
        self.next_minor += 1

    def devno(self, name):
        return '253:%d' % self.devices[name]['minor']

    def verbs(self):
        """What changed the kernel, in order: (verb, first word after it, stdin)."""
        return [(argv[1], argv[2] if argv[1] == 'message' else argv[-1], data) for argv, data in self.calls
                if argv[1] != 'table']

    def _echoed(self, text):
        lines = []
        for line in text.strip().splitlines():
            words = self.echo(line.strip()).split()
            lines.append(' '.join(self.devno(w[len(MAPPER_PREFIX):]) if w.startswith(MAPPER_PREFIX) else w
                                  for w in words))
        return '\n'.join(lines)

    def _used(self, dev):
        return [w for w in (dev['live'] or '').split() if ':' in w]

    def _info(self):
        rows = []
        for name, dev in sorted(self.devices.items()):
            holders = [n for n, d in sorted(self.devices.items()) if self.devno(name) in self._used(d)]
            attr = ('L' if dev['live'] else '-') + ('I' if dev['inactive'] else '-') + \
                ('s' if dev['suspended'] else '-') + 'w'
            rows.append('%s||253|%d|%s|%d|%d|0|%s|%s\n' % (
                name, dev['minor'], attr, len(holders) + self.opens.get(name, 0), len((dev['live'] or '').splitlines()),
                ','.join(self._used(dev)), ','.join(holders)))
        return ''.join(rows) or 'No devices found\n'

    def _status(self):
        out = []
        for name, dev in sorted(self.devices.items()):
            for line in (dev['live'] or '').splitlines():
                words = line.split()
                status = {'thin-pool': POOL_STATUS, 'thin': '0 -'}.get(words[2], '')
                out.append('%s: %s %s %s %s\n' % (name, words[0], words[1], words[2], status))
        return ''.join(out) or 'No devices found\n'

    def __call__(self, argv, data=None):
        argv = positional(argv)
        if argv[1] == 'info':
            return 0, self._info(), ''
        if argv == ['dmsetup', 'table']:
            return 0, ''.join('%s: %s\n' % (n, line) for n, d in sorted(self.devices.items())
                              for line in (d['live'] or '').splitlines()) or 'No devices found\n', ''
        if argv[1] == 'status':
            return 0, self._status(), ''
        self.calls.append((argv, data))
        verb, name = argv[1], argv[2] if argv[1] == 'message' else argv[-1]
        outcome = self.fail.get(verb, []).pop(0) if self.fail.get(verb) else None
        failed = (1, '', 'device-mapper: %s ioctl on %s  failed: Invalid argument\nCommand failed.\n' % (verb, name))
        dev = self.devices.get(name)
        if verb == 'create':
            if dev is not None:
                return 1, '', 'device-mapper: create ioctl on %s  failed: Device or resource busy\n' % name
            if outcome == REFUSED:
                return failed
            self.add(name, data)
            return 0, '', ''
        if dev is None and verb != 'mknodes':
            return 1, '', 'Device %s not found\nCommand failed.\n' % name
        if isinstance(outcome, tuple):
            return outcome
        if outcome == REFUSED:
            return failed
        if verb == 'table':
            return 0, dev['live'] + '\n', ''
        if verb == 'load':
            dev['inactive'] = self._echoed(data)
        elif verb == 'clear':
            dev['inactive'] = None
        elif verb == 'suspend':
            dev['suspended'] = True
        elif verb == 'resume':
            if outcome == UNSWAPPED:
                dev['suspended'] = True
                return failed
            if dev['inactive']:
                dev['live'], dev['inactive'] = dev['inactive'], None
            if outcome == SWAPPED:
                dev['suspended'] = True
                return failed
            dev['suspended'] = False
        elif verb == 'remove':
            del self.devices[name]
        return 0, '', ''


def stateful_host(kernel):
    return DmHost(kernel, check_mode=False, resolve=lambda p: p, kernel='6.1.0', sleep=lambda s: None,
                  exists=lambda p: p[len(MAPPER_PREFIX):] in kernel.devices, udev_timeout=0)


def reload_of(name, line):
    return DeviceSpec(name, reload=True, table=Table.parse(line, strict=True))


def test_a_failed_resume_puts_the_previous_table_back_and_resumes():
    kernel = StatefulKernel(fail={'resume': [SWAPPED]})
    kernel.add('v0', '0 8 zero')
    with pytest.raises(DmError) as err:
        stateful_host(kernel).ensure(reload_of('v0', '0 16 zero'))
    assert err.value.msg.startswith('the new table of v0 loaded but the device did not resume with it '
                                    '(the previous table is live again and the device active): '
                                    'dmsetup resume v0 failed (rc 1): ')
    assert kernel.verbs() == [('load', 'v0', '0 16 zero\n'), ('resume', 'v0', None),
                              ('load', 'v0', '0 8 zero\n'), ('resume', 'v0', None)]
    assert kernel.devices['v0'] == dict(minor=0, live='0 8 zero', inactive=None, suspended=False)


def test_a_resume_that_failed_before_the_swap_clears_the_inactive_slot_and_resumes():
    kernel = StatefulKernel(fail={'resume': [UNSWAPPED]})
    kernel.add('v0', '0 8 zero')
    with pytest.raises(DmError) as err:
        stateful_host(kernel).ensure(reload_of('v0', '0 16 zero'))
    assert '(the previous table is live again and the device active)' in err.value.msg
    # the live table is still the old one: nothing to load back
    assert kernel.verbs() == [('load', 'v0', '0 16 zero\n'), ('resume', 'v0', None),
                              ('clear', 'v0', None), ('resume', 'v0', None)]
    assert kernel.devices['v0'] == dict(minor=0, live='0 8 zero', inactive=None, suspended=False)


def test_resume_is_attempted_even_when_the_previous_table_does_not_load_back():
    kernel = StatefulKernel(fail={'resume': [SWAPPED], 'load': [None, REFUSED]})
    kernel.add('v0', '0 8 zero')
    with pytest.raises(DmError) as err:
        stateful_host(kernel).ensure(reload_of('v0', '0 16 zero'))
    assert '(the device is active with the new table)' in err.value.msg
    assert kernel.verbs() == [('load', 'v0', '0 16 zero\n'), ('resume', 'v0', None),
                              ('load', 'v0', '0 8 zero\n'), ('clear', 'v0', None), ('resume', 'v0', None)]
    assert kernel.devices['v0']['suspended'] is False


def test_a_device_that_cannot_be_resumed_is_reported_still_suspended():
    kernel = StatefulKernel(fail={'resume': [SWAPPED, SWAPPED]})
    kernel.add('v0', '0 8 zero')
    with pytest.raises(DmError) as err:
        stateful_host(kernel).ensure(reload_of('v0', '0 16 zero'))
    assert '(the device is STILL SUSPENDED; the previous table could not be resumed)' in err.value.msg
    assert [verb for verb, _name, _data in kernel.verbs()] == ['load', 'resume', 'load', 'resume']


def test_a_failed_load_leaves_the_live_table_and_the_device_active():
    kernel = StatefulKernel(fail={'load': [REFUSED]})
    kernel.add('v0', '0 8 zero')
    with pytest.raises(DmError) as err:
        stateful_host(kernel).ensure(reload_of('v0', '0 16 zero'))
    assert err.value.msg.startswith('the new table of v0 did not load (its live table is untouched): '
                                    'dmsetup load v0 failed (rc 1): device-mapper: load ioctl on v0  failed')
    assert kernel.verbs() == [('load', 'v0', '0 16 zero\n'), ('clear', 'v0', None)]
    assert kernel.devices['v0'] == dict(minor=0, live='0 8 zero', inactive=None, suspended=False)


def test_a_failed_load_says_so_when_the_inactive_slot_stays_loaded():
    kernel = StatefulKernel(fail={'load': [REFUSED], 'clear': [REFUSED]})
    kernel.add('v0', '0 8 zero', inactive='0 4 zero')
    with pytest.raises(DmError) as err:
        stateful_host(kernel).ensure(reload_of('v0', '0 16 zero'))
    assert 'did not load (its inactive slot could not be cleared (dmsetup clear v0))' in err.value.msg


def test_a_device_created_suspended_but_not_as_wanted_is_resumed_and_removed_again():
    kernel = StatefulKernel(echo=lambda line: line.replace('0 8 zero', '0 16 zero'))
    with pytest.raises(DmError) as err:
        stateful_host(kernel).apply([DeviceSpec('z0', state='suspended', table=Table.parse('0 8 zero'))])
    assert 'not as wanted after the change' in err.value.msg
    assert err.value.msg.endswith('; the new device was removed again')
    assert [verb for verb, _name, _data in kernel.verbs()] == ['create', 'suspend', 'resume', 'remove']
    assert kernel.devices == {}


def test_a_created_device_that_cannot_be_removed_again_is_named_with_the_command():
    kernel = StatefulKernel(echo=lambda line: line.replace('0 8 zero', '0 16 zero'), fail={'remove': [REFUSED]})
    with pytest.raises(DmError) as err:
        stateful_host(kernel).apply([DeviceSpec('z0', table=Table.parse('0 8 zero'))])
    assert err.value.msg.endswith('the new device could not be removed again (rc 1): remove it with dmsetup remove z0')
    assert list(kernel.devices) == ['z0']


def test_a_device_this_run_did_not_create_is_never_removed_when_its_change_goes_wrong():
    kernel = StatefulKernel(echo=lambda line: line.replace('0 16 zero', '0 24 zero'))
    kernel.add('v0', '0 8 zero')
    with pytest.raises(DmError) as err:
        stateful_host(kernel).apply([reload_of('v0', '0 16 zero')])
    assert 'device v0: not as wanted after the change' in err.value.msg
    assert 'remove' not in [verb for verb, _name, _data in kernel.verbs()]
    assert kernel.devices['v0']['live'] == '0 24 zero'


class RacingKernel(StatefulKernel):
    """Another process creates the device between this run's discovery and its create."""

    def __call__(self, argv, data=None):
        if argv[1] == 'create' and argv[-1] not in self.devices:
            self.add(argv[-1], '0 4 zero')
        return super(RacingKernel, self).__call__(argv, data)


def test_a_device_another_process_created_meanwhile_is_not_removed():
    kernel = RacingKernel()
    with pytest.raises(DmError, match='device z0 not created .a device of that name appeared meanwhile'):
        stateful_host(kernel).apply([DeviceSpec('z0', table=Table.parse('0 8 zero'))])
    assert [verb for verb, _name, _data in kernel.verbs()] == ['create']
    assert kernel.devices['z0']['live'] == '0 4 zero'


class LeftoverKernel(StatefulKernel):
    """dmsetup create whose table load fails after the create ioctl made the device: a table-less
    device of this run is left (``taken``: another process's table appears in it meanwhile)."""

    def __init__(self, taken=None):
        super(LeftoverKernel, self).__init__()
        self.taken = taken

    def __call__(self, argv, data=None):
        if argv[1] == 'create' and argv[-1] not in self.devices:
            self.calls.append((list(argv), data))
            self.devices[argv[-1]] = dict(minor=self.next_minor, live=self.taken, inactive=None, suspended=False)
            self.next_minor += 1
            return 1, '', 'device-mapper: reload ioctl on %s  failed: Invalid argument\nCommand failed.\n' % argv[-1]
        return super(LeftoverKernel, self).__call__(argv, data)


def test_the_table_less_device_a_failed_create_left_is_removed():
    kernel = LeftoverKernel()
    with pytest.raises(DmError) as err:
        stateful_host(kernel).apply([DeviceSpec('z0', table=Table.parse('0 8 zero'))])
    assert err.value.msg.startswith('device z0 not created: '), err.value.msg
    assert [verb for verb, _name, _data in kernel.verbs()] == ['create', 'remove']
    assert 'z0' not in kernel.devices


def test_a_device_with_a_table_this_run_never_loaded_is_not_removed_after_a_failed_create():
    kernel = LeftoverKernel(taken='0 4 zero')
    with pytest.raises(DmError, match='made by another process: left as it is'):
        stateful_host(kernel).apply([DeviceSpec('z0', table=Table.parse('0 8 zero'))])
    assert [verb for verb, _name, _data in kernel.verbs()] == ['create']
    assert kernel.devices['z0']['live'] == '0 4 zero'


def thin_kernel(**kw):
    """A pool with thin dev_id 1 active as ``origin``."""
    kernel = StatefulKernel(**kw)
    kernel.add('pool', '0 262144 thin-pool 7:12 7:13 128 1024 0')
    kernel.add('origin', '0 2048 thin 253:0 1')
    return kernel


def snapshot(name='snap', dev_id=2, origin='origin'):
    return DeviceSpec(name, table=Table.parse('0 2048 thin /dev/mapper/pool %d' % dev_id, strict=True),
                      snapshot_of=origin)


def test_create_snap_suspends_the_active_origin_and_resumes_it():
    kernel = thin_kernel()
    result, = stateful_host(kernel).apply([snapshot()])
    assert result['changed'] and result['thin_created'] == [2]
    assert kernel.verbs() == [('suspend', 'origin', None), ('message', 'pool', None), ('resume', 'origin', None),
                              ('create', 'snap', '0 2048 thin /dev/mapper/pool 2\n')]
    assert kernel.calls[1][0] == ['dmsetup', 'message', 'pool', '0', 'create_snap', '2', '1']
    assert kernel.devices['origin']['suspended'] is False


def test_the_origin_is_resumed_when_the_create_snap_message_fails():
    kernel = thin_kernel(fail={'message': [REFUSED]})
    with pytest.raises(DmError) as err:
        stateful_host(kernel).apply([snapshot()])
    assert err.value.msg.startswith('thin-pool pool: create_snap 2 1 refused: dmsetup message pool failed (rc 1)')
    assert kernel.verbs() == [('suspend', 'origin', None), ('message', 'pool', None), ('resume', 'origin', None)]
    assert kernel.devices['origin']['suspended'] is False and 'snap' not in kernel.devices


def test_a_snapshot_dev_id_that_exists_counts_as_not_created_and_the_origin_is_resumed():
    kernel = thin_kernel(fail={'message': [(1, '', 'device-mapper: message ioctl on pool  failed: File exists\n')]})
    result, = stateful_host(kernel).apply([snapshot()])
    assert 'thin_created' not in result
    assert [verb for verb, _name, _data in kernel.verbs()] == ['suspend', 'message', 'resume', 'create']
    assert kernel.devices['origin']['suspended'] is False


def test_every_origin_suspended_so_far_is_resumed_when_a_later_suspend_fails():
    kernel = thin_kernel(fail={'suspend': [None, REFUSED]})
    kernel.add('origin2', '0 2048 thin 253:0 1')
    with pytest.raises(DmError, match='dmsetup suspend origin2 failed'):
        stateful_host(kernel).apply([snapshot()])
    assert kernel.verbs() == [('suspend', 'origin', None), ('suspend', 'origin2', None), ('resume', 'origin', None)]
    assert not any(dev['suspended'] for dev in kernel.devices.values())


def test_an_origin_left_suspended_after_create_snap_fails_the_task_naming_it():
    kernel = thin_kernel(fail={'resume': [REFUSED]})
    with pytest.raises(DmError) as err:
        stateful_host(kernel).apply([snapshot()])
    assert err.value.msg.startswith('thin origin(s) origin left suspended after create_snap: origin: '
                                    'device-mapper: resume ioctl on origin  failed')
    assert 'snap' not in kernel.devices


def test_an_origin_the_user_suspended_is_left_suspended():
    kernel = thin_kernel()
    kernel.devices['origin']['suspended'] = True
    stateful_host(kernel).apply([snapshot()])
    assert [verb for verb, _name, _data in kernel.verbs()] == ['message', 'create']
    assert kernel.devices['origin']['suspended'] is True


# -- rename, uuid and removal by prefix (issue 15) ----------------------------------------
class NamingKernel(StatefulKernel):
    """StatefulKernel with uuids, opens from outside dm (``opened``) and ``dmsetup rename``: a new
    name (refused when it is taken), or ``--setuuid`` on a device without a uuid."""

    def __init__(self, **kw):
        super(NamingKernel, self).__init__(**kw)
        self.uuids = {}
        self.opened = {}

    def _info(self):
        rows = []
        for line in super(NamingKernel, self)._info().splitlines(True):
            cols = line.split('|')
            if len(cols) > 5:
                cols[1] = self.uuids.get(cols[0], '')
                cols[5] = str(int(cols[5]) + self.opened.get(cols[0], 0))
            rows.append('|'.join(cols))
        return ''.join(rows)

    def __call__(self, argv, data=None):
        argv = list(argv)
        if argv[1] != 'rename':
            answer = super(NamingKernel, self).__call__(argv, data)
            if argv[1] == 'create' and answer[0] == 0 and '-u' in argv:
                self.uuids[argv[-1]] = argv[argv.index('-u') + 1]
            return answer
        self.calls.append((argv, data))
        if self.fail.get('rename'):
            return self.fail['rename'].pop(0)
        if argv[3:4] == ['--setuuid']:
            name, uuid = argv[2], argv[4]
            if name not in self.devices:
                return 1, '', 'Device %s not found\nCommand failed.\n' % name
            if self.uuids.get(name):
                return 1, '', 'device-mapper: rename ioctl on %s  failed: Invalid argument\nCommand failed.\n' % name
            self.uuids[name] = uuid
            return 0, '', ''
        old, new = argv[2], argv[3]
        if old not in self.devices:
            return 1, '', 'Device %s not found\nCommand failed.\n' % old
        if new in self.devices:
            return 1, '', 'device-mapper: rename ioctl on %s  failed: Device or resource busy\nCommand failed.\n' % old
        self.devices[new] = self.devices.pop(old)
        if old in self.uuids:
            self.uuids[new] = self.uuids.pop(old)
        return 0, '', ''


def naming_host(kernel, check_mode=False):
    host = stateful_host(kernel)
    host.check_mode = check_mode
    return host


ZERO8 = Table.parse('0 8 zero', strict=True)


def test_argv_of_rename_and_setuuid():
    # dmsetup's --setuuid is a switch: rename's second argument is the uuid (the lab's dmsetup took
    # 'rename --setuuid UUID NAME' as a rename of a device called UUID)
    assert build_argv('rename', 'old', new_name='new') == ['dmsetup', 'rename', 'old', 'new']
    assert build_argv('setuuid', 'v0', uuid='STS-1') == ['dmsetup', 'rename', 'v0', '--setuuid', 'STS-1']
    with pytest.raises(DmError, match="device name '-new'"):
        build_argv('rename', 'old', new_name='-new')
    with pytest.raises(DmError, match='device uuid'):
        build_argv('setuuid', 'v0', uuid='a b')


def test_a_rename_in_check_mode_runs_nothing_and_the_real_one_renames_once():
    kernel = NamingKernel()
    kernel.add('old', '0 8 zero')
    devno = kernel.devno('old')
    spec = DeviceSpec('new', rename_from='old', table=ZERO8)

    check = naming_host(kernel, check_mode=True).ensure(spec)
    assert (check['changed'], check['renamed_from'], check['commands']) == (True, 'old', [])
    assert check['before']['devno'] == devno and check['after']['table'] == ['0 8 zero']
    assert kernel.calls == [] and sorted(kernel.devices) == ['old']

    real = naming_host(kernel).ensure(spec)
    assert (real['changed'], real['renamed_from'], real['differences']) == (True, 'old', [])
    assert real['commands'] == [['dmsetup', 'rename', 'old', 'new']]
    assert real['before']['devno'] == devno and real['after']['devno'] == devno
    assert sorted(kernel.devices) == ['new']

    for check_mode in (False, True):
        again = naming_host(kernel, check_mode=check_mode).ensure(spec)
        assert (again['changed'], again['commands'], 'renamed_from' in again) == (False, [], False)
    assert [argv for argv, _data in kernel.calls] == [['dmsetup', 'rename', 'old', 'new']]


def test_a_rename_goes_on_to_make_the_device_what_the_spec_says():
    kernel = NamingKernel()
    kernel.add('old', '0 8 zero')
    result = naming_host(kernel).ensure(DeviceSpec('new', rename_from='old', table=Table.parse('0 16 zero'),
                                                   reload=True, uuid='STS-new'))
    assert [c[1:] for c in result['commands'] if c[1] != 'table'] == [
        ['rename', 'old', 'new'], ['rename', 'new', '--setuuid', 'STS-new'], ['load', 'new'], ['resume', 'new']]
    assert kernel.devices['new']['live'] == '0 16 zero' and kernel.uuids == {'new': 'STS-new'}


@pytest.mark.parametrize('check_mode', [False, True])
def test_a_rename_with_both_names_or_neither_fails_naming_both(check_mode):
    kernel = NamingKernel()
    kernel.add('old', '0 8 zero')
    kernel.add('new', '0 8 zero')
    with pytest.raises(DmError) as both:
        naming_host(kernel, check_mode).ensure(DeviceSpec('new', rename_from='old'))
    assert 'both old and new exist' in both.value.msg and 'drop rename_from' in both.value.msg
    with pytest.raises(DmError) as neither:
        naming_host(kernel, check_mode).ensure(DeviceSpec('other', rename_from='gone', table=ZERO8))
    assert 'neither gone nor other exists; expected gone, to rename it to other' in neither.value.msg
    assert kernel.calls == [] and sorted(kernel.devices) == ['new', 'old']


def test_a_refused_rename_names_the_command_and_the_kernel_message():
    kernel = NamingKernel()
    kernel.add('old', '0 8 zero')
    host = naming_host(kernel)
    kernel.add('new', '0 8 zero')  # made by someone else after this run looked
    with pytest.raises(DmError) as err:
        host.ensure(DeviceSpec('new', rename_from='old'))
    assert err.value.msg == ('device old: dmsetup rename old new failed (rc 1): device-mapper: rename ioctl on old  '
                             'failed: Device or resource busy')
    assert err.value.details['cmd'] == ['dmsetup', 'rename', 'old', 'new']


@pytest.mark.parametrize('kw,match', [
    (dict(rename_from='v0'), 'rename_from v0 is the name itself; expected the name the device has now'),
    (dict(rename_from='old', state='absent'), 'expected state present, active or suspended, got absent'),
    (dict(rename_from='-old'), "device v0 rename_from: device name '-old': starts with '-'"),
    (dict(rename_from='a/b'), "device v0 rename_from: device name 'a/b': contains '/'"),
])
def test_bad_rename_from_is_refused_naming_it(kw, match):
    with pytest.raises(DmError, match=match):
        DeviceSpec('v0', **kw)


def test_a_uuid_is_set_on_a_device_without_one_once():
    kernel = NamingKernel()
    kernel.add('v0', '0 8 zero')
    spec = DeviceSpec('v0', uuid='STS-v0', table=ZERO8)
    check = naming_host(kernel, check_mode=True).ensure(spec)
    assert (check['changed'], check['before']['uuid'], check['after']['uuid'], kernel.calls) == (True, None, 'STS-v0', [])
    real = naming_host(kernel).ensure(spec)
    assert real['commands'] == [['dmsetup', 'rename', 'v0', '--setuuid', 'STS-v0']]
    assert (real['before']['uuid'], real['after']['uuid']) == (None, 'STS-v0')
    for check_mode in (False, True):
        again = naming_host(kernel, check_mode=check_mode).ensure(spec)
        assert (again['changed'], again['commands']) == (False, [])


@pytest.mark.parametrize('check_mode', [False, True])
def test_a_different_uuid_is_refused_naming_both(check_mode):
    kernel = NamingKernel()
    kernel.add('v0', '0 8 zero')
    kernel.uuids['v0'] = 'STS-A'
    with pytest.raises(DmError) as err:
        naming_host(kernel, check_mode).ensure(DeviceSpec('v0', uuid='STS-B'))
    assert 'has uuid STS-A' in err.value.msg and 'wanted STS-B' in err.value.msg and 'cannot change' in err.value.msg
    assert kernel.calls == [] and kernel.uuids == {'v0': 'STS-A'}


def test_a_uuid_the_kernel_did_not_take_fails_the_check_after_the_change():
    class Deaf(NamingKernel):
        def __call__(self, argv, data=None):
            if argv[1] == 'rename' and '--setuuid' in argv:
                self.calls.append((list(argv), data))
                return 0, '', ''
            return super(Deaf, self).__call__(argv, data)
    kernel = Deaf()
    kernel.add('v0', '0 8 zero')
    with pytest.raises(DmError, match='not as wanted after the change: its uuid is none'):
        naming_host(kernel).ensure(DeviceSpec('v0', uuid='STS-v0'))


def prefix_stack():
    """p-base0, p-base1 (zero), p-top over both, other (zero): what the prefix tests remove."""
    kernel = NamingKernel()
    kernel.add('p-base0', '0 8 zero')
    kernel.add('p-base1', '0 8 zero')
    kernel.add('p-top', '0 8 linear /dev/mapper/p-base0 0\n8 8 linear /dev/mapper/p-base1 0')
    kernel.add('other', '0 8 zero')
    kernel.uuids.update({'p-base0': 'STS-P-0', 'p-top': 'STS-P-top', 'other': 'STS-Q-0'})
    return kernel


def test_removal_by_name_prefix_takes_dependents_first_and_leaves_the_rest():
    kernel = prefix_stack()
    host = naming_host(kernel, check_mode=True)
    specs = host.teardown(name_prefix='p-')
    assert [s.name for s in specs] == ['p-base0', 'p-base1', 'p-top']
    assert all(s.state == 'absent' for s in specs)
    check = host.apply(specs)
    assert check[0]['name'] == 'p-top' and sorted(r['name'] for r in check[1:]) == ['p-base0', 'p-base1']
    assert all(r['changed'] and r['commands'] == [] for r in check) and kernel.calls == []

    host = naming_host(kernel)
    results = host.apply(host.teardown(name_prefix='p-'))
    assert [r['commands'] for r in results] == [[['dmsetup', 'remove', r['name']]] for r in results]
    assert results[0]['name'] == 'p-top'
    assert sorted(kernel.devices) == ['other']
    host = naming_host(kernel)
    assert host.teardown(name_prefix='p-') == [] and host.apply([]) == []


def test_removal_by_uuid_prefix_selects_by_uuid_only():
    kernel = prefix_stack()
    host = naming_host(kernel, check_mode=True)
    assert host.matching(uuid_prefix='STS-P-') == ['p-base0', 'p-top']
    assert host.matching(uuid_prefix='STS-') == ['other', 'p-base0', 'p-top']
    assert [r['name'] for r in host.apply(host.teardown(uuid_prefix='STS-P-top'))] == ['p-top']


def test_a_set_held_from_outside_is_refused_before_anything_is_removed():
    kernel = prefix_stack()
    kernel.add('q-user', '0 8 linear /dev/mapper/p-base1 0')
    with pytest.raises(DmError) as err:
        naming_host(kernel).teardown(name_prefix='p-')
    assert err.value.msg.startswith('device p-base1 (selected by name_prefix p-) is held by q-user, which '
                                    'name_prefix p- does not select; no device was removed')
    assert err.value.details['holders'] == ['q-user'] and kernel.calls == []
    # deferred: the kernel removes it when its holder goes
    assert [s.name for s in naming_host(kernel).teardown(name_prefix='p-', deferred=True)] == [
        'p-base0', 'p-base1', 'p-top']


def test_a_device_of_the_set_open_elsewhere_is_refused_unless_force_or_deferred():
    kernel = prefix_stack()
    kernel.opened['p-top'] = 1
    with pytest.raises(DmError) as err:
        naming_host(kernel).teardown(name_prefix='p-')
    assert 'device p-top (selected by name_prefix p-) is open (open count 1, 1 of it not by a device of the set)' \
        in err.value.msg and 'force: true' in err.value.msg
    kernel.opened = {'p-base0': 1}
    with pytest.raises(DmError, match=r'p-base0 .*open count 2, 1 of it not'):
        naming_host(kernel).teardown(name_prefix='p-')
    assert all(s.force for s in naming_host(kernel).teardown(name_prefix='p-', force=True))
    assert kernel.calls == []


@pytest.mark.parametrize('kw,match', [
    (dict(name_prefix=''), "name_prefix '': expected a non-empty start of device names"),
    (dict(uuid_prefix=''), "uuid_prefix '': expected a non-empty start of device uuids"),
    (dict(name_prefix='-'), "name_prefix '-': no device name can start with it"),
    (dict(name_prefix='a/'), "name_prefix 'a/': no device name can start with it"),
    (dict(name_prefix='x' * 128), "name_prefix 'x{128}': no device name can start with it"),
    (dict(uuid_prefix='a b'), "uuid_prefix 'a b': no device uuid can start with it"),
])
def test_a_prefix_that_cannot_start_a_name_is_refused_naming_it(kw, match):
    kernel = prefix_stack()
    with pytest.raises(DmError, match=match):
        naming_host(kernel).teardown(**kw)


def test_reserved_names_are_prefixes_of_ordinary_names():
    kernel = NamingKernel()
    kernel.add('controller0', '0 8 zero')
    kernel.add('.hidden', '0 8 zero')
    host = naming_host(kernel, check_mode=True)
    assert [s.name for s in host.teardown(name_prefix='control')] == ['controller0']
    assert [s.name for s in host.teardown(name_prefix='.')] == ['.hidden']


class KernelModule(object):
    """AnsibleModule stand-in for the device runner: params, check and diff mode, warnings."""

    def __init__(self, params, check_mode=False):
        self.params = dict(dict(name=None, devices=None, state='present', uuid=None, readonly=None, reload=False,
                                force=False, deferred=False, rename_from=None, name_prefix=None, uuid_prefix=None,
                                table=None, udev_timeout=10, lock_timeout=300), **params)
        self.check_mode = check_mode
        self._diff = True
        self.no_log_values = set()
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def run_device_runner(kernel, check_mode=False, **params):
    from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import DeviceRunner

    class Runner(DeviceRunner):
        def table_of(self, item):
            return Table.from_params(item['table']) if item.get('table') is not None else None

        def host(self, udev_timeout=10, run=None):
            return naming_host(kernel, check_mode=self.check_mode)
    runner = Runner(KernelModule(params, check_mode=check_mode))
    runner.run()
    return runner.result


def test_the_runner_removes_by_prefix_as_one_batch_and_nothing_selected_is_no_change():
    kernel = prefix_stack()
    check = run_device_runner(kernel, check_mode=True, name_prefix='p-', state='absent')
    assert check['changed'] is True and check['selected'] == ['p-base0', 'p-base1', 'p-top']
    assert [d['name'] for d in check['devices']][0] == 'p-top'
    assert '# p-top\nuuid: STS-P-top' in check['diff']['before']
    assert check['diff']['after'] == ''.join('# %s\n' % d['name'] for d in check['devices'])
    assert kernel.calls == []
    real = run_device_runner(kernel, name_prefix='p-', state='absent')
    assert real['changed'] is True and sorted(kernel.devices) == ['other']
    again = run_device_runner(kernel, name_prefix='p-', state='absent')
    assert (again['changed'], again['selected'], again['devices']) == (False, [], [])


@pytest.mark.parametrize('params,match', [
    (dict(name_prefix='p-'), 'name_prefix p- removes every device it selects; expected state: absent, got present'),
    (dict(name_prefix='p-', state='absent', table=['0 8 zero']), r'table cannot be given with it'),
    (dict(uuid_prefix='STS-', state='absent', reload=True, uuid='X'),
     r'uuid_prefix STS- removes devices; reload, uuid cannot be given with it'),
    (dict(name_prefix='', state='absent'), 'an empty prefix would select every device'),
])
def test_the_runner_refuses_a_removal_by_prefix_it_cannot_mean(params, match):
    kernel = prefix_stack()
    with pytest.raises(DmError, match=match):
        run_device_runner(kernel, **params)
    assert kernel.calls == [] and len(kernel.devices) == 4


def test_the_runner_diff_shows_the_rename():
    kernel = NamingKernel()
    kernel.add('old', '0 8 zero')
    result = run_device_runner(kernel, name='new', rename_from='old')
    assert result['changed'] is True and result['renamed_from'] == 'old'
    assert result['diff']['before'].startswith('name: old\nuuid: \n')
    assert result['diff']['after'].startswith('name: new\nuuid: \n')
    assert result['commands'] == [['dmsetup', 'rename', 'old', 'new']]


def test_a_uuid_the_kernel_refuses_names_the_command_and_the_uuid():
    kernel = NamingKernel(fail={'rename': [(1, '', 'device-mapper: rename ioctl on v0  failed: Invalid argument\n')]})
    kernel.add('v0', '0 8 zero')
    with pytest.raises(DmError) as err:
        naming_host(kernel).ensure(DeviceSpec('v0', uuid='STS-v0'))
    assert err.value.msg == ('device v0: uuid STS-v0 not set: dmsetup rename v0 --setuuid STS-v0 failed (rc 1): '
                             'device-mapper: rename ioctl on v0  failed: Invalid argument')
    assert err.value.details['cmd'] == ['dmsetup', 'rename', 'v0', '--setuuid', 'STS-v0']


def test_after_an_unmount_the_facts_are_read_again_until_udev_lets_the_device_go():
    kernel = StatefulKernel()
    kernel.add('v0', '0 8 zero')
    kernel.opens['v0'] = 1           # a mounted filesystem
    host = stateful_host(kernel)
    host.udev_timeout = 5
    assert host.facts['v0']['open_count'] == 1
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        kernel.opens['v0'] = 0       # udev's probe of the closed device ended
    host._sleep = sleep
    host.closed_after_unmount(['v0'])
    assert host.facts['v0']['open_count'] == 0 and sleeps == [0.1]
    host.apply([DeviceSpec('v0', state='absent')])
    assert 'v0' not in kernel.devices


def test_in_check_mode_the_planned_unmounts_are_taken_off_the_open_counts():
    kernel = StatefulKernel()
    kernel.add('v0', '0 8 zero')
    kernel.opens['v0'] = 1
    host = stateful_host(kernel)
    host.check_mode = True
    host.closed_after_unmount(['v0', 'gone'])
    assert host.facts['v0']['open_count'] == 0
    (result,) = host.apply([DeviceSpec('v0', state='absent')])
    assert result['changed'] and 'v0' in kernel.devices and kernel.calls == []
