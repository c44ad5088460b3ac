# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Size units at the edge: users write ``64KiB`` or ``1G``, the code speaks sectors."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

SECTOR = 512

# Both the SI-looking and the binary spellings mean powers of 1024, as in dmsetup,
# lvm and the dmpd tools; a bare number or an "s" suffix means 512-byte sectors.
_FACTORS = {
    '': SECTOR, 's': SECTOR,
    'b': 1,
    'k': 1024, 'kb': 1024, 'kib': 1024,
    'm': 1024 ** 2, 'mb': 1024 ** 2, 'mib': 1024 ** 2,
    'g': 1024 ** 3, 'gb': 1024 ** 3, 'gib': 1024 ** 3,
    't': 1024 ** 4, 'tb': 1024 ** 4, 'tib': 1024 ** 4,
    'p': 1024 ** 5, 'pb': 1024 ** 5, 'pib': 1024 ** 5,
}
_SIZE_RE = re.compile(r'^\s*(\d+)\s*([a-zA-Z]*)\s*$')


class SizeError(ValueError):
    """A size that cannot be read; the message names the value and the forms accepted."""


def to_bytes(value, what='size'):
    """Return ``value`` (int sectors, or a string such as ``"64KiB"``) in bytes."""
    if isinstance(value, bool):
        raise SizeError('%s: %r is not a size; expected sectors (e.g. 128) or a number with '
                        'a unit (e.g. 64KiB, 1G)' % (what, value))
    if isinstance(value, int):
        if value < 0:
            raise SizeError('%s: %d is negative; expected a size >= 0' % (what, value))
        return value * SECTOR
    match = _SIZE_RE.match(str(value))
    if not match or match.group(2).lower() not in _FACTORS:
        raise SizeError('%s: %r is not a size; expected sectors (e.g. 128 or 128s), bytes '
                        '(e.g. 4096b) or a number with a binary unit (K, KiB, M, MiB, G, GiB, '
                        'T, TiB)' % (what, value))
    return int(match.group(1)) * _FACTORS[match.group(2).lower()]


def to_sectors(value, what='size'):
    """Return ``value`` in 512-byte sectors; a size that is not a whole number of sectors fails."""
    nbytes = to_bytes(value, what)
    if nbytes % SECTOR:
        raise SizeError('%s: %r is %d bytes, not a whole number of 512-byte sectors'
                        % (what, value, nbytes))
    return nbytes // SECTOR
