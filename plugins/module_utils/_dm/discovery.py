# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery layer: every dm device with its table and parsed status in three dmsetup calls.

``INFO_ARGV``, ``TABLE_ARGV`` and ``STATUS_ARGV`` (all in ``DISCOVERY_ARGVS``) are the only
commands needed whatever the number of devices; ``discover(run)`` runs exactly those through
``run(argv) -> (rc, stdout, stderr)`` (the module layer passes ``module.run_command``) and
hands the outputs to ``parse_all``, which is pure and unit-tested on captured output.

``parse_all(info, table, status)`` -> ``(facts, tables)``:
- ``facts``: ``{name: dict}`` ready for a task result: name, uuid, blkdevname, major, minor,
  devno, live_table, inactive_table, suspended, readonly, open_count, segment_count, events,
  devnos_used, names_using_dev, target_types, table (redacted lines: no crypt key) and status
  (one parsed dict per segment, see ``_dm.status``);
- ``tables``: ``{name: Table}`` (typed, for comparisons by the module layer).

``dmsetup info -c`` columns and their meaning are the same in dmsetup 1.02.185 (Debian 12) and
1.02.205 (Debian 13); when no device exists each of the three commands prints
``No devices found`` (info twice) with rc 0.

Kernel facts (``KERNEL_FACTS``: one command each, whatever the number of devices):
``parse_targets`` reads ``dmsetup targets`` (the targets the kernel has loaded, with their
versions) and ``parse_version`` reads ``dmsetup version`` (library and driver versions); no one
dmsetup command prints both. ``discover_kernel(run, which)`` runs the ones asked for.

One device (``device_argvs(name)``: the same three commands naming it; dmsetup prints its
table and status lines without the ``name:`` prefix then): ``parse_device`` -> its facts and
Table, ``read_device(run, name)`` runs them (None when there is no such device).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.status import parse_status
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Table, parse_multi
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError

# '|' never appears in a name or uuid that dmsetup shows: it is outside the characters
# libdevmapper leaves unmangled.
SEPARATOR = '|'
# No blkdevname: dmsetup cannot resolve it for a device without a table and then fails the
# whole report (seen on both guests); it is always dm-<minor> anyway.
INFO_FIELDS = ('name', 'uuid', 'major', 'minor', 'attr', 'open', 'segments', 'events',
               'devnos_used', 'names_using_dev')
INFO_ARGV = ['dmsetup', 'info', '-c', '--noheadings', '--separator', SEPARATOR, '-o', ','.join(INFO_FIELDS)]
TABLE_ARGV = ['dmsetup', 'table']
STATUS_ARGV = ['dmsetup', 'status']
DISCOVERY_ARGVS = (INFO_ARGV, TABLE_ARGV, STATUS_ARGV)
NO_DEVICES = 'No devices found'
TARGETS_ARGV = ['dmsetup', 'targets']
VERSION_ARGV = ['dmsetup', 'version']
# fact -> its one command
KERNEL_FACTS = {'targets': TARGETS_ARGV, 'version': VERSION_ARGV}
# what dmsetup says (rc 1) when the device named does not exist
MISSING = 'Device does not exist'
# dm-era answers a status read through its worker, which is stopped while the device is
# suspended: the read (and so a plain `dmsetup status`) would wait until it is resumed.
STATUS_WAITS_FOR_RESUME = ('era',)
UNREADABLE_WHY = 'not read: a suspended era device answers status only once resumed'
# what dmsetup prints when a device it listed is gone before it reads it (another process removed it)
# What dmsetup says when a device it listed is gone when it reads it; 'Cannot find node MAJ:MIN' comes
# from ``info -c`` looking up the name of a device another one uses (seen on the lab, Debian 13, while
# another process tore a thin stack down).
RACE_MESSAGES = ('No such device or address', 'Device does not exist', 'Cannot find node ')


def _list(value):
    return [v for v in value.split(',') if v] if value else []


def parse_info(text):
    """``dmsetup info -c`` output (``INFO_ARGV``) -> ``{name: dict}``."""
    out = {}
    for line in (text or '').splitlines():
        if not line.strip() or line.strip() == NO_DEVICES:
            continue
        cols = line.split(SEPARATOR)
        if len(cols) != len(INFO_FIELDS):
            raise DmError('dmsetup info line %r: expected %d columns separated by %r (%s), got %d'
                          % (line, len(INFO_FIELDS), SEPARATOR, ','.join(INFO_FIELDS), len(cols)))
        row = dict(zip(INFO_FIELDS, cols))
        attr = row['attr'].ljust(4, '-')
        out[row['name']] = {
            'name': row['name'],
            'uuid': row['uuid'] or None,
            'blkdevname': 'dm-%s' % row['minor'],
            'major': int(row['major']),
            'minor': int(row['minor']),
            'devno': '%s:%s' % (row['major'], row['minor']),
            'live_table': attr[0] == 'L',
            'inactive_table': attr[1] == 'I',
            'suspended': attr[2] == 's',
            'readonly': attr[3] == 'r',
            'open_count': int(row['open']) if row['open'] else 0,
            'segment_count': int(row['segments']) if row['segments'] else 0,
            'events': int(row['events']) if row['events'] else 0,
            'devnos_used': _list(row['devnos_used']),
            'names_using_dev': _list(row['names_using_dev']),
        }
    return out


