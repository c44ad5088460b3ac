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


@pytest.mark.parametrize('value', ['12 parsecs', '1.5G', '-1', 'G', '', True, -8])
def test_bad_sizes_name_the_value(value):
    with pytest.raises(SizeError) as err:
        to_bytes(value, 'block_size')
    assert str(err.value).startswith('block_size: %r ' % (value,))


def test_partial_sector_is_refused():
    with pytest.raises(SizeError, match='not a whole number of 512-byte sectors'):
        to_sectors('1000b', 'pool_size')
