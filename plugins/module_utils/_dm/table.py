# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model layer: a device-mapper table is an ordered list of segments.

- ``Segment(start, length, target)``: ``target`` is a typed object from ``_dm.targets``
  (``segment.target_type`` and ``segment.args`` give its type and args).
- ``Table(segments)``; ``Table.parse(text)`` reads ``dmsetup table NAME`` output (or what a
  user writes: one ``start length type args...`` line per segment);
  ``parse_multi(text)`` splits the all-device ``dmsetup table`` / ``status`` form (``name:
  start len type args``, one line per segment, the name repeated for multi-segment devices)
  into ``{name: [lines]}``; ``parse_multi_tables(text)`` gives ``{name: Table}``.
- ``Table.format()``: the table as one string, one line per segment, for ``dmsetup
  create NAME`` / ``dmsetup load NAME`` as stdin (or a single ``--table`` argv element);
  nothing here goes through a shell. ``Table.redacted()`` is the same with secrets hidden.
- ``Table.validate()``: segments start at 0 and follow each other with no gap or overlap.
- ``Table.differences(live, resolve=None, kernel=None)``: human-readable differences
  between a wanted and a live table in the kernel's canonical form: device paths resolved
  to ``major:minor`` by ``resolve`` (callable ``path -> 'maj:min'``; ``os_resolver`` is the
  ``os.stat`` based one the module layer passes), per-target echo rules from ``_dm.targets``.
  An empty list means the live table is what is wanted.
- ``validate_name(name)`` / ``validate_uuid(uuid)``: the kernel's and dmsetup's rules.
- ``check_block_devices(name, table)``: every path a wanted table maps exists and is a block device.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re
import stat

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError, from_params, parse_target
from ansible_collections.sts.devicemapper.plugins.module_utils._units import SizeError, to_sectors

# The kernel's limits (include/uapi/linux/dm-ioctl.h), both counting the trailing NUL.
DM_NAME_LEN = 128
DM_UUID_LEN = 129
# dmsetup passes these characters through as they are; any other is "mangled" (\xNN) by
# libdevmapper's default name mangling, so the kernel would hold a different name than the
# one asked for and every later lookup by that name would miss.
_NAME_RE = re.compile(r'\A[0-9A-Za-z#+\-.:=@_]+\Z')
_RESERVED_NAMES = ('.', '..', 'control')


def validate_name(name):
    """Return ``name`` if it can name a dm device, else raise DmError saying why."""
    if not isinstance(name, str) or not name:
        raise DmError('device name %r: expected a non-empty string' % (name,))
    if len(name.encode('utf-8')) > DM_NAME_LEN - 1:
        raise DmError('device name %r: %d bytes; expected at most %d (the kernel\'s DM_NAME_LEN %d with its NUL)'
                      % (name, len(name.encode('utf-8')), DM_NAME_LEN - 1, DM_NAME_LEN))
    if '/' in name:
        raise DmError("device name %r: contains '/', which the kernel refuses" % name)
    if name.startswith('-'):
        raise DmError("device name %r: starts with '-', which dmsetup would read as an option; expected a name "
                      "starting with a letter, digit or # + . : = @ _" % name)
    if name in _RESERVED_NAMES:
        raise DmError('device name %r: the kernel refuses ".", ".." and "control" (the /dev/mapper/control node)' % name)
    if not _NAME_RE.match(name):
        bad = sorted(set(c for c in name if not _NAME_RE.match(c)))
        raise DmError('device name %r: character(s) %s would be mangled by dmsetup; expected only letters, digits '
                      'and # + - . : = @ _' % (name, ' '.join(repr(c) for c in bad)))
    return name


def validate_uuid(uuid):
    """Return ``uuid`` (None allowed) if it can be a dm uuid, else raise DmError."""
    if uuid is None:
        return None
    if not isinstance(uuid, str) or not uuid:
        raise DmError('device uuid %r: expected a non-empty string' % (uuid,))
    if len(uuid.encode('utf-8')) > DM_UUID_LEN - 1:
        raise DmError('device uuid %r: %d bytes; expected at most %d (the kernel\'s DM_UUID_LEN with its NUL)'
                      % (uuid, len(uuid.encode('utf-8')), DM_UUID_LEN - 1))
    if uuid.startswith('-'):
        raise DmError("device uuid %r: starts with '-', which dmsetup would read as an option; expected a uuid "
                      "starting with a letter, digit or # + . : = @ _" % uuid)
    if not _NAME_RE.match(uuid):
        raise DmError('device uuid %r: expected only letters, digits and # + - . : = @ _' % uuid)
    return uuid


