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
# A fraction is read exactly (no float) and only with K/M/G/T/P: half a sector
# or a byte is never meant, and 1.1K (1126.4 bytes) is refused, not rounded.
_FACTORS = {
    '': SECTOR, 's': SECTOR,
    'b': 1,
    'k': 1024, 'kb': 1024, 'kib': 1024,
    'm': 1024 ** 2, 'mb': 1024 ** 2, 'mib': 1024 ** 2,
    'g': 1024 ** 3, 'gb': 1024 ** 3, 'gib': 1024 ** 3,
    't': 1024 ** 4, 'tb': 1024 ** 4, 'tib': 1024 ** 4,
    'p': 1024 ** 5, 'pb': 1024 ** 5, 'pib': 1024 ** 5,
}
_SIZE_RE = re.compile(r'^\s*(\d+)(?:\.(\d+))?\s*([a-zA-Z]*)\s*$')
_EXPECTED = ('expected sectors (e.g. 128 or 128s), bytes (e.g. 4096b) or a number with a binary '
             'unit, a fraction allowed (K, KiB, M, MiB, G, GiB, T, TiB, P, PiB; e.g. 64KiB, 1.5G)')


class SizeError(ValueError):
    """A size that cannot be read; the message names the value and the forms accepted."""


def to_bytes(value, what='size'):
    """Return ``value`` (int sectors, or a string such as ``"64KiB"``) in bytes."""
    if isinstance(value, bool):
        raise SizeError('%s: %r is not a size; %s' % (what, value, _EXPECTED))
    if isinstance(value, int):
        if value < 0:
            raise SizeError('%s: %d is negative; expected a size >= 0' % (what, value))
        return value * SECTOR
    match = _SIZE_RE.match(str(value))
    if not match or match.group(3).lower() not in _FACTORS:
        raise SizeError('%s: %r is not a size; %s' % (what, value, _EXPECTED))
    whole, fraction, unit = match.group(1), match.group(2), match.group(3).lower()
    factor = _FACTORS[unit]
    if fraction is None:
        return int(whole) * factor
    if factor <= SECTOR:
        raise SizeError('%s: %r has a fraction of a %s; a fraction needs a unit of K or more, %s'
                        % (what, value, 'byte' if factor == 1 else 'sector', _EXPECTED))
    scaled = int(whole + fraction) * factor
    nbytes, rest = divmod(scaled, 10 ** len(fraction))
    if rest:
        raise SizeError('%s: %r is not a whole number of bytes; %s' % (what, value, _EXPECTED))
    return nbytes


def to_sectors(value, what='size'):
    """Return ``value`` in 512-byte sectors; a size that is not a whole number of sectors fails."""
    nbytes = to_bytes(value, what)
    if nbytes % SECTOR:
        raise SizeError('%s: %r is %d bytes, not a whole number of 512-byte sectors'
                        % (what, value, nbytes))
    return nbytes // SECTOR
