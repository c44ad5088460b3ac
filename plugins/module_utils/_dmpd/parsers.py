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

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import DmpdError
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
    # Imported here, as in _dmpd.metadata: every dmpd module would pay for it at start.
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


def parse_era_invalidate(stdout):
    """``era_invalidate`` XML as a sorted list of ``[begin, end)`` block ranges.

    Both generations write ``<range begin= end=/>`` and ``<block block=/>`` inside
    ``<blocks>`` (0.9 spells ``end = "4"``, which is still XML); a single block
    becomes ``[block, block + 1]``.
    """
    from xml.etree import ElementTree
    try:
        root = ElementTree.fromstring(stdout)
    except ElementTree.ParseError as exc:
        raise DmpdError('era_invalidate printed something that is not XML (%s): %r' % (exc, stdout[:200]))
    if root.tag != 'blocks':
        raise DmpdError('era_invalidate output starts with <%s>; expected <blocks>: %r' % (root.tag, stdout[:200]))
    ranges = []
    for node in root:
        if node.tag == 'range':
            begin, end = (_xml_int('era_invalidate', node, 'begin'), _xml_int('era_invalidate', node, 'end'))
        elif node.tag == 'block':
            begin = _xml_int('era_invalidate', node, 'block')
            end = begin + 1
        else:
            raise DmpdError('era_invalidate output has an unexpected <%s> element; expected <range> or <block>'
                            % node.tag)
        if end <= begin:
            raise DmpdError('era_invalidate output has an empty range [%d, %d); expected begin < end'
                            % (begin, end))
        ranges.append([begin, end])
    return sorted(ranges)


def _xml_int(tool, node, name):
    text = node.get(name)
    if text is None or not text.strip().isdigit():
        raise DmpdError('%s output: <%s> has %s=%r; expected a whole number >= 0' % (tool, node.tag, name, text))
    return int(text)


def parse_era_dump(source):
    """``era_dump`` XML as ``dict(block_size, nr_blocks, current_era, writesets, blocks_per_era)``.

    ``source`` is the XML as text or bytes, or a file opened in binary mode (an
    ``era_dump -o FILE`` of a big device): it is read as a stream and each
    ``<bit>`` / ``<era>`` element is dropped once counted. ``writesets`` lists
    ``dict(era, nr_bits, ranges)`` with the ``[begin, end)`` ranges of set bits;
    ``blocks_per_era`` maps an era to the number of blocks the era array gives it
    (with ``--logical`` the writesets are already folded in). ``block_size`` is in
    sectors.
    """
    from xml.etree import ElementTree
    if isinstance(source, (bytes, str)):
        import io
        source = io.BytesIO(source.encode('utf-8') if isinstance(source, str) else source)
    result = dict(block_size=None, nr_blocks=None, current_era=None, writesets=[], blocks_per_era={})
    counts = result['blocks_per_era']
    writeset = container = None
    seen_blocks = 0
    try:
        for event, node in ElementTree.iterparse(source, events=('start', 'end')):
            if event == 'start':
                if node.tag == 'superblock':
                    for key in ('block_size', 'nr_blocks', 'current_era'):
                        result[key] = _xml_int('era_dump', node, key)
                elif result['nr_blocks'] is None:
                    raise DmpdError('era_dump output starts with <%s>; expected <superblock>' % node.tag)
                elif node.tag == 'writeset':
                    writeset = dict(era=_xml_int('era_dump', node, 'era'),
                                    nr_bits=_xml_int('era_dump', node, 'nr_bits'), ranges=[])
                    result['writesets'].append(writeset)
                    container = node
                elif node.tag == 'era_array':
                    container = node
                elif node.tag not in ('bit', 'era'):
                    raise DmpdError('era_dump output has an unexpected <%s> element; expected <writeset>, '
                                    '<bit>, <era_array> or <era>' % node.tag)
                continue
            if node.tag == 'bit':
                if writeset is None:
                    raise DmpdError('era_dump output has a <bit> outside a <writeset>')
                value = node.get('value')
                if value not in ('true', 'false'):
                    raise DmpdError('era_dump output: <bit> has value=%r; expected true or false' % (value,))
                if value == 'true':
                    _add_block(writeset['ranges'], _xml_int('era_dump', node, 'block'))
                del container[:]
            elif node.tag == 'era':
                if container is None or container.tag != 'era_array':
                    raise DmpdError('era_dump output has an <era> outside the <era_array>')
                era = _xml_int('era_dump', node, 'era')
                _xml_int('era_dump', node, 'block')
                counts[era] = counts.get(era, 0) + 1
                seen_blocks += 1
                del container[:]
            elif node.tag == 'writeset':
                writeset['ranges'] = _merge(writeset['ranges'])
                writeset = container = None
    except ElementTree.ParseError as exc:
        raise DmpdError('era_dump output is not complete XML (%s)' % exc)
    nr_blocks = result['nr_blocks']
    if nr_blocks is None:
        raise DmpdError('era_dump output has no <superblock>')
    if seen_blocks != nr_blocks:
        raise DmpdError('era_dump output has %d blocks in its era array; the superblock says nr_blocks=%s'
                        % (seen_blocks, nr_blocks))
    return result


def parse_thin_devices(source):
    """The thin devices of a ``thin_dump`` XML (text or bytes; ``--skip-mappings`` is enough) as
    ``{dev_id: mapped_blocks}``. What a repair kept: a repair that lost a device's tree leaves it
    out, or with fewer mapped blocks, and still exits 0 (seen with thin_repair 0.9.0)."""
    from xml.etree import ElementTree
    import io
    if isinstance(source, str):
        source = source.encode('utf-8')
    devices, seen_superblock = {}, False
    try:
        for _event, node in ElementTree.iterparse(io.BytesIO(source), events=('start',)):
            if node.tag == 'superblock':
                seen_superblock = True
            elif not seen_superblock:
                raise DmpdError('thin_dump output starts with <%s>; expected <superblock>' % node.tag)
            elif node.tag == 'device':
                dev_id = _xml_int('thin_dump', node, 'dev_id')
                if dev_id in devices:
                    raise DmpdError('thin_dump output has device %d twice' % dev_id)
                devices[dev_id] = _xml_int('thin_dump', node, 'mapped_blocks')
    except ElementTree.ParseError as exc:
        raise DmpdError('thin_dump output is not complete XML (%s)' % exc)
    if not seen_superblock:
        raise DmpdError('thin_dump output has no <superblock>')
    return devices


def _add_block(ranges, block):
    if ranges and ranges[-1][1] == block:
        ranges[-1][1] = block + 1
    else:
        ranges.append([block, block + 1])


def _merge(ranges):
    merged = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return merged
