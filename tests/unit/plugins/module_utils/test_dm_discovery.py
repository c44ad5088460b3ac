import json
import os
import re

import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.discovery import (
    DISCOVERY_ARGVS, INFO_ARGV, KERNEL_FACTS, TARGETS_ARGV, VERSION_ARGV, device_argvs, discover, discover_kernel,
    parse_all, parse_device, parse_info, parse_targets, parse_version, read_device, run_device, select)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError, Unknown

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'dm')
DISTROS = ('debian12', 'debian13')


def capture(distro):
    with open(os.path.join(FIXTURES, distro + '.json')) as handle:
        return json.load(handle)


def outputs(section):
    return section['info']['stdout'], section['table']['stdout'], section['status']['stdout']


def test_the_capture_ran_the_discovery_argv():
    for distro in DISTROS:
        assert capture(distro)['all']['info']['argv'] == INFO_ARGV


@pytest.mark.parametrize('distro', DISTROS)
def test_all_devices_of_a_real_kernel(distro):
    cap = capture(distro)
    assert cap['all']['info']['rc'] == 0
    facts, tables = parse_all(*outputs(cap['all']))
    created = set(d['name'] for d in cap['devices'] if d.get('create', {}).get('rc') == 0) - {'stscap-merge-snap'}
    assert set(facts) == created
    pool = facts['stscap-pool']
    assert pool['target_types'] == ['thin-pool']
    assert sorted(pool['names_using_dev']) == ['stscap-thin', 'stscap-thin-ext', 'stscap-thin-snap']
    assert pool['open_count'] == 3 and pool['live_table'] and not pool['suspended']
    assert pool['status'][0]['transaction_id'] == 7
    assert pool['devno'] == cap['devnos']['/dev/mapper/stscap-pool']
    assert facts['stscap-suspended']['suspended'] is True
    assert facts['stscap-ro']['readonly'] is True
    assert facts['stscap-inactive']['inactive_table'] is True
    assert facts['stscap-with:colon']['uuid'] == 'STSCAP-UUID-with:colon'
    assert facts['stscap-notable']['live_table'] is False and facts['stscap-notable']['table'] == []
    assert len(tables['stscap-two-segments']) == 2 and facts['stscap-two-segments']['segment_count'] == 2
    untyped = [name for name, table in tables.items() for seg in table if isinstance(seg.target, Unknown)]
    assert untyped == []
    assert [s['target_type'] for s in facts['stscap-two-segments']['status']] == ['linear', 'zero']


@pytest.mark.parametrize('distro', DISTROS)
def test_discovery_never_shows_a_crypt_key(distro):
    cap = capture(distro)
    facts, _tables = parse_all(*outputs(cap['all']))
    loop = [w for w in [d for d in cap['devices'] if d['name'] == 'stscap-crypt'][0]['given'].split() if w.startswith('/dev/')]
    assert facts['stscap-crypt']['table'] == ['0 65536 crypt aes-xts-plain64 <redacted> 0 %s 0' % cap['devnos'][loop[0]]]
    assert 'a5' * 16 not in json.dumps(facts)  # the capture's throw-away keys; the verity salt is 5a...


@pytest.mark.parametrize('distro', DISTROS)
def test_no_devices(distro):
    cap = capture(distro)
    assert 'No devices found' in cap['empty']['info']['stdout']
    assert parse_all(*outputs(cap['empty'])) == ({}, {})


def test_blkdevname_is_not_asked_for_because_it_fails_on_a_device_without_table():
    cap = capture('debian13')
    probe = [d for d in cap['devices'] if d.get('note') == 'blkdevname column'][0]['info_blkdevname']
    assert probe['rc'] == 1 and 'blkdevname' in probe['stderr']
    assert 'blkdevname' not in INFO_ARGV[-1]


def test_a_bad_info_line_is_an_error_naming_it():
    with pytest.raises(DmError, match="dmsetup info line 'x|y': expected 10 columns"):
        parse_info('x|y\n')


def _synthetic(cap, count):
    """``count`` devices made of the captured rows, renamed so every name and devno is unique."""
    info = cap['all']['info']['stdout'].splitlines()
    table = cap['all']['table']['stdout'].splitlines()
    status = cap['all']['status']['stdout'].splitlines()
    rows = [line for line in info if line.startswith('stscap-') and '|0|0|' not in line]
    out_info, out_table, out_status = [], [], []
    for i in range(count):
        row = rows[i % len(rows)]
        name = row.split('|')[0]
        new = 'dev%03d-%s' % (i, name)
        out_info.append('|'.join([new] + row.split('|')[1:3] + [str(1000 + i)] + row.split('|')[4:]))
        out_table += [re.sub('^' + re.escape(name) + ':', new + ':', l) for l in table if l.startswith(name + ': ')]
        out_status += [re.sub('^' + re.escape(name) + ':', new + ':', l) for l in status if l.startswith(name + ': ')]
    return '\n'.join(out_info) + '\n', '\n'.join(out_table) + '\n', '\n'.join(out_status) + '\n'


