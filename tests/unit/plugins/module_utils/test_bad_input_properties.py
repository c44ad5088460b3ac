# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generated bad input for the validators every module goes through (hypothesis).

The lab suite (tests/integration/dm/test_bad_input.py) runs a table of cases through the modules
on real kernels; these properties try thousands of generated values on the validators
themselves: each value is either accepted (and then it obeys the rule, stated here
independently of the code) or refused with the error type the modules turn into a failed task
(DmError, SizeError, DmpdError), whose message names the value. Any other exception would reach
the user as a traceback.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import tempfile

import pytest

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import (  # noqa: E402
    Table, validate_name, validate_uuid)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import (  # noqa: E402
    TARGETS, DmError, from_params, parse_target)
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.metadata import xml_superblock  # noqa: E402
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import DmpdError  # noqa: E402
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.names import validate_stack_name  # noqa: E402
from ansible_collections.sts.devicemapper.plugins.module_utils._units import (  # noqa: E402
    SizeError, to_bytes, to_sectors)

# derandomize: the same examples on every run (CI stays reproducible), no example database
# written into the tree; a few hundred each
PROFILE = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow])
ALLOWED = set('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#+-.:=@_')
SHELLISH = st.sampled_from(list(';|&$`\\\'"<>(){}[]*?!~ \t\n/'))
# names from the allowed set with shell metacharacters and other characters mixed in
NAMES = st.one_of(st.text(max_size=140),
                  st.lists(st.one_of(st.sampled_from(sorted(ALLOWED)), SHELLISH), max_size=140).map(''.join))


def _name_ok(name):
    return (0 < len(name.encode('utf-8')) <= 127 and '/' not in name and name not in ('.', '..', 'control')
            and set(name) <= ALLOWED and not name.startswith('-'))


@PROFILE
@given(NAMES)
@example('pool0\n')  # a pattern ending in $ lets a trailing newline through: dmsetup would mangle it
@example('--help')   # dmsetup remove --help: an option, not a device
def test_device_names_obey_the_kernel_and_dmsetup_rules_or_are_refused_by_name(name):
    if _name_ok(name):
        assert validate_name(name) == name
        return
    with pytest.raises(DmError) as err:
        validate_name(name)
    assert repr(name) in err.value.msg
    assert 'expected' in err.value.msg or 'refuses' in err.value.msg


@PROFILE
@given(NAMES)
@example('LVM-x\n')
@example('-LVM-x')
def test_uuids_obey_the_rules_or_are_refused_by_value(uuid):
    # a leading '-' would be read by dmsetup as an option (create -u UUID, rename --setuuid UUID)
    ok = 0 < len(uuid.encode('utf-8')) <= 128 and set(uuid) <= ALLOWED and not uuid.startswith('-')
    if ok:
        assert validate_uuid(uuid) == uuid
        return
    with pytest.raises(DmError) as err:
        validate_uuid(uuid)
    assert repr(uuid) in err.value.msg and 'expected' in err.value.msg


@PROFILE
@given(st.one_of(st.text(max_size=40), st.integers(min_value=-2 ** 70, max_value=2 ** 70), st.booleans(), st.none(),
                 st.floats(allow_nan=True, allow_infinity=True),
                 st.from_regex(r'\A-?\d{1,6}(\.\d{1,4})?\s?[kKmMgGtTpPsSbB]?(i?[bB])?\Z')))
def test_sizes_are_whole_sectors_or_refused_naming_the_value(value):
    try:
        sectors = to_sectors(value, 'length')
    except SizeError as exc:
        text = str(exc)
        assert text.startswith('length: ')
        assert (repr(value) in text or str(value) in text), text
        assert 'expected' in text or 'not a whole number' in text
        return
    assert isinstance(sectors, int) and sectors >= 0
    assert to_bytes(value, 'length') == sectors * 512


@PROFILE
@given(st.integers(min_value=0, max_value=2 ** 40))
def test_every_unit_means_what_it_says(n):
    assert to_sectors(n) == n
    assert to_sectors('%ds' % n) == n
    assert to_bytes('%dKiB' % n) == to_bytes('%dK' % n) == n * 1024
    assert to_bytes('%dG' % n) == n * 1024 ** 3
    assert to_bytes('%db' % (n * 512)) == n * 512


@PROFILE
@given(st.one_of(st.integers(min_value=-10 ** 7, max_value=10 ** 7),
                 st.sampled_from([0, 64, 127, 128, 192, 256, 2097152, 2097280, 4194304])))
def test_thin_pool_block_sizes_are_multiples_of_128_sectors_up_to_1GiB(sectors):
    params = {'metadata_dev': '/dev/vdc', 'data_dev': '/dev/vdb', 'block_size': sectors}
    if sectors >= 128 and sectors <= 2097152 and sectors % 128 == 0:
        assert from_params('thin-pool', params).params['block_size'] == sectors
        return
    with pytest.raises(DmError) as err:
        from_params('thin-pool', params)
    assert str(sectors) in err.value.msg and 'expected' in err.value.msg


