# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers of what the persistent-data tools print, for both tool generations.

They are unit-tested on output captured from the real tools (0.9.x and 1.x).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import re

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd_tools import DmpdError
from ansible_collections.sts.devicemapper.plugins.module_utils._units import SECTOR

# Lines a checker prints to show progress, not findings. 0.9 says
# "examining superblock" / "checking space map counts"; 1.x names the structure.
_PROGRESS_RE = re.compile(
    r'^(examining [a-z ]+|checking space map counts|'
    r'Checking (thin|cache|era) metadata|device details tree|mapping tree|'
    r'data space map|metadata space map|Scanning data mappings)$')
_KEY_VALUE_RE = re.compile(r'^([A-Z_]+)=(\S+)$')


def parse_check(stdout, stderr):
    """Split a checker's output into its key values and its findings.

    Returns ``dict(transaction_id, metadata_free_blocks, findings)``; the first two
    are None when the tool did not print them (cache and era checkers never do).
    """
    values = {}
    findings = []
    for line in (stdout or '').splitlines() + (stderr or '').splitlines():
        text = line.strip()
        if not text or _PROGRESS_RE.match(text):
            continue
        match = _KEY_VALUE_RE.match(text)
        if match:
            values[match.group(1)] = match.group(2)
            continue
        findings.append(text)
    return dict(
        transaction_id=_int_or_none(values.get('TRANSACTION_ID')),
        metadata_free_blocks=_int_or_none(values.get('METADATA_FREE_BLOCKS')),
        findings=findings,
    )


def _int_or_none(text):
    return int(text) if text is not None and text.isdigit() else None


THIN_LS_FIELDS = (
    'DEV', 'MAPPED_BLOCKS', 'EXCLUSIVE_BLOCKS', 'SHARED_BLOCKS', 'MAPPED_SECTORS',
    'EXCLUSIVE_SECTORS', 'SHARED_SECTORS', 'MAPPED_BYTES', 'EXCLUSIVE_BYTES', 'SHARED_BYTES',
    'MAPPED', 'EXCLUSIVE', 'SHARED', 'TRANSACTION', 'CREATE_TIME', 'SNAP_TIME',
)
# Fields printed in human units ("670MiB"); every other field is a whole number.
_THIN_LS_HUMAN = ('MAPPED', 'EXCLUSIVE', 'SHARED')


def parse_thin_ls(stdout, fields):
    """Rows of ``thin_ls --no-headers -o FIELDS`` as dicts keyed by lower-case field names."""
    rows = []
    for line in (stdout or '').splitlines():
        cols = line.split()
        if not cols:
            continue
        if len(cols) != len(fields):
            raise DmpdError('thin_ls printed %d columns where %d fields (%s) were asked for: %r'
                            % (len(cols), len(fields), ','.join(fields), line))
        row = {}
        for name, value in zip(fields, cols):
            row[name.lower()] = value if name in _THIN_LS_HUMAN else int(value)
        rows.append(row)
    return rows


def parse_thin_delta(stdout):
    """``thin_delta`` XML as ``dict(left, right, ranges=[{type, begin, length}])``.

    Begin and length are in data blocks of the pool, as the tool reports them.
    """
    # Imported here, as in _dmpd_metadata: every dmpd module would pay for it at start.
    from xml.etree import ElementTree
    try:
        root = ElementTree.fromstring(stdout)
    except ElementTree.ParseError as exc:
        raise DmpdError('thin_delta printed something that is not XML (%s): %r' % (exc, stdout[:200]))
    diff = root.find('diff')
    if diff is None:
        raise DmpdError('thin_delta output has no <diff> element: %r' % stdout[:200])
    ranges = []
    for node in diff:
        ranges.append(dict(type=node.tag, begin=int(node.get('begin')), length=int(node.get('length'))))
    return dict(left=int(diff.get('left')), right=int(diff.get('right')),
                data_block_size=_int_or_none(root.get('data_block_size')), ranges=ranges)


_WITH_UNIT_RE = re.compile(r'(\d+(?:\.\d+)?)\s*(sectors?|bytes?)\b')
_BARE_RE = re.compile(r'^(\d+(?:\.\d+)?)$')


def parse_metadata_size(stdout, unit):
    """The size a ``*_metadata_size`` tool printed, as ``dict(bytes, sectors)``.

    ``unit`` (``b`` bytes or ``s`` sectors) is what a bare number is in. 0.9 prints a
    sentence or ``N sectors``, 1.x a bare number (``-n``) or ``N.NN sectors``; a
    fraction rounds up, since a metadata device cannot be smaller than the estimate.
    """
    text = (stdout or '').strip()
    match = _WITH_UNIT_RE.search(text)
    if match:
        number, in_sectors = float(match.group(1)), match.group(2).startswith('sector')
    else:
        match = _BARE_RE.match(text)
        if not match:
            raise DmpdError('cannot read a metadata size from %r; expected a number of '
                            'bytes or sectors' % text)
        number, in_sectors = float(match.group(1)), unit == 's'
    nbytes = int(math.ceil(number * SECTOR)) if in_sectors else int(math.ceil(number))
    return dict(bytes=nbytes, sectors=int(math.ceil(nbytes / float(SECTOR))))
