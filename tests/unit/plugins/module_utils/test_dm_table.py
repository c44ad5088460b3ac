import json
import os
import stat

import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import (
    Segment, Table, check_block_devices, os_resolver, parse_multi, parse_multi_tables, validate_name, validate_uuid)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError, kernel_version

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'dm')
DISTROS = ('debian12', 'debian13')


def capture(distro):
    with open(os.path.join(FIXTURES, distro + '.json')) as handle:
        return json.load(handle)


def created(distro):
    """(distro, device entry) for every table the kernel accepted, as given by the capture."""
    cap = capture(distro)
    return [(distro, dev) for dev in cap['devices'] if dev.get('given') and dev.get('create', {}).get('rc') == 0]


CREATED = created('debian12') + created('debian13')


@pytest.mark.parametrize('distro,dev', CREATED, ids=['%s-%s' % (d, e['name']) for d, e in CREATED])
def test_wanted_table_equals_the_kernel_echo_in_canonical_form(distro, dev):
    cap = capture(distro)
    wanted = Table.parse(dev['given'], strict=True)
    live = Table.parse(dev['table']['stdout'], strict=True)
    assert wanted.differences(live, cap['devnos'].__getitem__, kernel_version(cap['kernel'])) == []
    assert live.differences(live, cap['devnos'].__getitem__, kernel_version(cap['kernel'])) == []


@pytest.mark.parametrize('distro,dev', CREATED, ids=['%s-%s' % (d, e['name']) for d, e in CREATED])
def test_kernel_echo_round_trips_through_parse_and_format(distro, dev):
    live = dev['table']['stdout']
    if 'crypt' in live:
        # the echo blanks the key; formatting keeps whatever key the table holds
        assert Table.parse(live).format().split() == live.split()
    else:
        assert Table.parse(live).format() == live.rstrip() + '\n'


def test_given_devices_are_paths_and_live_devices_are_devnos():
    cap = capture('debian13')
    dev = [d for d in cap['devices'] if d['name'] == 'stscap-thin-ext'][0]
    assert Table.parse(dev['given']).devices() == ['/dev/mapper/stscap-pool', '/dev/mapper/stscap-ext-origin']
    assert Table.parse(dev['table']['stdout']).devices() == [cap['devnos']['/dev/mapper/stscap-pool'],
                                                             cap['devnos']['/dev/mapper/stscap-ext-origin']]


def test_a_different_table_is_listed_difference_by_difference():
    cap = capture('debian13')
    dev = [d for d in cap['devices'] if d['name'] == 'stscap-two-segments'][0]
    live = Table.parse(dev['table']['stdout'])
    wanted = Table.parse('0 2048 linear /dev/loop1 4096\n2048 4096 zero\n')
    assert wanted.differences(live, cap['devnos'].__getitem__) == [
        "segment 0 linear args: wanted '7:1 4096', live '7:1 8192'",
        'segment 1 length: wanted 4096, live 2048',
    ]
    assert Table.parse('0 4096 error').differences(live) == [
        'segments: wanted 1, live 2', 'segment 0 length: wanted 4096, live 2048',
        'segment 0 target type: wanted error, live linear']


def test_flakey_without_features_compares_per_kernel():
    wanted = Table.parse('0 8192 flakey 7:8 0 5 5')
    on_61 = Table.parse('0 8192 flakey 7:8 0 5 5 0')
    on_612 = Table.parse('0 8192 flakey 7:8 0 5 5 2 error_reads error_writes')
    assert wanted.differences(on_61, kernel=(6, 1)) == []
    assert wanted.differences(on_612, kernel=(6, 12)) == []
    assert wanted.differences(on_61, kernel=(6, 12)) != []


def test_format_is_one_string_for_stdin_with_one_line_per_segment():
    table = Table.from_params([{'type': 'linear', 'length': '1MiB', 'device': '/dev/vdb'},
                               {'type': 'zero', 'length': 2048}])
    assert table.format() == '0 2048 linear /dev/vdb 0\n2048 2048 zero\n'
    assert table.length == 4096
    assert [seg.target_type for seg in table] == ['linear', 'zero']
    assert table.segments[0].args == ['/dev/vdb', '0']


def test_segments_from_lines_and_dicts_mix():
    table = Table.from_params(['0 8 zero', {'type': 'error', 'length': 8}])
    assert table.format() == '0 8 zero\n8 8 error\n'


@pytest.mark.parametrize('text,message', [
    ('8 8 zero', 'starts at sector 8; expected 0'),
    ('0 8 zero\n16 8 zero', 'starts at sector 16; expected 8'),
    ('0 8 zero\n4 8 zero', 'starts at sector 4; expected 8'),
    ('0 0 zero', 'length 0; expected > 0'),
    ('', 'expected at least one segment'),
])
def test_contiguity(text, message):
    with pytest.raises(DmError, match=message):
        Table.parse(text).validate()


def test_bad_lines_say_what_was_expected():
    with pytest.raises(DmError, match='expected <start> <length> <target type>'):
        Table.parse('0 8')
    with pytest.raises(DmError, match='whole numbers of sectors'):
        Table.parse('0 1G zero')
    with pytest.raises(DmError, match="target type 'nosuch': expected one of"):
        Table.parse('0 8 nosuch 1 2', strict=True)
    with pytest.raises(DmError, match='expected a length'):
        Segment.from_params({'type': 'zero'})


def test_unknown_target_types_are_kept_as_they_are_when_not_strict():
    table = Table.parse('0 8 log-writes 7:0 7:1')
    assert table.format() == '0 8 log-writes 7:0 7:1\n'
    assert table.devices() == ['7:0', '7:1']