@pytest.mark.parametrize('distro', DISTROS)
def test_two_hundred_devices_take_three_dmsetup_calls(distro):
    info, table, status = _synthetic(capture(distro), 200)
    answers = {tuple(DISCOVERY_ARGVS[0]): info, tuple(DISCOVERY_ARGVS[1]): table, tuple(DISCOVERY_ARGVS[2]): status}
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, answers[tuple(argv)], ''

    facts, tables = discover(run)
    assert len(calls) == 3
    assert len(facts) == len(tables) == 200
    assert all(dev['status'] for dev in facts.values())
    assert [name for name in facts if name.startswith('dev199-')]


def test_a_failing_dmsetup_call_is_reported_with_its_output():
    def run(argv):
        return 1, '', '/dev/mapper/control: open failed: No such device'

    with pytest.raises(DmError) as err:
        discover(run)
    assert 'No such device' in err.value.msg and err.value.details['rc'] == 1


def test_select_filters():
    facts, _tables = parse_all(*outputs(capture('debian13')['all']))
    assert sorted(select(facts, target_types=['thin'])) == ['stscap-thin', 'stscap-thin-ext', 'stscap-thin-full',
                                                            'stscap-thin-snap']
    assert list(select(facts, uuid_prefix='STSCAP-UUID')) == ['stscap-with:colon']
    assert list(select(facts, names=['stscap-era'])) == ['stscap-era']


def _suspend(info_text, name):
    """The captured info output with ``name`` marked suspended (attr column 'L-s-'/'L-sr')."""
    rows = []
    for row in info_text.splitlines():
        cols = row.split('|')
        if cols[0] == name:
            cols[4] = cols[4][:2] + 's' + cols[4][3:]
        rows.append('|'.join(cols))
    return '\n'.join(rows) + '\n'


@pytest.mark.parametrize('distro', DISTROS)
def test_a_suspended_era_device_is_left_out_of_the_status_read(distro):
    info, table, status = outputs(capture(distro)['all'])
    info = _suspend(info, 'stscap-era')
    calls = []

    def run(argv):
        calls.append(argv)
        if argv[:2] == ['dmsetup', 'status']:
            # a plain status, or one naming the era device, would wait for its resume
            assert argv[2:3] == ['--'] and 'stscap-era' not in argv, argv
            # dmsetup prints the status lines of the named devices only
            return 0, ''.join(line + '\n' for line in status.splitlines() if line.split(': ')[0] in argv[3:]), ''
        return 0, {tuple(INFO_ARGV): info, tuple(DISCOVERY_ARGVS[1]): table}[tuple(argv)], ''

    facts, _tables = discover(run)
    assert len(calls) == 3
    names = calls[2][3:]
    assert sorted(names) == sorted(set(facts) - {'stscap-era'})
    era = facts['stscap-era']
    assert era['suspended'] and era['status'] == [] and 'era' in era['status_unavailable']
    assert all('status_unavailable' not in dev for name, dev in facts.items() if name != 'stscap-era')


def test_a_suspended_linear_device_does_not_change_the_status_read():
    info, table, status = outputs(capture('debian12')['all'])
    linear = [row.split('|')[0] for row in info.splitlines() if 'linear' in row.split('|')[0]][0]
    answers = {tuple(INFO_ARGV): _suspend(info, linear), tuple(DISCOVERY_ARGVS[1]): table,
               tuple(DISCOVERY_ARGVS[2]): status}
    calls = []
    discover(lambda argv: calls.append(argv) or (0, answers[tuple(argv)], ''))
    assert calls == [list(a) for a in DISCOVERY_ARGVS]


def test_only_a_suspended_era_device_means_no_status_read():
    info = 'e||253|0|L-s-|0|1|1|7:0,7:1|\n'
    table = 'e: 0 1024 era 7:0 7:1 128\n'
    calls = []
    answers = {tuple(INFO_ARGV): info, tuple(DISCOVERY_ARGVS[1]): table}
    facts, _tables = discover(lambda argv: calls.append(argv) or (0, answers[tuple(argv)], ''))
    assert len(calls) == 2 and facts['e']['status'] == [] and facts['e']['status_unavailable']


