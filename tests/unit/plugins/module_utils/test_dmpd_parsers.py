import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.parsers import (
    parse_check, parse_era_dump, parse_era_invalidate, parse_metadata_size, parse_thin_delta, parse_thin_devices,
    parse_thin_ls)
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import DmpdError

BOTH = ('0.9.0', '1.1.0')


@pytest.mark.parametrize('version', BOTH)
def test_healthy_thin_check(captured, version):
    cap = captured(version, 'thin_check_ok')
    parsed = parse_check(cap['stdout'], cap['stderr'])
    assert parsed['transaction_id'] == 7
    assert parsed['metadata_free_blocks'] == (1023 if version == '0.9.0' else 1013)
    assert parsed['findings'] == []


@pytest.mark.parametrize('version', BOTH)
@pytest.mark.parametrize('family', ['cache', 'era'])
def test_healthy_cache_and_era_checks_have_no_findings(captured, version, family):
    cap = captured(version, '%s_check_ok' % family)
    parsed = parse_check(cap['stdout'], cap['stderr'])
    assert parsed == dict(transaction_id=None, metadata_free_blocks=None, findings=[])


@pytest.mark.parametrize('version,name,finding', [
    ('0.9.0', 'thin_check_corrupted_snap', 'bad checksum in superblock, wanted 1490015127'),
    ('1.1.0', 'thin_check_corrupted_snap', 'metadata snap: bad checksum in superblock'),
    ('0.9.0', 'thin_check_corrupted_tmeta', 'bad checksum in btree node (block 6)'),
    ('1.1.0', 'thin_check_corrupted_tmeta', 'mapping top-level: node error: checksum error AgEU, effecting keys [..]'),
    ('0.9.0', 'thin_check_tmeta_snap_missing', 'No metadata snapshot found.'),
    ('1.1.0', 'thin_check_tmeta_snap_missing', 'no current metadata snap'),
    ('0.9.0', 'thin_check_era_file', 'bad checksum in superblock, wanted 1224988286'),
    ('1.1.0', 'cache_check_thin_file', 'bad checksum in superblock'),
    ('1.1.0', 'thin_check_corrupted_thins', 'Thin device 1 is missing root with 0 mappings'),
])
def test_findings_keep_what_is_wrong_and_drop_progress(captured, version, name, finding):
    cap = captured(version, name)
    parsed = parse_check(cap['stdout'], cap['stderr'])
    assert finding in parsed['findings']
    assert not [f for f in parsed['findings'] if f.startswith('examining') or f == 'mapping tree']


@pytest.mark.parametrize('version', BOTH)
def test_thin_ls_rows(captured, version):
    cap = captured(version, 'thin_ls_fields')
    fields = cap['argv'][3].split(',')
    rows = parse_thin_ls(cap['stdout'], fields)
    assert len(rows) == 11
    assert rows[0] == dict(dev=1, mapped_blocks=10713, exclusive_blocks=64, shared_blocks=10649,
                           mapped_sectors=1371264, transaction=0, create_time=0, snap_time=15)


@pytest.mark.parametrize('version', BOTH)
def test_thin_dump_devices_agree_with_thin_ls_of_the_same_metadata(captured, version):
    dump = captured(version, 'thin_dump_skip_mappings')
    listed = captured(version, 'thin_ls_fields')
    assert dump['rc'] == 0 and dump['argv'][-1].endswith('/tmeta.bin') and listed['argv'][-1].endswith('/tmeta.bin')
    devices = parse_thin_devices(dump['stdout'])
    rows = parse_thin_ls(listed['stdout'], listed['argv'][3].split(','))
    assert devices == dict((r['dev'], r['mapped_blocks']) for r in rows)
    assert len(devices) == 11 and devices[1] == 10713


@pytest.mark.parametrize('text, needle', [
    ('', 'not complete XML'),
    ('<superblock uuid="" time="1">', 'not complete XML'),
    ('<device dev_id="1" mapped_blocks="2"/>', 'starts with <device>; expected <superblock>'),
    ('<superblock><device dev_id="1"/></superblock>', "mapped_blocks=None; expected a whole number"),
    ('<superblock><device dev_id="x" mapped_blocks="1"/></superblock>', "dev_id='x'"),
    ('<superblock><device dev_id="1" mapped_blocks="1"/><device dev_id="1" mapped_blocks="2"/></superblock>',
     'device 1 twice'),
])
def test_thin_dump_devices_refuse_what_is_not_a_whole_dump(text, needle):
    with pytest.raises(DmpdError) as err:
        parse_thin_devices(text)
    assert needle in str(err.value)


def test_thin_dump_devices_of_an_empty_pool():
    assert parse_thin_devices(b'<superblock uuid="" time="0" transaction="1"></superblock>') == {}


