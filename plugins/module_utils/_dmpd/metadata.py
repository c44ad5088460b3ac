# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a metadata path holds, read without the tools and without writing anything.

Superblock magic gives the family (thin, cache, era) and the needs_check flag;
the first element of an XML dump gives its family; sysfs tells whether a device
(or the loop device backing a file) is held by an active device-mapper device.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import hashlib
import mmap
import os
import stat
import struct

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import DmpdError

DIRECT_ALIGN = 4096   # bytes: a multiple of every logical block size O_DIRECT may need
SUPERBLOCK_SIZE = 4096
MAGICS = {27022010: 'thin', 1623043: 'cache', 2126579579: 'era'}
# Superblock flag bits that mean "run a check before use" (thin: bit 0, cache: bit 1).
NEEDS_CHECK_BITS = {'thin': 1 << 0, 'cache': 1 << 1}
# What the tools need as the smallest output to write metadata into.
MIN_METADATA_BYTES = 4 * 1024 * 1024
SYS_BLOCK = '/sys/block'
SYS_DEV_BLOCK = '/sys/dev/block'


class Superblock(object):
    """The first metadata block of a path: magic, family (or None), flags, raw bytes."""

    def __init__(self, raw):
        self.raw = raw
        self.short = len(raw) < SUPERBLOCK_SIZE
        self.magic = struct.unpack_from('<Q', raw, 32)[0] if len(raw) >= 40 else None
        self.flags = struct.unpack_from('<I', raw, 4)[0] if len(raw) >= 8 else 0
        self.family = MAGICS.get(self.magic)
        self.zeroed = not raw.strip(b'\0')

    @property
    def needs_check(self):
        bit = NEEDS_CHECK_BITS.get(self.family)
        return bool(self.flags & bit) if bit else None

    def describe(self):
        if self.family:
            return '%s metadata' % self.family
        if self.short:
            return '%d bytes, shorter than one %d-byte metadata block' % (len(self.raw), SUPERBLOCK_SIZE)
        if self.zeroed:
            return 'a zeroed superblock block'
        return 'no thin, cache or era superblock magic (found %#x)' % (self.magic or 0)