@pytest.mark.parametrize('stderr', ['Device does not exist.\nCommand failed.\n',
                                    # info -c naming the user of a device removed meanwhile (Debian 13)
                                    'Cannot find node 253:29.\nCommand failed.\n'])
def test_a_device_removed_while_listed_makes_discovery_start_again(stderr):
    info, table, status = outputs(capture('debian13')['all'])
    answers = {tuple(a): out for a, out in zip(DISCOVERY_ARGVS, (info, table, status))}
    calls = []

    def run(argv):
        calls.append(argv)
        if len(calls) == 3:
            return 1, '', stderr
        return 0, answers[tuple(argv)], ''

    facts, _tables = discover(run)
    assert len(calls) == 6 and calls[3:] == [list(a) for a in DISCOVERY_ARGVS]
    assert 'stscap-era' in facts


def test_devices_that_keep_disappearing_fail_after_three_attempts():
    calls = []

    def run(argv):
        calls.append(argv)
        return 1, '', 'device-mapper: deps ioctl on (253:40) failed: No such device or address\n'

    with pytest.raises(DmError) as err:
        discover(run)
    assert len(calls) == 3 and 'No such device or address' in err.value.msg


# -- kernel facts and one device (dm_info's targets and version, dm_wait's reads) ---------------
def wait_capture(distro):
    """wait_capture_guest.py's capture (wait_capture.sh): dmsetup version / targets, one device's reads."""
    with open(os.path.join(FIXTURES, 'wait-%s.json' % distro)) as handle:
        return json.load(handle)


KERNEL = {'debian12': {'release': '6.1.', 'library': '1.02.185', 'driver': '4.47.0', 'thin-pool': '1.22.0'},
          'debian13': {'release': '6.12.', 'library': '1.02.205', 'driver': '4.48.0', 'thin-pool': '1.23.0'}}


@pytest.mark.parametrize('distro', DISTROS)
def test_targets_of_a_real_kernel_with_their_versions(distro):
    # capture_guest.py ran `dmsetup targets` after making a device of every target the kernel has
    cap = capture(distro)
    assert cap['kernel'].startswith(KERNEL[distro]['release'])
    targets = parse_targets(cap['targets'])
    assert len(targets) == len(cap['targets'].splitlines()) == 22
    assert targets['thin-pool'] == targets['thin'] == KERNEL[distro]['thin-pool']
    assert targets['linear'] == '1.4.0' and targets['cache'] == '2.3.0' and targets['era'] == '1.0.0'
    assert 'dust' not in targets and 'vdo' not in targets


@pytest.mark.parametrize('distro', DISTROS)
def test_targets_list_only_what_the_kernel_has_loaded(distro):
    # the same command on a freshly booted guest: only the built-in targets until a table names another
    cap = wait_capture(distro)
    assert cap['targets']['argv'] == TARGETS_ARGV
    assert sorted(parse_targets(cap['targets']['stdout'])) == ['error', 'linear', 'striped']


@pytest.mark.parametrize('distro', DISTROS)
def test_library_and_driver_versions_of_a_real_kernel(distro):
    cap = wait_capture(distro)
    assert cap['version']['argv'] == VERSION_ARGV
    want = {'library': KERNEL[distro]['library'], 'driver': KERNEL[distro]['driver']}
    assert parse_version(cap['version']['stdout']) == want
    # `dmsetup --version` (capture_guest.py) prints the same two lines
    assert parse_version(capture(distro)['dmsetup_version']) == want


@pytest.mark.parametrize('text, message', [
    ('thin-pool        1.23.0\n', "dmsetup targets line 'thin-pool        1.23.0': expected"),
    ('thin-pool\n', "dmsetup targets line 'thin-pool'"),
])
def test_a_targets_line_not_understood_is_an_error_naming_it(text, message):
    with pytest.raises(DmError, match=re.escape(message)):
        parse_targets(text)


def test_a_version_output_without_the_driver_is_an_error():
    with pytest.raises(DmError, match='expected a library and a driver version; no driver'):
        parse_version('Library version:   1.02.205 (2025-02-27)\n')
    with pytest.raises(DmError, match="dmsetup version line 'Kernel: 6'"):
        parse_version('Kernel: 6\n')