def parse_all(info_text, table_text, status_text, unreadable=()):
    """The three outputs -> ``(facts, tables)``; see the module docstring.

    ``unreadable``: names whose status was not asked for (see ``discover``); their ``status``
    is empty and ``status_unavailable`` says why.
    """
    return _build(parse_info(info_text), parse_multi(table_text), status_text, unreadable)


def _build(facts, table_lines, status_text, unreadable=()):
    """``parse_all`` from the info already parsed and the table lines by device (each table parsed once)."""
    tables = {}
    status_lines = parse_multi(status_text)
    for name, dev in facts.items():
        table = Table.parse(table_lines.get(name, []))
        tables[name] = table
        dev['target_types'] = [seg.target_type for seg in table]
        dev['table'] = table.lines()
        statuses = []
        for line in status_lines.get(name, []):
            words = line.split()
            parsed = parse_status(words[2], words[3:])
            parsed.update(start=int(words[0]), length=int(words[1]), target_type=words[2])
            statuses.append(parsed)
        dev['status'] = statuses
        if name in unreadable:
            dev['status_unavailable'] = UNREADABLE_WHY
    return facts, tables


def blocked_status(facts, table_lines):
    """Names whose status read would wait for a resume: suspended devices with a target in
    ``STATUS_WAITS_FOR_RESUME``, from the raw table lines by device (a line's third word is its
    target type; no table is parsed for it)."""
    return sorted(name for name, dev in facts.items()
                  if dev['suspended'] and any(len(words) > 2 and words[2] in STATUS_WAITS_FOR_RESUME
                                              for words in (line.split() for line in table_lines.get(name, []))))


def _raced(stderr):
    return any(msg in (stderr or '') for msg in RACE_MESSAGES)


def discover(run, attempts=3):
    """Run the discovery commands through ``run(argv) -> (rc, stdout, stderr)``; ``parse_all`` them.

    Three commands: ``INFO_ARGV``, ``TABLE_ARGV`` and ``STATUS_ARGV``. While a device whose
    status waits for a resume (a suspended dm-era device) exists, the status command names
    every other device instead (still one command; none when no other device exists) and the
    blocked ones get ``status_unavailable``. When a device disappears between dmsetup's own
    listing and its read of it (``RACE_MESSAGES``: another process removed it), the whole
    discovery runs again, at most ``attempts`` times in all.
    """
    for attempt in range(attempts):
        outputs = []
        for argv in (INFO_ARGV, TABLE_ARGV, None):
            blocked = ()
            if argv is None:
                facts, table_lines = parse_info(outputs[0]), parse_multi(outputs[1])
                blocked = blocked_status(facts, table_lines)
                argv = STATUS_ARGV
                if blocked:
                    others = sorted(set(facts) - set(blocked))
                    if not others:
                        outputs.append('')
                        break
                    argv = STATUS_ARGV + ['--'] + others
            rc, stdout, stderr = run(list(argv))
            if rc != 0:
                if _raced(stderr) and attempt + 1 < attempts:
                    break
                raise DmError('%s failed (rc %d): %s' % (' '.join(argv), rc, (stderr or stdout).strip()),
                              cmd=list(argv), rc=rc, stdout=stdout, stderr=stderr)
            outputs.append(stdout)
        if len(outputs) == 3:
            return _build(facts, table_lines, outputs[2], unreadable=blocked)
    raise DmError('dmsetup discovery: devices kept disappearing while they were read (%d attempts)' % attempts)


def select(facts, names=None, target_types=None, uuid_prefix=None):
    """The devices of ``facts`` that match every filter given (names, any of the target types, uuid prefix)."""
    out = {}
    for name, dev in facts.items():
        if names and name not in names:
            continue
        if target_types and not set(dev.get('target_types', [])) & set(target_types):
            continue
        if uuid_prefix and not (dev.get('uuid') or '').startswith(uuid_prefix):
            continue
        out[name] = dev
    return out