def os_resolver(path):
    """``/dev/loop0`` -> ``'7:0'`` through ``os.stat``; what the module layer passes as ``resolve``."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DmError('device %s: cannot be resolved to major:minor: %s' % (path, exc.strerror))
    if not stat.S_ISBLK(st.st_mode):
        raise DmError('device %s: is not a block device' % path)
    return '%d:%d' % (os.major(st.st_rdev), os.minor(st.st_rdev))


def not_a_block_device(path, stat_of=os.stat):
    """None when ``path`` is a block device, else why not: 'does not exist', 'is a directory', ..."""
    try:
        mode = stat_of(path).st_mode
    except OSError as exc:
        return 'does not exist' if exc.errno == errno.ENOENT else 'cannot be read (%s)' % exc.strerror
    if stat.S_ISBLK(mode):
        return None
    for test, kind in ((stat.S_ISDIR, 'a directory'), (stat.S_ISREG, 'a regular file'),
                       (stat.S_ISCHR, 'a character device')):
        if test(mode):
            return 'is ' + kind
    return 'is not a block device'


def check_block_devices(name, table, made=(), lenient_mapper=False, stat_of=os.stat):
    """Fail naming the path when a device ``table`` maps by path does not exist or is no block
    device (before dmsetup, whose "reload ioctl failed: No such device" names none). ``made``: names
    of dm devices the same task creates first (their /dev/mapper/ paths appear later);
    ``lenient_mapper``: a missing /dev/mapper/ path passes (check mode: an earlier task's device)."""
    for device in table.devices():
        if not isinstance(device, str) or not device.startswith('/'):
            continue
        if device.startswith('/dev/mapper/') and device[len('/dev/mapper/'):] in made:
            continue
        why = not_a_block_device(device, stat_of)
        if why is None or (why == 'does not exist' and lenient_mapper and device.startswith('/dev/mapper/')):
            continue
        raise DmError('device %s: its table maps %s, which %s; expected a block device' % (name, device, why))


class Segment(object):
    """One line of a table: ``start`` and ``length`` in sectors, and a typed target."""

    __slots__ = ('start', 'length', 'target')

    def __init__(self, start, length, target):
        self.start = start
        self.length = length
        self.target = target

    @property
    def target_type(self):
        return self.target.name

    @property
    def args(self):
        return self.target.args()

    @classmethod
    def parse(cls, line, strict=False):
        words = line.split()
        if len(words) < 3:
            raise DmError('table line %r: expected <start> <length> <target type> [args...]' % _safe_line(words))
        try:
            start, length = int(words[0]), int(words[1])
        except ValueError:
            raise DmError('table line %r: start and length must be whole numbers of sectors' % _safe_line(words))
        return cls(start, length, parse_target(words[2], words[3:], strict=strict))

    @classmethod
    def from_params(cls, params, start=None):
        """A segment from a dict: ``type``, ``length`` (sectors or units), optional ``start``, target options.

        The target options are either under ``options`` or at the top level next to ``type``.
        """
        params = dict((k, v) for k, v in params.items() if v is not None)
        target_type = params.pop('type', None)
        if not target_type:
            raise DmError('segment %r: expected a target type under "type"' % (sorted(params),))
        if params.get('length') is None:
            raise DmError('segment (%s): expected a length (sectors, or a size such as 1G)' % target_type)
        try:
            length = to_sectors(params.pop('length'), 'segment length')
            seg_start = to_sectors(params.pop('start', start if start is not None else 0), 'segment start')
        except SizeError as exc:
            raise DmError(str(exc))
        options = params.pop('options', None)
        if options is None:
            options = params
        elif params:
            raise DmError('segment: options given both under "options" and beside it: %s' % ', '.join(sorted(params)))
        return cls(seg_start, length, from_params(target_type, options))

    def format(self):
        return ' '.join([str(self.start), str(self.length), self.target.name] + self.target.args())

    def redacted(self):
        rest = self.target.redacted()
        return ' '.join([str(self.start), str(self.length), self.target.name] + ([rest] if rest else []))

    def canonical(self, resolve=None, kernel=None):
        return [str(self.start), str(self.length), self.target.name] + self.target.canonical(resolve, kernel)

    def __eq__(self, other):
        return (isinstance(other, Segment) and (self.start, self.length) == (other.start, other.length)
                and self.target == other.target)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.start, self.length, self.target))

    def __repr__(self):
        return '<Segment %s>' % self.redacted()