def test_thin_ls_human_fields_stay_text():
    rows = parse_thin_ls(' 1 670MiB 15\n', ['DEV', 'MAPPED', 'SNAP_TIME'])
    assert rows == [dict(dev=1, mapped='670MiB', snap_time=15)]


def test_thin_ls_column_mismatch_is_an_error():
    with pytest.raises(DmpdError, match='2 columns where 3 fields'):
        parse_thin_ls('1 2\n', ['DEV', 'MAPPED_BLOCKS', 'TRANSACTION'])


@pytest.mark.parametrize('version', BOTH)
def test_thin_delta(captured, version):
    delta = parse_thin_delta(captured(version, 'thin_delta')['stdout'])
    assert delta == dict(left=1, right=2, data_block_size=128, ranges=[
        dict(type='same', begin=0, length=4), dict(type='left_only', begin=10, length=2)])


def test_thin_delta_garbage():
    with pytest.raises(DmpdError, match='not XML'):
        parse_thin_delta('oops')


@pytest.mark.parametrize('version,expected', [('0.9.0', 577536), ('1.1.0', 581632)])
def test_thin_metadata_size_numeric(captured, version, expected):
    assert parse_metadata_size(captured(version, 'thin_metadata_size_n')['stdout'], 'b') == dict(
        bytes=expected, sectors=expected // 512)


@pytest.mark.parametrize('version,sectors', [('0.9.0', 1128), ('1.1.0', 1136)])
def test_thin_metadata_size_sentence_or_sectors(captured, version, sectors):
    size = parse_metadata_size(captured(version, 'thin_metadata_size_sentence')['stdout'], 'b')
    assert size == dict(bytes=sectors * 512, sectors=sectors)


@pytest.mark.parametrize('version,nbytes,sectors', [('0.9.0', 8246 * 512, 8246), ('1.1.0', 4222306, 8247)])
def test_cache_metadata_size_rounds_fractions_up(captured, version, nbytes, sectors):
    # 0.9 prints "8246 sectors", 1.x "8246.69 sectors": a fraction rounds up, never down.
    size = parse_metadata_size(captured(version, 'cache_metadata_size_nr_blocks')['stdout'], 's')
    assert size == dict(bytes=nbytes, sectors=sectors)


def test_metadata_size_garbage():
    with pytest.raises(DmpdError, match="cannot read a metadata size from 'no idea'"):
        parse_metadata_size('no idea', 'b')


# fixtures/dmpd/era-capture.xml restored with era_restore and read back by each
# generation (fixtures/dmpd/era_capture.py): 16 blocks, current era 6, writesets
# of eras 4 (block 14), 5 (blocks 9, 10) and 6 (block 2).
ERA_ARRAY = {0: 4, 1: 7, 2: 1, 3: 2, 4: 1, 5: 1}
ERA_LOGICAL = {0: 2, 1: 5, 2: 1, 3: 2, 4: 2, 5: 3, 6: 1}


@pytest.mark.parametrize('version', BOTH)
@pytest.mark.parametrize('since,ranges', [
    (0, [[0, 16]]),
    (2, [[2, 3], [4, 8], [9, 11], [12, 13], [14, 15]]),
    (6, [[2, 3]]),
])
def test_era_invalidate_ranges(captured, version, since, ranges):
    cap = captured(version, 'era_invalidate_since_%d' % since)
    assert cap['rc'] == 0
    assert parse_era_invalidate(cap['stdout']) == ranges


# The generations disagree on metadata where the era array already names an era
# whose writeset is still held (the capture writes such a state by hand): 0.9
# lists blocks 7 (era 4) and 12 (era 5) since era 4, 1.x reads only the writesets.
@pytest.mark.parametrize('version,since,ranges', [
    ('0.9.0', 4, [[2, 3], [7, 8], [9, 11], [12, 13], [14, 15]]),
    ('1.1.0', 4, [[2, 3], [9, 11], [14, 15]]),
    ('0.9.0', 5, [[2, 3], [9, 11], [12, 13]]),
    ('1.1.0', 5, [[2, 3], [9, 11]]),
])
def test_era_invalidate_ranges_where_the_generations_differ(captured, version, since, ranges):
    assert parse_era_invalidate(captured(version, 'era_invalidate_since_%d' % since)['stdout']) == ranges


def test_era_invalidate_of_nothing_written():
    assert parse_era_invalidate('<blocks>\n</blocks>\n') == []


def test_era_invalidate_ranges_come_sorted():
    assert parse_era_invalidate('<blocks><block block="9"/><range begin="0" end = "4"/></blocks>') == [[0, 4], [9, 10]]


@pytest.mark.parametrize('stdout,message', [
    ('', 'era_invalidate printed something that is not XML'),
    ('<blocks><range begin="0" end="4"/>', 'era_invalidate printed something that is not XML'),
    ('<superblock/>', 'era_invalidate output starts with <superblock>; expected <blocks>'),
    ('<blocks><bit block="1"/></blocks>', 'unexpected <bit> element; expected <range> or <block>'),
    ('<blocks><range begin="0"/></blocks>', "<range> has end=None; expected a whole number >= 0"),
    ('<blocks><block block="-3"/></blocks>', "<block> has block='-3'; expected a whole number >= 0"),
    ('<blocks><range begin="5" end="5"/></blocks>', r'empty range \[5, 5\); expected begin < end'),
])
def test_era_invalidate_malformed(stdout, message):
    with pytest.raises(DmpdError, match=message):
        parse_era_invalidate(stdout)


@pytest.mark.parametrize('version', BOTH)
def test_era_dump(captured, version):
    cap = captured(version, 'era_dump')
    parsed = parse_era_dump(cap['stdout'])
    assert (parsed['block_size'], parsed['nr_blocks'], parsed['current_era']) == (128, 16, 6)
    assert parsed['writesets'] == [dict(era=4, nr_bits=16, ranges=[[14, 15]]),
                                   dict(era=5, nr_bits=16, ranges=[[9, 11]]),
                                   dict(era=6, nr_bits=16, ranges=[[2, 3]])]
    assert parsed['blocks_per_era'] == ERA_ARRAY


@pytest.mark.parametrize('version', BOTH)
def test_era_dump_logical_folds_the_writesets_in(captured, version):
    cap = captured(version, 'era_dump_logical')
    assert cap['argv'][1] == '--logical'
    parsed = parse_era_dump(cap['stdout'])
    assert parsed['writesets'] == []
    assert parsed['blocks_per_era'] == ERA_LOGICAL
    assert sum(parsed['blocks_per_era'].values()) == parsed['nr_blocks']


def test_era_dump_streams_from_a_binary_file(captured, tmp_path):
    path = tmp_path / 'dump.xml'
    path.write_text(captured('1.1.0', 'era_dump')['stdout'])
    with open(str(path), 'rb') as handle:
        assert parse_era_dump(handle)['blocks_per_era'] == ERA_ARRAY
    assert parse_era_dump(path.read_bytes())['current_era'] == 6


def test_era_dump_bits_out_of_order_still_merge():
    parsed = parse_era_dump('<superblock block_size="8" nr_blocks="0" current_era="1">'
                            '<writeset era="1" nr_bits="4"><bit block="3" value="true"/>'
                            '<bit block="1" value="true"/><bit block="2" value="true"/></writeset>'
                            '<era_array/></superblock>')
    assert parsed['writesets'] == [dict(era=1, nr_bits=4, ranges=[[1, 4]])]


_SB = '<superblock uuid="" block_size="128" nr_blocks="1" current_era="2">'


@pytest.mark.parametrize('stdout,message', [
    ('', 'era_dump output is not complete XML'),
    (_SB + '<era_array><era block="0" era="1"/>', 'era_dump output is not complete XML'),
    ('<blocks/>', 'era_dump output starts with <blocks>; expected <superblock>'),
    ('<superblock block_size="128" nr_blocks="x" current_era="2"/>', "<superblock> has nr_blocks='x'"),
    (_SB + '<era_array><era block="0" era="1"/><era block="1" era="1"/></era_array></superblock>',
     'era_dump output has 2 blocks in its era array; the superblock says nr_blocks=1'),
    (_SB + '<writeset era="1" nr_bits="1"><bit block="0" value="1"/></writeset></superblock>',
     "<bit> has value='1'; expected true or false"),
    (_SB + '<era block="0" era="1"/></superblock>', 'an <era> outside the <era_array>'),
    (_SB + '<era_array><bit block="0" value="true"/></era_array></superblock>', 'a <bit> outside a <writeset>'),
    (_SB + '<mappings/></superblock>', 'unexpected <mappings> element'),
])
def test_era_dump_malformed(stdout, message):
    with pytest.raises(DmpdError, match=message):
        parse_era_dump(stdout)


@pytest.mark.parametrize('version', BOTH)
@pytest.mark.parametrize('name', ['era_dump_zeroed', 'era_invalidate_zeroed'])
def test_era_tools_on_zeroed_metadata_print_no_xml(captured, version, name):
    cap = captured(version, name)
    assert cap['rc'] != 0 and cap['stdout'] == ''
    assert 'bad checksum in superblock' in cap['stderr']
    parser = parse_era_dump if name.startswith('era_dump') else parse_era_invalidate
    with pytest.raises(DmpdError, match='is not (complete )?XML'):
        parser(cap['stdout'])
