import os
import struct

import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd import metadata as md
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import DmpdError

DATA = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'data', 'dmpd'))


def superblock(magic, flags=0):
    block = bytearray(4096)
    struct.pack_into('<I', block, 4, flags)
    struct.pack_into('<Q', block, 32, magic)
    return bytes(block)


@pytest.mark.parametrize('magic,family', [(27022010, 'thin'), (1623043, 'cache'), (2126579579, 'era')])
def test_family_from_magic(magic, family):
    assert md.Superblock(superblock(magic)).family == family


def test_needs_check_bits_differ_per_family():
    assert md.Superblock(superblock(27022010, flags=1)).needs_check is True
    assert md.Superblock(superblock(1623043, flags=1)).needs_check is False  # bit 0 is clean shutdown
    assert md.Superblock(superblock(1623043, flags=3)).needs_check is True
    assert md.Superblock(superblock(2126579579, flags=3)).needs_check is None


def test_descriptions_of_unrecognised_blocks():
    assert md.Superblock(bytes(4096)).describe() == 'a zeroed superblock block'
    assert 'shorter than one 4096-byte' in md.Superblock(b'abc').describe()
    assert 'no thin, cache or era superblock magic' in md.Superblock(superblock(12345)).describe()


def test_path_kinds(tmp_path):
    assert md.path_kind(str(tmp_path / 'nope')) == 'missing'
    with pytest.raises(DmpdError, match='is a directory'):
        md.path_kind(str(tmp_path), 'dest')
    (tmp_path / 'f').write_bytes(b'x')
    assert md.path_kind(str(tmp_path / 'f')) == 'file'
    with pytest.raises(DmpdError, match='does not exist'):
        md.require_existing(str(tmp_path / 'nope'))


def test_xml_is_refused_where_binary_is_expected():
    with pytest.raises(DmpdError, match='holds XML'):
        md.require_binary(os.path.join(DATA, 'thin-small.xml'))


@pytest.mark.parametrize('family', ['thin', 'cache', 'era'])
def test_family_of_xml_dumps(family):
    found, attrs = md.xml_superblock(os.path.join(DATA, '%s-small.xml' % family))
    assert found == family and 'uuid' in attrs


def test_not_xml_or_not_metadata_xml(tmp_path):
    binary = tmp_path / 'b'
    binary.write_bytes(superblock(27022010))
    with pytest.raises(DmpdError, match='is not an XML metadata dump'):
        md.xml_superblock(str(binary))
    other = tmp_path / 'o.xml'
    other.write_text('<html><body/></html>')
    with pytest.raises(DmpdError, match='does not start with a <superblock> element'):
        md.xml_superblock(str(other))
    broken = tmp_path / 'x.xml'
    broken.write_text('<superblock uuid="" ')
    with pytest.raises(DmpdError, match='not well-formed XML'):
        md.xml_superblock(str(broken))


def test_sparse_files_are_empty_and_data_is_not(tmp_path):
    sparse = str(tmp_path / 's')
    md.create_sparse(sparse, 8 * 1024 * 1024)
    assert os.stat(sparse).st_mode & 0o777 == 0o600
    assert md.is_empty(sparse, 'file')
    with open(sparse, 'r+b') as handle:
        handle.seek(4096)
        handle.write(b'data')
    assert not md.is_empty(sparse, 'file')


def test_holders_of_an_unheld_file(tmp_path):
    path = tmp_path / 'meta'
    path.write_bytes(b'\0' * 4096)
    assert md.holders(str(path)) == []


def test_holders_follow_the_loop_device_backing_a_file(tmp_path, monkeypatch):
    sys_block = tmp_path / 'sys' / 'block'
    (sys_block / 'loop3' / 'loop').mkdir(parents=True)
    (sys_block / 'loop3' / 'holders' / 'dm-2').mkdir(parents=True)
    (sys_block / 'dm-2' / 'dm').mkdir(parents=True)
    (sys_block / 'dm-2' / 'dm' / 'name').write_text('pool\n')
    meta = tmp_path / 'pool.meta'
    meta.write_bytes(b'\0')
    (sys_block / 'loop3' / 'loop' / 'backing_file').write_text(str(meta) + '\n')
    monkeypatch.setattr(md, 'SYS_BLOCK', str(sys_block))
    assert md.holders(str(meta)) == ['pool']
    with pytest.raises(DmpdError, match=r'is in use by active device-mapper device\(s\) pool; why') as err:
        md.refuse_if_held(str(meta), 'dest', 'why')
    assert err.value.details == dict(holders=['pool'])


def test_a_block_device_head_is_read_with_o_direct_past_a_stale_page_cache(tmp_path, monkeypatch):
    """A live pool's superblock is written by the kernel through bios, past the block device's page
    cache; a buffered read can return the zeros udev's probe cached before. read_head of a block
    device reads with O_DIRECT (here on a regular file of this machine's ext4 standing in for it)."""
    path = str(tmp_path / 'meta')
    with open(path, 'wb') as handle:
        handle.write(struct.pack('<I', 27022010) * 2048)
    opened = []
    real_open = os.open

    def spy_open(name, flags, *args):
        opened.append(flags)
        return real_open(name, flags, *args)
    monkeypatch.setattr(md.os, 'open', spy_open)
    monkeypatch.setattr(md.stat, 'S_ISBLK', lambda mode: True)
    head = md.read_head(path)
    assert len(head) == md.SUPERBLOCK_SIZE and head[:4] == struct.pack('<I', 27022010)
    assert opened and opened[0] & os.O_DIRECT, opened
    assert md.read_head(path, 100) == head[:100]


def test_a_regular_file_head_is_read_buffered(tmp_path, monkeypatch):
    path = str(tmp_path / 'meta')
    with open(path, 'wb') as handle:
        handle.write(b'x' * 10)
    monkeypatch.setattr(md, '_read_direct', lambda *a: pytest.fail('O_DIRECT for a regular file'))
    assert md.read_head(path) == b'x' * 10