class _Module(object):
    """AnsibleModule's part the runners use; dmsetup answers by argv."""

    def __init__(self, params, answers):
        self.params = params
        self.check_mode = False
        self.no_log_values = set()
        self.answers = answers
        self.calls = []

    def get_bin_path(self, name, required=False):
        return '/usr/sbin/' + name

    def run_command(self, argv, data=None, binary_data=False, environ_update=None):
        argv = ['dmsetup'] + list(argv[1:])
        self.calls.append(argv)
        return self.answers[tuple(argv)]


@pytest.mark.parametrize('distro', DISTROS)
@pytest.mark.parametrize('which', [['targets', 'version'], ['version'], []])
def test_dm_info_kernel_facts_cost_one_call_each_whatever_the_devices(distro, which):
    from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import InfoRunner
    cap, wait = capture(distro), wait_capture(distro)
    answers = dict((tuple(a), (0, out, '')) for a, out in zip(DISCOVERY_ARGVS, outputs(cap['all'])))
    answers[tuple(TARGETS_ARGV)] = (0, cap['targets'], '')
    answers[tuple(VERSION_ARGV)] = (0, wait['version']['stdout'], '')
    module = _Module(dict(names=None, target_types=None, uuid_prefix=None, kernel_facts=which), answers)
    runner = InfoRunner(module)
    runner.run()
    assert module.calls == [list(a) for a in DISCOVERY_ARGVS] + [KERNEL_FACTS[w] for w in which]
    assert ('targets' in runner.result) == ('targets' in which) and ('version' in runner.result) == ('version' in which)
    if 'version' in which:
        assert runner.result['version']['driver'] == KERNEL[distro]['driver']
    if 'targets' in which:
        assert runner.result['targets']['thin-pool'] == KERNEL[distro]['thin-pool']
    assert runner.result['count'] == len(runner.result['devices']) > 20


def test_a_failing_kernel_fact_call_is_reported_with_its_output():
    with pytest.raises(DmError) as err:
        discover_kernel(lambda argv: (1, '', '/dev/mapper/control: open failed: No such device'), ['version'])
    assert err.value.msg == 'dmsetup version failed (rc 1): /dev/mapper/control: open failed: No such device'
    assert err.value.details['cmd'] == VERSION_ARGV


@pytest.mark.parametrize('distro', DISTROS)
def test_one_device_read_by_name_has_no_name_prefix_and_parses_as_in_the_listing(distro):
    cap = wait_capture(distro)
    name = 'stsit-wait-cap-pool'
    info_argv, table_argv, status_argv = device_argvs(name)
    assert (cap['info_single']['argv'], cap['table_single']['argv'], cap['status_single_dashdash']['argv']) == \
        (info_argv, table_argv, status_argv)
    assert not cap['status_single_dashdash']['stdout'].startswith(name)
    facts, table = parse_device(name, cap['info_single']['stdout'], cap['table_single']['stdout'],
                                cap['status_single_dashdash']['stdout'])
    assert facts['target_types'] == ['thin-pool'] and table.segments[0].target.params['low_water_mark'] == 768
    assert facts['names_using_dev'] == ['stsit-wait-cap-thin'] and facts['events'] == 0
    status = facts['status'][0]
    assert (status['used_data_blocks'], status['total_data_blocks'], status['metadata_low_watermark']) == (0, 1024, 256)


@pytest.mark.parametrize('distro', DISTROS)
def test_read_device_of_a_missing_device_is_none(distro):
    missing = wait_capture(distro)['info_missing']
    assert missing['rc'] == 1
    calls = []
    assert read_device(lambda argv: calls.append(argv) or (1, '', missing['stderr']), 'gone') is None
    assert len(calls) == 1


def test_read_device_reads_only_what_it_is_not_given_and_never_a_suspended_era_status():
    dev = [d for d in capture('debian13')['devices'] if d['name'] == 'stscap-era'][0]
    info = _suspend(dev['info']['stdout'], 'stscap-era')
    calls = []
    answers = {tuple(device_argvs('stscap-era')[1]): dev['table']['stdout']}
    facts, _table = read_device(lambda argv: calls.append(argv) or (0, answers[tuple(argv)], ''), 'stscap-era',
                                known={'info': info})
    assert calls == [device_argvs('stscap-era')[1]]
    assert facts['suspended'] and facts['status'] == [] and facts['status_unavailable']


def test_a_device_command_failing_otherwise_is_an_error():
    with pytest.raises(DmError, match='dmsetup status -- x failed \\(rc 1\\): Permission denied'):
        run_device(lambda argv: (1, '', 'Permission denied\n'), ['dmsetup', 'status', '--', 'x'])
