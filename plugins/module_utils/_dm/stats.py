# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""I/O statistics of dm devices: the kernel's ``@stats_*`` messages (dm-stats), parsed and planned.

The kernel keeps counters for user-defined regions of a device (a sector range cut into areas of
``step`` sectors, optionally with a latency histogram) once a region is created with the
``@stats_create`` message; ``@stats_list`` names the regions, ``@stats_print`` prints one line of
counters per area, ``@stats_print_clear`` prints and zeroes them at once, ``@stats_delete`` drops a
region. Everything goes through ``Dmsetup.message`` (argv lists, ``--`` before the device name).

- ``parse_list(text)``: the ``@stats_list`` answer -> one dict per region.
- ``parse_print(text, region=None)``: the ``@stats_print`` answer -> one dict per area, the
  counters named (``COUNTERS``) and the histogram counts.
- ``totals(areas)`` / ``buckets(bounds, counts)``: a region's counters summed, its histogram with
  the bounds of every bucket.
- ``RegionSpec.from_params(params, device_sectors)``: the region a task asks for, validated (every
  refusal names the value); ``words()`` are its ``@stats_create`` message, ``same(region)`` says
  whether a listed region has exactly its parameters.
- ``Stats(dmsetup, name)``: the messages of one device; ``device_stats(dmsetup, name, program_id)``
  is every region of a device with its counters, in 1 + one per region messages (what dm_info can
  show; ``_dm.stats_runner.StatsRunner`` is the dm_stats module).

A region is ours by its program id (``PROGRAM_ID`` unless the task gives one) and, among ours,
known by its aux data: the kernel keeps both words and echoes them in ``@stats_list``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.dmsetup import build_argv
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._units import SizeError, to_sectors

PROGRAM_ID = 'sts-devicemapper'
NONE_WORD = '-'   # what the kernel keeps and prints for a program id or aux data not given

# The counters of one area, in the order @stats_print prints them (the kernel's statistics.rst):
# the 11 of /proc/diskstats, then the time spent reading and writing. Times are in milliseconds,
# or nanoseconds for a region made with precise_timestamps.
COUNTERS = (
    'reads',            # reads completed
    'reads_merged',     # reads merged
    'sectors_read',
    'read_time',        # time all reads took, summed
    'writes',           # writes completed
    'writes_merged',
    'sectors_written',
    'write_time',       # time all writes took, summed
    'in_flight',        # I/Os in progress now (never cleared)
    'io_ticks',         # time the area had I/O in progress
    'time_in_queue',    # the same weighted by the number in progress
    'read_ticks',       # time reads were in progress
    'write_ticks',      # time writes were in progress
)
# what a clear leaves as it was
NOT_CLEARED = ('in_flight',)

# program id and aux data: one word the kernel stores as it is (no spaces, no backslash, which
# the kernel's argument splitting would read as an escape)
_WORD_RE = re.compile(r'\A[A-Za-z0-9#+\-.:=@_,/%]{1,128}\Z')
_LIST_RE = re.compile(r'\A(\d+): (\d+)\+(\d+) (\d+) (\S+) (\S+)((?: \S+)*)\Z')
_AREA_RE = re.compile(r'\A(\d+)\+(\d+)((?: \d+){13})(?: (\d+(?::\d+)*))?\Z')
MAX_BOUNDS = 1024