@PROFILE
@given(st.one_of(st.integers(min_value=-2 ** 30, max_value=2 ** 30), st.text(max_size=12), st.booleans()))
def test_thin_dev_ids_are_24_bit_or_refused_naming_the_value(dev_id):
    params = {'pool': '/dev/mapper/pool0', 'dev_id': dev_id}
    number = None
    if not isinstance(dev_id, bool):
        try:
            number = int(str(dev_id), 10)
        except ValueError:
            number = None
    if number is not None and 0 <= number < 2 ** 24:
        assert from_params('thin', params).params['dev_id'] == number
        return
    with pytest.raises(DmError) as err:
        from_params('thin', params)
    assert repr(dev_id) in err.value.msg or str(number) in err.value.msg


WORDS = st.one_of(st.sampled_from(sorted(TARGETS) + ['0', '1', '8', '-1', '128', '/dev/vdb', '7:0', 'x', '']),
                  st.text(alphabet=st.characters(blacklist_categories=('Cs',)), max_size=8),
                  st.integers(min_value=-3, max_value=300).map(str))


@PROFILE
@given(st.lists(st.lists(WORDS, max_size=12).map(' '.join), max_size=4))
def test_table_lines_parse_or_fail_as_dm_errors(lines):
    try:
        Table.parse(lines, strict=True).validate()
    except DmError as exc:
        assert exc.msg
    except ValueError as exc:  # pragma: no cover - shown for what it is
        raise AssertionError('a ValueError, not a DmError, would reach the user as a traceback: %r' % exc)


@PROFILE
@given(st.sampled_from(sorted(TARGETS)), st.lists(WORDS, max_size=16))
def test_every_target_reads_user_args_or_fails_as_a_dm_error(target, args):
    try:
        parse_target(target, args, strict=True)
    except DmError as exc:
        assert exc.msg


OPTION_VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-5, max_value=5000), st.text(max_size=10),
                          st.lists(st.text(max_size=6), max_size=3), st.sampled_from(['/dev/vdb', '7:0', '64KiB']))


@PROFILE
@given(st.sampled_from(sorted(TARGETS)),
       st.dictionaries(st.sampled_from(['device', 'offset', 'metadata_dev', 'data_dev', 'block_size', 'pool', 'dev_id',
                                        'origin', 'cow', 'chunk_size', 'cipher', 'key', 'features', 'mode', 'policy',
                                        'cache_dev', 'devices', 'stripes', 'chunk', 'bogus']),
                       OPTION_VALUES, max_size=6))
def test_every_target_reads_module_options_or_fails_as_a_dm_error(target, options):
    try:
        from_params(target, options)
    except DmError as exc:
        assert exc.msg


@PROFILE
@given(NAMES)
@example('lab\n')
def test_stack_names_are_1_to_100_safe_characters(name):
    ok = re.match(r'\A[A-Za-z0-9_.+-]{1,100}\Z', name) and name.strip('.')
    if ok:
        assert validate_stack_name(name, 'name') == name
        return
    with pytest.raises(DmError) as err:
        validate_stack_name(name, 'name')
    assert repr(name) in err.value.msg and 'expected' in err.value.msg


XMLISH = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode('utf-8')),
    st.sampled_from([b'<superblock uuid="" time="0" transaction="1" data_block_size="128" nr_data_blocks="64">',
                     b'<superblock nr_cache_blocks="8"></superblock>', b'<superblock/>', b'<metadata/>',
                     b'<?xml version="1.0"?><superblock current_era="1"/>', b'   <', b'<<<', b'<a><b>'])
    .flatmap(lambda head: st.binary(max_size=40).map(lambda tail: head + tail)))


@settings(PROFILE, max_examples=150)
@given(XMLISH)
def test_restore_sources_are_a_known_family_or_refused_naming_the_file(content):
    fd, path = tempfile.mkstemp(prefix='sts-bad-xml-')
    try:
        os.write(fd, content)
        os.close(fd)
        try:
            family, _attrs = xml_superblock(path)
        except DmpdError as exc:
            assert path in str(exc)
            return
        assert family in ('thin', 'cache', 'era')
    finally:
        os.unlink(path)


HEX = '0123456789abcdefABCDEF'


@PROFILE
@given(st.one_of(st.text(alphabet=HEX + 'g \n;', max_size=70), st.text(max_size=20),
                 st.from_regex(r'\A:\d{1,3}:(logon|user|encrypted|trusted|bogus):\S{0,8}\s?\Z')))
@example('abc\n')
@example(':32:logon:key\n')
def test_crypt_keys_are_hex_or_a_keyring_reference_and_a_refused_key_is_never_shown(key):
    params = {'cipher': 'aes-xts-plain64', 'key': key, 'device': '/dev/vdb', 'offset': 0}
    hex_ok = key and len(key) % 2 == 0 and set(key) <= set(HEX)
    ring_ok = re.match(r'\A:\d+:(logon|user|encrypted|trusted):\S+\Z', key)
    if hex_ok or ring_ok or key == '-':
        assert from_params('crypt', params).params['key'] == key
        return
    with pytest.raises(DmError) as err:
        from_params('crypt', params)
    assert 'expected' in err.value.msg
    if len(key.strip()) >= 3:
        assert key not in err.value.msg and key.strip() not in err.value.msg
