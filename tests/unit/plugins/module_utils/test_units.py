import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._units import SizeError, to_bytes, to_sectors


@pytest.mark.parametrize('value,expected', [
    (128, 65536), ('128', 65536), ('128s', 65536), ('4096b', 4096), ('64KiB', 65536), ('64k', 65536),
    ('1G', 1024 ** 3), ('1gib', 1024 ** 3), (' 2 MiB ', 2 * 1024 ** 2), ('1T', 1024 ** 4), (0, 0),
])
def test_to_bytes(value, expected):
    assert to_bytes(value) == expected


def test_to_sectors_converts_units_once():
    assert to_sectors('64KiB') == 128
    assert to_sectors(2048) == 2048
    assert to_sectors('1G') == 2097152


# The values issue 12 names, read as a storage engineer reads them.
@pytest.mark.parametrize('value,sectors', [
    ('1.5G', 3 * 1024 ** 3 // 2 // 512),   # a fraction of a binary unit, exact in bytes and sectors
    ('128s', 128),                          # s is the 512-byte sector, as dmsetup speaks
    ('1P', 1024 ** 5 // 512),               # petabyte pools exist; dm lengths are 64-bit sectors
    ('1PiB', 1024 ** 5 // 512),
    ('64KiB', 128),
    ('0', 0), (0, 0),                       # zero is a size; a caller that needs > 0 says so itself
])
def test_issue_12_sizes(value, sectors):
    assert to_sectors(value) == sectors
    assert to_bytes(value) == sectors * 512


@pytest.mark.parametrize('spelling', ['64K', '64k', '64KB', '64kb', '64KiB', '64kib', '0.0625M', '0.0625MiB'])
def test_kb_and_kib_are_both_1024(spelling):
    assert to_bytes(spelling) == 65536


@pytest.mark.parametrize('value,nbytes', [('0.5K', 512), ('1.5K', 1536), ('2.25M', 2359296), ('1.0G', 1024 ** 3)])
def test_fractions_that_come_to_whole_bytes(value, nbytes):
    assert to_bytes(value) == nbytes


def test_whole_bytes_that_are_not_whole_sectors_are_refused_where_sectors_are_wanted():
    assert to_bytes('1.25K') == 1280
    with pytest.raises(SizeError, match=r"pool_size: '1.25K' is 1280 bytes, not a whole number of 512-byte sectors"):
        to_sectors('1.25K', 'pool_size')


@pytest.mark.parametrize('value,reason', [
    ('', 'is not a size'),
    ('abc', 'is not a size'),
    ('-1G', 'is not a size'),
    ('1.5s', 'has a fraction of a sector'),
    ('1.5', 'has a fraction of a sector'),
    ('1.5b', 'has a fraction of a byte'),
    ('1.1K', 'is not a whole number of bytes'),
    ('1e3', 'is not a size'),
    ('G', 'is not a size'),
    ('1.G', 'is not a size'),
    ('1E', 'is not a size'),
])
def test_junk_is_refused_naming_the_value_and_what_was_expected(value, reason):
    with pytest.raises(SizeError) as err:
        to_sectors(value, 'origin size')
    message = str(err.value)
    assert message.startswith('origin size: %r %s' % (value, reason))
    assert 'expected sectors (e.g. 128 or 128s)' in message and '1.5G' in message


@pytest.mark.parametrize('value', ['12 parsecs', '-1', 'G', '', True, -8])
def test_bad_sizes_name_the_value(value):
    with pytest.raises(SizeError) as err:
        to_bytes(value, 'block_size')
    assert str(err.value).startswith('block_size: %r ' % (value,))


def test_partial_sector_is_refused():
    with pytest.raises(SizeError, match='not a whole number of 512-byte sectors'):
        to_sectors('1000b', 'pool_size')