def test_multi_device_table_output():
    cap = capture('debian12')
    tables = parse_multi_tables(cap['all']['table']['stdout'])
    assert tables['stscap-two-segments'].format() == '0 2048 linear 7:1 8192\n2048 2048 zero\n'
    assert tables['stscap-with:colon'].format() == '0 8 zero\n'
    assert len(tables['stscap-notable']) == 0
    assert parse_multi('No devices found\n') == {}


def test_multi_device_line_that_is_not_a_table_line():
    with pytest.raises(DmError, match='expected "<name>: <start> <length> <target> ..."'):
        parse_multi('garbage here\n')


@pytest.mark.parametrize('name', ['vg0-lv0', 'a:b', 'x' * 127, 'pool_tdata', 'luks-0a1b', 'a.b=c@d+e#f'])
def test_good_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize('name,message', [
    ('', 'non-empty'),
    ('a/b', "contains '/'"),
    ('.', 'refuses'),
    ('..', 'refuses'),
    ('control', 'refuses'),
    ('x' * 128, 'at most 127'),
    ('has space', "' ' would be mangled"),
    ('tab\tname', 'would be mangled'),
    (None, 'non-empty string'),
])
def test_bad_names(name, message):
    with pytest.raises(DmError, match=message):
        validate_name(name)


def test_uuids():
    assert validate_uuid(None) is None
    assert validate_uuid('LVM-abc') == 'LVM-abc'
    with pytest.raises(DmError, match='at most 128'):
        validate_uuid('u' * 129)


def test_os_resolver_on_a_file_and_a_missing_path(tmp_path):
    with pytest.raises(DmError, match='is not a block device'):
        os_resolver(str(tmp_path))
    with pytest.raises(DmError, match='cannot be resolved to major:minor'):
        os_resolver(str(tmp_path / 'missing'))


@pytest.mark.parametrize('distro', DISTROS)
def test_the_kernel_echoes_crypt_keys_as_zeros_and_keyring_references_as_written(distro):
    echoes = dict((dev['name'], dev['table']['stdout'].split()) for _d, dev in created(distro) if ' crypt ' in dev['given'])
    assert echoes['stscap-crypt'][4] == '0' * 64
    assert echoes['stscap-crypt-opts'][4] == '0' * 32
    assert echoes['stscap-crypt-keyring'][4] == ':32:logon:stscap:key1'


def test_kernels_differ_only_where_the_model_says_so():
    """Every table given alike to both kernels comes back alike, except flakey without features."""
    echoes, given = {}, {}
    for distro in DISTROS:
        cap = capture(distro)
        back = dict((v, k) for k, v in cap['devnos'].items())
        for _d, dev in created(distro):
            # compare by path so differing minor numbers do not count
            echoes.setdefault(dev['name'], {})[distro] = [back.get(w, w) for w in dev['table']['stdout'].split()]
            given.setdefault(dev['name'], {})[distro] = dev['given']
    # verity's root digest differs: its data is random on every capture
    alike = [name for name, per in given.items() if len(per) == 2 and per['debian12'] == per['debian13']]
    assert 'stscap-verity' not in alike and len(alike) > 60
    differ = sorted(name for name in alike if echoes[name]['debian12'] != echoes[name]['debian13'])
    assert differ == ['stscap-flakey', 'stscap-flakey-up0']
    only_612 = sorted(name for name, per in echoes.items() if list(per) == ['debian13'])
    assert only_612 == ['stscap-flakey-errr', 'stscap-flakey-rrc', 'stscap-flakey-rwc']


def test_segment_dicts_as_an_argument_spec_passes_them():
    table = Table.from_params([{'type': 'thin', 'length': '1G', 'start': None, 'options': {'pool': '/dev/mapper/p', 'dev_id': 1}}])
    assert table.format() == '0 2097152 thin /dev/mapper/p 1\n'
    with pytest.raises(DmError, match='options given both under "options" and beside it: pool'):
        Segment.from_params({'type': 'thin', 'length': 8, 'pool': '7:1', 'options': {'dev_id': 1}})


def _blockdev_stat(path):
    class Result(object):
        st_mode = stat.S_IFBLK | 0o660
    if path.startswith('/dev/vd'):
        return Result()
    return os.stat(path)


@pytest.mark.parametrize('make,expected', [
    (None, 'which does not exist; expected a block device'),
    ('dir', 'which is a directory; expected a block device'),
    ('file', 'which is a regular file; expected a block device'),
])
def test_a_table_that_maps_what_is_no_block_device_is_refused_naming_the_path(tmp_path, make, expected):
    path = str(tmp_path / 'thing')
    if make == 'dir':
        os.mkdir(path)
    elif make == 'file':
        open(path, 'w').close()
    table = Table.parse(['0 8 linear /dev/vdb 0', '8 8 linear %s 0' % path], strict=True)
    with pytest.raises(DmError) as err:
        check_block_devices('v0', table, stat_of=_blockdev_stat)
    assert err.value.msg == 'device v0: its table maps %s, %s' % (path, expected)


def test_character_devices_devnos_and_devices_made_first_in_the_batch():
    with pytest.raises(DmError, match='/dev/null, which is a character device'):
        check_block_devices('v0', Table.parse(['0 8 linear /dev/null 0'], strict=True))
    check_block_devices('v0', Table.parse(['0 8 linear 7:0 0'], strict=True))
    pool = Table.parse(['0 8 thin /dev/mapper/pool0 1'], strict=True)
    check_block_devices('thin1', pool, made={'pool0'})
    with pytest.raises(DmError, match='/dev/mapper/pool0, which does not exist'):
        check_block_devices('thin1', pool)
    check_block_devices('thin1', pool, lenient_mapper=True)
