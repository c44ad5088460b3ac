import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd_parsers import (
    parse_check, parse_metadata_size, parse_thin_delta, parse_thin_ls)
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd_tools import DmpdError

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