# "thin-pool        v1.23.0"
_TARGET_RE = re.compile(r'\A(\S+)\s+v(\d+\.\d+\.\d+)\Z')
# "Library version:   1.02.205 (2025-02-27)" / "Driver version:    4.48.0"
_VERSION_RE = re.compile(r'\A(Library|Driver) version:\s+(\d+(?:\.\d+)+)(?:\s+\(.*\))?\Z')


def parse_targets(text):
    """``dmsetup targets`` -> ``{target name: 'major.minor.patch'}`` (the ``v`` dropped)."""
    out = {}
    for line in (text or '').splitlines():
        if not line.strip():
            continue
        match = _TARGET_RE.match(line.strip())
        if not match:
            raise DmError('dmsetup targets line %r: expected "<target name> v<major>.<minor>.<patch>"' % line)
        out[match.group(1)] = match.group(2)
    return out


def parse_version(text):
    """``dmsetup version`` -> ``{'library': '1.02.205', 'driver': '4.48.0'}`` (the library's date dropped)."""
    out = {}
    for line in (text or '').splitlines():
        if not line.strip():
            continue
        match = _VERSION_RE.match(line.strip())
        if not match:
            raise DmError('dmsetup version line %r: expected "Library version: X.Y.Z (date)" or '
                          '"Driver version: X.Y.Z"' % line)
        out[match.group(1).lower()] = match.group(2)
    missing = [key for key in ('library', 'driver') if key not in out]
    if missing:
        raise DmError('dmsetup version output %r: expected a library and a driver version; no %s'
                      % (text, ' or '.join(missing)))
    return out


KERNEL_PARSERS = {'targets': parse_targets, 'version': parse_version}


def discover_kernel(run, which=('targets', 'version')):
    """``{fact: parsed}`` for each of ``which`` (keys of ``KERNEL_FACTS``), one command each."""
    out = {}
    for fact in which:
        argv = KERNEL_FACTS[fact]
        rc, stdout, stderr = run(list(argv))
        if rc != 0:
            raise DmError('%s failed (rc %d): %s' % (' '.join(argv), rc, (stderr or stdout).strip()),
                          cmd=list(argv), rc=rc, stdout=stdout, stderr=stderr)
        out[fact] = KERNEL_PARSERS[fact](stdout)
    return out


def device_argvs(name):
    """``(info, table, status)`` argvs of one device: the discovery commands naming it."""
    return INFO_ARGV + ['--', name], TABLE_ARGV + ['--', name], STATUS_ARGV + ['--', name]


def _prefixed(name, text):
    return ''.join('%s: %s\n' % (name, line.rstrip()) for line in (text or '').splitlines() if line.strip())


def parse_device(name, info_text, table_text, status_text, unreadable=False):
    """One device's outputs (``device_argvs``) -> ``(facts, Table)`` as ``parse_all`` gives them for it.

    ``unreadable``: its status was not asked for (a suspended era device); see ``parse_all``."""
    facts, tables = parse_all(info_text, _prefixed(name, table_text), _prefixed(name, status_text),
                              unreadable=(name,) if unreadable else ())
    if name not in facts:
        raise DmError('dmsetup info of device %s: expected its row, got %r' % (name, info_text))
    return facts[name], tables[name]


def run_device(run, argv):
    """stdout of one device's command; None when the device does not exist; DmError on another failure."""
    rc, stdout, stderr = run(list(argv))
    if rc != 0:
        if MISSING in (stderr or ''):
            return None
        raise DmError('%s failed (rc %d): %s' % (' '.join(argv), rc, (stderr or stdout).strip()),
                      cmd=list(argv), rc=rc, stdout=stdout, stderr=stderr)
    return stdout


def read_device(run, name, known=None):
    """``(facts, Table)`` of one device, or None when it does not exist; up to three commands.

    ``known``: outputs already read (``{'info': text, 'table': text, 'status': text}``), not read
    again. A suspended device with a target in ``STATUS_WAITS_FOR_RESUME`` has its status not
    read (``status_unavailable``)."""
    texts = dict(known or {})
    info_argv, table_argv, status_argv = device_argvs(name)
    for key, argv in (('info', info_argv), ('table', table_argv)):
        if texts.get(key) is None:
            texts[key] = run_device(run, argv)
            if texts[key] is None:
                return None
    info = parse_info(texts['info'])
    if name not in info:
        raise DmError('dmsetup info of device %s: expected its row, got %r' % (name, texts['info']))
    blocked = bool(blocked_status({name: info[name]}, parse_multi(_prefixed(name, texts['table']))))
    if texts.get('status') is None and not blocked:
        texts['status'] = run_device(run, status_argv)
        if texts['status'] is None:
            return None
    return parse_device(name, texts['info'], texts['table'], texts.get('status') or '', unreadable=blocked)