def _ceil_div(a, b):
    return -(-a // b)


def parse_list(text):
    """``@stats_list`` -> ``[{region_id, start, length, area_size, area_count, program_id, aux_data,
    precise_timestamps, time_unit, histogram_bounds}]`` sorted by region id; a program id or aux data
    the kernel shows as ``-`` is None."""
    regions = []
    for line in (text or '').splitlines():
        line = line.strip()
        if not line:
            continue
        match = _LIST_RE.match(line)
        if not match:
            raise DmError('@stats_list line %r: expected "ID: START+LENGTH STEP PROGRAM_ID AUX_DATA [precise_timestamps] '
                          '[histogram:B1,B2,...]"' % line)
        region_id, start, length, step = (int(match.group(i)) for i in range(1, 5))
        precise, bounds = False, []
        for word in match.group(7).split():
            if word == 'precise_timestamps':
                precise = True
            elif word.startswith('histogram:'):
                bounds = [int(b) for b in word[len('histogram:'):].split(',')]
            else:
                raise DmError('@stats_list line %r: unknown word %r; expected precise_timestamps or histogram:...'
                              % (line, word))
        regions.append({
            'region_id': region_id, 'start': start, 'length': length, 'area_size': step,
            'area_count': _ceil_div(length, step) if step else 0,
            'program_id': None if match.group(5) == NONE_WORD else match.group(5),
            'aux_data': None if match.group(6) == NONE_WORD else match.group(6),
            'precise_timestamps': precise, 'time_unit': 'ns' if precise else 'ms', 'histogram_bounds': bounds,
        })
    return sorted(regions, key=lambda r: r['region_id'])


def parse_print(text, region=None):
    """``@stats_print`` -> one dict per area: ``start``, ``length`` and the ``COUNTERS``, with
    ``histogram`` (the count of each bucket) when the region has one. The kernel prints the area
    size as every area's length; given the ``region`` (from parse_list) the last area's length is
    cut at the region's end and the number of histogram buckets is checked."""
    areas = []
    for line in (text or '').splitlines():
        line = line.strip()
        if not line:
            continue
        match = _AREA_RE.match(line)
        if not match:
            raise DmError('@stats_print line %r: expected "START+LENGTH" and %d counters, then the histogram '
                          'counts joined by ":" when the region has one' % (line, len(COUNTERS)))
        start, length = int(match.group(1)), int(match.group(2))
        if region is not None:
            length = max(0, min(length, region['start'] + region['length'] - start))
        area = {'start': start, 'length': length}
        area.update(zip(COUNTERS, (int(w) for w in match.group(3).split())))
        if match.group(4) is not None:
            area['histogram'] = [int(c) for c in match.group(4).split(':')]
        if region is not None:
            wanted = len(region['histogram_bounds']) + 1 if region['histogram_bounds'] else 0
            got = len(area.get('histogram', []))
            if got != wanted:
                raise DmError('@stats_print line %r: %d histogram counts; expected %d for region %d (bounds %s)'
                              % (line, got, wanted, region['region_id'],
                                 ','.join(str(b) for b in region['histogram_bounds']) or 'none'))
        areas.append(area)
    return areas


def totals(areas):
    """The counters of a region: its areas' summed (a dict of ``COUNTERS``)."""
    return dict((key, sum(area[key] for area in areas)) for key in COUNTERS)


def buckets(bounds, counts):
    """``[{lower, upper, count}]``: bucket i holds the I/Os that took from ``lower`` up to (not
    including) ``upper``; the last has no upper bound (None)."""
    if not bounds:
        return []
    lowers = [0] + list(bounds)
    uppers = list(bounds) + [None]
    return [{'lower': lo, 'upper': hi, 'count': count} for lo, hi, count in zip(lowers, uppers, counts)]


def histogram_counts(areas):
    """The histogram counts of a region: its areas' summed bucket by bucket."""
    counts = []
    for area in areas:
        for i, count in enumerate(area.get('histogram', [])):
            if i == len(counts):
                counts.append(0)
            counts[i] += count
    return counts


def with_counters(region, areas):
    """``region`` (from parse_list) with ``counters``, ``histogram`` (buckets) and ``areas``."""
    out = dict(region)
    out['counters'] = totals(areas)
    out['histogram'] = buckets(region['histogram_bounds'], histogram_counts(areas))
    out['areas'] = areas
    return out


def counting(counters):
    """Whether a region's counters hold anything a clear would zero."""
    return any(value for key, value in counters.items() if key not in NOT_CLEARED)


def describe(region):
    """One line of a region for a diff."""
    region_id = region.get('region_id')
    words = ['region %s:' % ('(new)' if region_id is None else region_id), 'sectors %d+%d,' % (region['start'], region['length']),
             'area size %d (%d area%s),' % (region['area_size'], region['area_count'],
                                            '' if region['area_count'] == 1 else 's'),
             'program_id %s,' % (region['program_id'] or NONE_WORD), 'aux_data %s' % (region['aux_data'] or NONE_WORD)]
    if region['precise_timestamps']:
        words[-1] += ','
        words.append('precise_timestamps')
    if region['histogram_bounds']:
        words[-1] += ','
        words.append('histogram %s %s' % (','.join(str(b) for b in region['histogram_bounds']), region['time_unit']))
    return ' '.join(words)


def validate_word(value, what):
    """A program id or aux data: one word the kernel keeps as it is."""
    if not isinstance(value, str) or not _WORD_RE.match(value):
        raise DmError('%s %r: expected 1 to 128 letters, digits or # + - . : = @ _ , / %% (one word: no spaces, '
                      'no backslash)' % (what, value))
    if value == NONE_WORD:
        raise DmError('%s %r: the kernel shows "-" for a region without one; expected a word of your own' % (what, value))
    return value


def _sectors(value, what):
    if isinstance(value, str) and value.strip().startswith('-'):
        raise DmError('%s %r: negative; expected a whole number of sectors >= 0, or a size such as 1M' % (what, value))
    try:
        return to_sectors(value, what)
    except SizeError as exc:
        raise DmError(str(exc))


def _whole(value, what, low):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise DmError('%s %r: expected a whole number >= %d' % (what, value, low))
    if value < low:
        raise DmError('%s %r: expected a whole number >= %d' % (what, value, low))
    return value


class RegionSpec(object):
    """The region a task asks for: ``start``, ``length``, ``area_size`` (the kernel's step) in
    sectors, ``precise_timestamps``, ``histogram_bounds`` (ms, or ns with precise timestamps),
    ``program_id`` and ``aux_data``."""

    def __init__(self, start, length, area_size, precise_timestamps=False, histogram_bounds=None,
                 program_id=PROGRAM_ID, aux_data=None):
        self.start = start
        self.length = length
        self.area_size = area_size
        self.precise_timestamps = bool(precise_timestamps)
        self.histogram_bounds = list(histogram_bounds or [])
        self.program_id = program_id
        self.aux_data = aux_data

    @classmethod
    def identity(cls, params):
        """(program_id, aux_data) of the task, validated: what names a region of ours."""
        program_id = validate_word(params.get('program_id') or PROGRAM_ID, 'program_id')
        aux = params.get('aux_data')
        return program_id, (validate_word(aux, 'aux_data') if aux is not None else None)

    @classmethod
    def from_params(cls, params, device_sectors, name='device'):
        """The task's region on a device of ``device_sectors`` sectors; DmError naming the value when
        it cannot be one: a range outside the device, an area size or count out of range, histogram
        bounds not increasing."""
        program_id, aux = cls.identity(params)
        start = _sectors(params['start'], 'start') if params.get('start') is not None else 0
        if start >= device_sectors:
            raise DmError('start %r: sector %d; expected a sector within device %s (%d sectors: 0 to %d)'
                          % (params.get('start'), start, name, device_sectors, device_sectors - 1))
        if params.get('length') is not None:
            length = _sectors(params['length'], 'length')
            if length == 0:
                raise DmError('length %r: 0 sectors; expected a region of 1 sector or more' % (params['length'],))
            if start + length > device_sectors:
                raise DmError('length %r: sectors %d to %d; expected a range within device %s (%d sectors), i.e. a '
                              'length of at most %d from sector %d' % (params['length'], start, start + length - 1, name,
                                                                       device_sectors, device_sectors - start, start))
        else:
            length = device_sectors - start
        if params.get('area_size') is not None and params.get('areas') is not None:
            raise DmError('area_size %r and areas %r: expected one of them' % (params['area_size'], params['areas']))
        if params.get('area_size') is not None:
            step = _sectors(params['area_size'], 'area_size')
            if not 0 < step <= length:
                raise DmError('area_size %r: %d sectors; expected 1 to %d sectors (the region\'s length)'
                              % (params['area_size'], step, length))
        else:
            areas = _whole(params['areas'], 'areas', 1) if params.get('areas') is not None else 1
            if areas > length:
                raise DmError('areas %d: more than the region\'s %d sectors; expected 1 to %d' % (areas, length, length))
            # the kernel's own rounding of "/N": the step is the length divided by N, rounded up
            step = max(1, _ceil_div(length, areas))
        bounds = params.get('histogram') or []
        if not isinstance(bounds, list):
            raise DmError('histogram %r: expected a list of bounds (whole numbers, increasing)' % (bounds,))
        if len(bounds) > MAX_BOUNDS:
            raise DmError('histogram: %d bounds; expected at most %d' % (len(bounds), MAX_BOUNDS))
        unit = 'ns' if params.get('precise_timestamps') else 'ms'
        checked = []
        for bound in bounds:
            value = _whole(bound, 'histogram bound (%s)' % unit, 1)
            if checked and value <= checked[-1]:
                raise DmError('histogram bounds %s: %d does not follow %d; expected bounds that increase'
                              % (','.join(str(b) for b in bounds), value, checked[-1]))
            checked.append(value)
        return cls(start, length, step, params.get('precise_timestamps'), checked, program_id, aux)

    def words(self):
        """The ``@stats_create`` message. The number of optional arguments is always given, so a
        program id that is a number is not read as one."""
        options = (['precise_timestamps'] if self.precise_timestamps else []) + \
            (['histogram:' + ','.join(str(b) for b in self.histogram_bounds)] if self.histogram_bounds else [])
        words = ['@stats_create', '%d+%d' % (self.start, self.length), str(self.area_size), str(len(options))]
        words += options + [self.program_id]
        if self.aux_data is not None:
            words.append(self.aux_data)
        return words

    def ours(self, region):
        """Whether a listed region has this task's program id and aux data."""
        return region['program_id'] == self.program_id and region['aux_data'] == self.aux_data

    def same(self, region):
        """Whether a listed region is exactly this one."""
        return self.ours(region) and region['start'] == self.start and region['length'] == self.length and \
            region['area_size'] == self.area_size and region['precise_timestamps'] == self.precise_timestamps and \
            region['histogram_bounds'] == self.histogram_bounds

    def planned(self):
        """What parse_list would show of this region once created (no region id yet)."""
        return {'region_id': None, 'start': self.start, 'length': self.length, 'area_size': self.area_size,
                'area_count': _ceil_div(self.length, self.area_size), 'program_id': self.program_id,
                'aux_data': self.aux_data, 'precise_timestamps': self.precise_timestamps,
                'time_unit': 'ns' if self.precise_timestamps else 'ms', 'histogram_bounds': list(self.histogram_bounds)}


class Stats(object):
    """The statistics messages of one device, through a ``_dm.dmsetup.Dmsetup``. Reads (list, print) are
    not listed among the commands that changed something; create, delete and clears are."""

    def __init__(self, dmsetup, name):
        self.dmsetup = dmsetup
        self.name = name

    def _send(self, words, record):
        argv = build_argv('message', self.name, words=words, sector=0)
        rc, out, err = self.dmsetup.run(argv, record=record)
        if rc != 0:
            raise self.dmsetup.error('message', self.name, rc, out, err, prefix='device %s: %s refused: '
                                     % (self.name, ' '.join(words)))
        return out

    def regions(self, program_id=None):
        """The regions of the device (of ``program_id`` only, when given)."""
        return parse_list(self._send(['@stats_list'] + ([program_id] if program_id else []), record=False))

    def areas(self, region, clear=False):
        """The areas of a listed region with their counters; ``clear``: zeroed at once as they are read."""
        words = ['@stats_print_clear' if clear else '@stats_print', str(region['region_id'])]
        return parse_print(self._send(words, record=clear), region)

    def read(self, region):
        return with_counters(region, self.areas(region))

    def create(self, spec):
        """Create the region; returns its id (the kernel's answer)."""
        out = self._send(spec.words(), record=True).strip()
        if not out.isdigit():
            raise DmError('device %s: @stats_create answered %r; expected a region id' % (self.name, out))
        return int(out)

    def delete(self, region_id):
        self._send(['@stats_delete', str(region_id)], record=True)


def device_stats(dmsetup, name, program_id=None):
    """Every region of device ``name`` (of ``program_id`` only, when given), each with its counters,
    histogram and areas: one ``@stats_list`` and one ``@stats_print`` per region. A region deleted
    between the two is left out."""
    stats = Stats(dmsetup, name)
    out = []
    for region in stats.regions(program_id):
        try:
            out.append(stats.read(region))
        except DmError as exc:
            if 'No such file or directory' not in (exc.details.get('stderr') or ''):
                raise
    return out