def _safe_line(words):
    # a bad line may hold a crypt key: show its shape, never its args
    return ' '.join(words[:3]) + (' ...' if len(words) > 3 else '')


class Table(object):
    """An ordered list of segments."""

    def __init__(self, segments=None):
        self.segments = list(segments or [])

    @classmethod
    def parse(cls, text, strict=False):
        """From ``dmsetup table NAME`` output or user-written lines; blank lines and ``#`` comments skipped."""
        if isinstance(text, (list, tuple)):
            lines = list(text)
        else:
            lines = (text or '').splitlines()
        return cls([Segment.parse(line, strict) for line in lines if line.strip() and not line.lstrip().startswith('#')])

    @classmethod
    def from_params(cls, items):
        """From a list of segment dicts (see ``Segment.from_params``) or table lines; starts follow on when omitted."""
        if isinstance(items, (str, dict)):
            items = [items]
        segments = []
        for item in items or []:
            start = segments[-1].start + segments[-1].length if segments else 0
            if isinstance(item, str):
                segments.extend(Table.parse(item, strict=True).segments)
            else:
                segments.append(Segment.from_params(item, start))
        table = cls(segments)
        table.validate()
        return table

    @property
    def length(self):
        """Size of the device in sectors."""
        return self.segments[-1].start + self.segments[-1].length if self.segments else 0

    def validate(self):
        if not self.segments:
            raise DmError('table: expected at least one segment')
        expected = 0
        for i, seg in enumerate(self.segments):
            if seg.length <= 0:
                raise DmError('table segment %d (%s): length %d; expected > 0 sectors' % (i, seg.target_type, seg.length))
            if seg.start != expected:
                raise DmError('table segment %d (%s): starts at sector %d; expected %d (segments start at 0 and follow '
                              'each other with no gap or overlap)' % (i, seg.target_type, seg.start, expected))
            expected = seg.start + seg.length
        return self

    def format(self):
        return '\n'.join(seg.format() for seg in self.segments) + ('\n' if self.segments else '')

    def redacted(self):
        return '\n'.join(seg.redacted() for seg in self.segments)

    def lines(self):
        """Redacted lines: what results, diffs and errors may show."""
        return [seg.redacted() for seg in self.segments]

    def devices(self):
        out = []
        for seg in self.segments:
            out.extend(d for d in seg.target.devices() if d not in out)
        return out

    def canonical(self, resolve=None, kernel=None):
        return [seg.canonical(resolve, kernel) for seg in self.segments]

    def differences(self, live, resolve=None, kernel=None):
        """What differs between this (wanted) table and ``live``; [] when they are the same."""
        out = []
        if len(self.segments) != len(live.segments):
            out.append('segments: wanted %d, live %d' % (len(self.segments), len(live.segments)))
        for i, (want, have) in enumerate(zip(self.segments, live.segments)):
            where = 'segment %d' % i
            if want.start != have.start:
                out.append('%s start: wanted %d, live %d' % (where, want.start, have.start))
            if want.length != have.length:
                out.append('%s length: wanted %d, live %d' % (where, want.length, have.length))
            out.extend('%s %s' % (where, diff) for diff in want.target.differences(have.target, resolve, kernel))
        return out

    def __eq__(self, other):
        return isinstance(other, Table) and self.segments == other.segments

    def __ne__(self, other):
        return not self == other

    def __len__(self):
        return len(self.segments)

    def __iter__(self):
        return iter(self.segments)

    def __repr__(self):
        return '<Table %r>' % self.lines()


def parse_multi(text):
    """The all-device ``dmsetup table`` (or ``status``) output -> ``{name: [lines]}`` in order.

    A name may hold ':' (``a:b: 0 8 zero``), so the split is on the last ': ' before the
    numeric start. A device with no table appears with no line. "No devices found" gives {}.
    """
    devices = {}
    for raw in (text or '').splitlines():
        line = raw.rstrip()
        if not line or line == 'No devices found':
            continue
        match = _MULTI_RE.match(line)
        if match:
            devices.setdefault(match.group(1), []).append(match.group(2))
        elif line.endswith(':'):
            devices.setdefault(line[:-1], [])
        else:
            raise DmError('dmsetup output line %r: expected "<name>: <start> <length> <target> ..."'
                          % _safe_line(line.split()))
    return devices


def parse_multi_tables(text, strict=False):
    """The all-device ``dmsetup table`` output -> ``{name: Table}``."""
    return dict((name, Table.parse(lines, strict)) for name, lines in parse_multi(text).items())


_MULTI_RE = re.compile(r'^(.+?): (\d+ \d+ \S+.*)$')