def path_kind(path, role='path'):
    """``file``, ``block`` or ``missing``; anything else fails naming what it is."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return 'missing'
        raise DmpdError('%s %s cannot be read: %s' % (role, path, exc.strerror))
    if stat.S_ISREG(mode):
        return 'file'
    if stat.S_ISBLK(mode):
        return 'block'
    what = 'a directory' if stat.S_ISDIR(mode) else 'neither a regular file nor a block device'
    raise DmpdError('%s %s is %s; expected a metadata block device or file' % (role, path, what))


def require_existing(path, role='path'):
    kind = path_kind(path, role)
    if kind == 'missing':
        raise DmpdError('%s %s does not exist; expected a metadata block device or file' % (role, path))
    return kind


def _read_direct(path, size):
    """The first ``size`` bytes of a block device read with O_DIRECT: what the device holds now.

    The kernel's own metadata writes (a live pool's, through bios) do not pass the block
    device's page cache, so a buffered read can return what a probe cached before them (udev's
    blkid reads a new loop device's first blocks at once: zeros). The tools read with O_DIRECT
    too. None when O_DIRECT is not possible here."""
    direct = getattr(os, 'O_DIRECT', 0)
    if not direct:
        return None
    length = max(DIRECT_ALIGN, -(-size // DIRECT_ALIGN) * DIRECT_ALIGN)
    try:
        fd = os.open(path, os.O_RDONLY | direct)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return None
        raise
    buf = mmap.mmap(-1, length)   # page-aligned, as O_DIRECT wants
    try:
        try:
            got = os.readv(fd, [buf])
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                return None
            raise
        return buf[:min(got, size)]
    finally:
        buf.close()
        os.close(fd)


def read_head(path, size=SUPERBLOCK_SIZE):
    try:
        if stat.S_ISBLK(os.stat(path).st_mode):
            head = _read_direct(path, size)
            if head is not None:
                return head
        with open(path, 'rb') as handle:
            return handle.read(size)
    except (IOError, OSError) as exc:
        raise DmpdError('cannot read %s: %s' % (path, exc.strerror or exc))


def read_superblock(path):
    return Superblock(read_head(path))


def looks_like_xml(head):
    return head.lstrip()[:1] == b'<'


def require_binary(path, role='path'):
    """Fail when ``path`` holds an XML dump where binary metadata is expected."""
    sb = read_superblock(path)
    if not sb.family and looks_like_xml(sb.raw):
        raise DmpdError('%s %s holds XML (a metadata dump), not binary metadata; turn it into '
                        'binary metadata with sts.devicemapper.dmpd_restore first' % (role, path))
    return sb


def xml_superblock(path):
    """The family and attributes of the first element of an XML dump, read as a stream."""
    # Imported here: only restore reads XML, and every dmpd module would pay for the import at start.
    from xml.etree import ElementTree
    if not looks_like_xml(read_head(path, 512)):
        raise DmpdError('src %s is not an XML metadata dump (it does not start with an XML element); '
                        'binary metadata is repaired with sts.devicemapper.dmpd_repair, not restored'
                        % path)
    try:
        for _event, elem in ElementTree.iterparse(path, events=('start',)):
            attrs = dict(elem.attrib)
            break
        else:
            attrs = None
    except ElementTree.ParseError as exc:
        raise DmpdError('src %s is not well-formed XML: %s' % (path, exc))
    if attrs is None or elem.tag != 'superblock':
        raise DmpdError('src %s does not start with a <superblock> element; expected a thin_dump, '
                        'cache_dump or era_dump XML file' % path)
    if 'data_block_size' in attrs or 'nr_data_blocks' in attrs:
        family = 'thin'
    elif 'nr_cache_blocks' in attrs or 'policy' in attrs:
        family = 'cache'
    elif 'current_era' in attrs or 'nr_blocks' in attrs:
        family = 'era'
    else:
        raise DmpdError('src %s: cannot tell the metadata family from its superblock attributes %s; '
                        'give family' % (path, sorted(attrs)))
    return family, attrs


def device_size(path):
    """Size in bytes of a file or block device."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def _sysfs_holders(sysfs_dir):
    names = []
    holders_dir = os.path.join(sysfs_dir, 'holders')
    for holder in sorted(os.listdir(holders_dir)) if os.path.isdir(holders_dir) else []:
        name_file = os.path.join(SYS_BLOCK, holder, 'dm', 'name')
        try:
            with open(name_file) as handle:
                names.append(handle.read().strip())
        except (IOError, OSError):
            names.append(holder)
    return names


def holders(path):
    """Device-mapper devices that hold ``path``: the block device itself, or the loop
    device backing a regular file. An empty list means nothing active uses it."""
    kind = path_kind(path)
    if kind == 'block':
        rdev = os.stat(path).st_rdev
        return _sysfs_holders(os.path.join(SYS_DEV_BLOCK, '%d:%d' % (os.major(rdev), os.minor(rdev))))
    if kind != 'file':
        return []
    real = os.path.realpath(path)
    found = []
    for dev in sorted(os.listdir(SYS_BLOCK)) if os.path.isdir(SYS_BLOCK) else []:
        backing = os.path.join(SYS_BLOCK, dev, 'loop', 'backing_file')
        try:
            with open(backing) as handle:
                if os.path.realpath(handle.read().strip()) != real:
                    continue
        except (IOError, OSError):
            continue
        found.extend(_sysfs_holders(os.path.join(SYS_BLOCK, dev)))
    return found


def refuse_if_held(path, role, why):
    names = holders(path)
    if names:
        raise DmpdError('%s %s is in use by active device-mapper device(s) %s; %s'
                        % (role, path, ', '.join(names), why), holders=names)


def is_empty(path, kind, probe=1024 * 1024):
    """True when ``path`` holds no data worth keeping: a sparse file with no data
    extent, or an all-zero first MiB."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if kind == 'file' and hasattr(os, 'SEEK_DATA'):
            try:
                os.lseek(fd, 0, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    return True
        chunk = os.read(fd, probe)
        return not chunk.strip(b'\0')
    finally:
        os.close(fd)


def sha256_file(path, chunk=1024 * 1024):
    """Digest of a file read in chunks, so a large dump never sits in memory."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def create_sparse(path, size, mode=0o600):
    """Create ``path`` as a sparse file of ``size`` bytes, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
