# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Device operations: make dm devices what a list of ``DeviceSpec`` says, safely and idempotently.

``DmHost(run, check_mode)`` discovers every device (three dmsetup calls, ``_dm.discovery``)
and ``apply(specs)`` brings each spec about, in dependency order (a device is created after
the devices its table uses, and removed before them), re-discovering after every change so
each step is verified against what the kernel holds.

Rules kept here, once for every module:
- A table is changed only through the inactive slot: ``load`` then ``resume`` (the kernel
  swaps atomically). A load that fails clears the inactive slot and leaves the live table
  untouched; a resume that fails is recovered: the previous table (read with ``--showkeys``,
  kept in memory only) is loaded back and the device resumed. No user-space suspend
  around a reload; ``suspend`` only for ``state: suspended`` and around ``create_snap``
  of an active origin, resumed in a ``finally``.
- After every change the device is re-read and checked (exists or not, no inactive table
  left, suspended only when asked, table equal to the wanted one).
- A device that is open or held by another device is not removed unless ``force`` (the
  kernel replaces its table with ``error`` first) or ``deferred``.
- Thin volumes: a thin table loads only when its dev_id exists in the pool, so ``create_thin``
  (or ``create_snap`` of an origin) is sent first; ``File exists`` from the kernel means it
  is really there, which counts as not changed.
- ``rename_from``: the device is renamed when only its old name exists, left alone when only
  the new one does; both, or neither, is a failure naming both (in check mode too: nothing
  else says which device is meant). A uuid is set on a device that has none; a different
  one is refused, since the kernel cannot change it.
- ``teardown(name_prefix=...)`` / ``teardown(uuid_prefix=...)``: the specs that remove every
  device the prefix selects, after refusing, before anything is touched, a set that one
  device outside it holds, or that something else has open (unless force / deferred).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import os
import time

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.discovery import discover
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import os_resolver, validate_name, validate_uuid
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DEVNO_RE, DmError, kernel_version
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.dmsetup import (
    EEXIST, ENODATA, Dmsetup, build_argv, kernel_message)

STATES = ('present', 'active', 'suspended', 'absent')
MAPPER = '/dev/mapper/'
# dmsetup create's message when the DM_DEV_CREATE ioctl failed: no device was made by this run
CREATE_IOCTL_FAILED = 'create ioctl on '


# targets the kernel refuses in a writable table ("Device must be readonly")
READONLY_TARGETS = ('verity',)
# names a prefix may be without being a whole device name: '.', '..' and 'control' start longer names
_RESERVED_STARTS = ('.', '..', 'control')


def validate_name_prefix(prefix):
    """Return ``prefix`` if a device name can start with it, else raise DmError; empty is refused
    (it would select every device)."""
    if not isinstance(prefix, str) or not prefix:
        raise DmError('name_prefix %r: expected a non-empty start of device names (an empty prefix would select '
                      'every device on the host)' % (prefix,))
    try:
        validate_name(prefix + '_' if prefix in _RESERVED_STARTS else prefix)
    except DmError as exc:
        raise DmError('name_prefix %r: no device name can start with it (%s)' % (prefix, exc.msg))
    return prefix


def validate_uuid_prefix(prefix):
    """Return ``prefix`` if a dm uuid can start with it, else raise DmError; empty is refused."""
    if not isinstance(prefix, str) or not prefix:
        raise DmError('uuid_prefix %r: expected a non-empty start of device uuids (an empty prefix would select '
                      'every device with a uuid)' % (prefix,))
    try:
        validate_uuid(prefix)
    except DmError as exc:
        raise DmError('uuid_prefix %r: no device uuid can start with it (%s)' % (prefix, exc.msg))
    return prefix


def prefix_label(name_prefix=None, uuid_prefix=None):
    """``name_prefix X`` or ``uuid_prefix X`` (what messages call the selection), once the prefix is validated."""
    if name_prefix is not None:
        return 'name_prefix %s' % validate_name_prefix(name_prefix)
    return 'uuid_prefix %s' % validate_uuid_prefix(uuid_prefix)


class DeviceSpec(object):
    """What one device should be.

    ``table``: a ``Table`` or None (then an existing device's table is not compared, and a
    missing device cannot be created). ``readonly`` None: leave as it is (a new device is
    writable, unless its table has a target the kernel loads read-only only: verity).
    ``create_thin``: for thin segments, make sure the dev_id exists in the pool;
    ``snapshot_of``: dev_id (int) or device name of the origin thin, to create the dev_id
    as its snapshot; ``delete_thin``: with ``state: absent``, also delete the dev_id from
    the pool. ``metadata_snap`` (thin-pool): True reserve, False release, None leave.
    ``rename_from``: the name the device may have now, to rename it to ``name``.
    """

    def __init__(self, name, state='present', table=None, uuid=None, readonly=None, reload=False,
                 force=False, deferred=False, create_thin=True, snapshot_of=None, delete_thin=False,
                 metadata_snap=None, rename_from=None):
        self.name = validate_name(name)
        if state not in STATES:
            raise DmError('device %s state %r: expected one of %s' % (name, state, ', '.join(STATES)))
        self.state = state
        self.rename_from = None
        if rename_from is not None:
            try:
                self.rename_from = validate_name(rename_from)
            except DmError as exc:
                raise DmError('device %s rename_from: %s' % (name, exc.msg))
            if rename_from == name:
                raise DmError('device %s: rename_from %s is the name itself; expected the name the device has now'
                              % (name, rename_from))
            if state == 'absent':
                raise DmError('device %s: rename_from %s renames a device that stays; expected state present, active '
                              'or suspended, got absent' % (name, rename_from))
        self.table = table.validate() if table is not None else None
        self.uuid = validate_uuid(uuid)
        if readonly is None and any(seg.target_type in READONLY_TARGETS for seg in (self.table or [])):
            readonly = True
        elif readonly is False and self.table is not None:
            refused = sorted(set(seg.target_type for seg in self.table) & set(READONLY_TARGETS))
            if refused:
                raise DmError('device %s readonly: false, but the kernel loads a %s table read-only only; omit '
                              'readonly or set it to true' % (name, ' and '.join(refused)))
        self.readonly = readonly
        self.reload = reload
        self.force = force
        self.deferred = deferred
        self.create_thin = create_thin
        self.snapshot_of = snapshot_of
        self.delete_thin = delete_thin
        self.metadata_snap = metadata_snap
        if snapshot_of is not None and self.table is not None and not self.thin_segments():
            raise DmError('device %s: snapshot_of %r applies to a thin table only; expected type thin, got %s'
                          % (name, snapshot_of, ', '.join(seg.target_type for seg in self.table)))
        if delete_thin and state != 'absent':
            raise DmError('device %s: delete_thin deletes the dev_id from its pool and applies with state: absent '
                          'only; expected state absent, got %s' % (name, state))

    def thin_segments(self):
        return [seg for seg in (self.table or []) if seg.target_type == 'thin']


class _RawTable(object):
    """A table kept as the text ``dmsetup table --showkeys`` gave, to load it back as it was."""

    def __init__(self, text):
        self.text = text

    def format(self):
        return self.text if self.text.endswith('\n') else self.text + '\n'


def _plural(items):
    return ', '.join(items) if items else 'none'


def check_unique(specs):
    """Refuse a batch that names a device more than once (from the specs alone)."""
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        dup = sorted(set(n for n in names if names.count(n) > 1))
        raise DmError('devices: %s listed more than once' % ', '.join(dup))


class DmHost(object):
    """The dm devices of the host this module runs on."""

    def __init__(self, run, check_mode=False, resolve=os_resolver, kernel=None, exists=os.path.exists,
                 sleep=time.sleep, udev_timeout=10, guard=None):
        """``run(argv, data=None) -> (rc, stdout, stderr)``; ``kernel``: release string (default: this kernel's).

        ``guard(names)``: a context manager held while this run keeps ``names`` suspended, that
        resumes them if the process dies meanwhile (_dm.resume_guard.ResumeGuard); None: none."""
        self._run = run
        self._guard = guard
        self.dmsetup = Dmsetup(run)
        self.check_mode = check_mode
        self._resolve = resolve
        self.kernel = kernel_version(kernel if kernel is not None else os.uname()[2])
        self._exists = exists
        self._sleep = sleep
        self.udev_timeout = udev_timeout
        self.planned = set()     # check mode: devices an earlier spec of this batch would create
        self.unplanned = set()   # check mode: devices an earlier spec would remove
        self.renamed = {}        # check mode: old name -> new name an earlier spec would rename
        self.facts, self.tables = {}, {}
        self.refresh()

    # -- what is there ----------------------------------------------------------------
    def refresh(self):
        self.facts, self.tables = discover(lambda argv: self._run(argv, None))
        for name in self.unplanned:
            self.facts.pop(name, None)
            self.tables.pop(name, None)
        for old, new in self.renamed.items():
            self._move(old, new)

    def _move(self, old, new):
        """Check mode: what was discovered of ``old`` is known as ``new`` from now on."""
        if old in self.facts and new not in self.facts:
            self.facts[new] = dict(self.facts.pop(old), name=new)
            if old in self.tables:
                self.tables[new] = self.tables.pop(old)

    def resolve(self, path):
        """A device reference -> ``major:minor``; dm devices are looked up in what was discovered."""
        if DEVNO_RE.match(path):
            return path
        if path.startswith(MAPPER):
            name = path[len(MAPPER):]
            if name in self.facts:
                return self.facts[name]['devno']
            if name in self.planned:
                return 'planned:' + name
        if path.startswith('/dev/dm-'):
            for dev in self.facts.values():
                if path == '/dev/' + dev['blkdevname']:
                    return dev['devno']
        return self._resolve(path)

    def name_of(self, ref):
        """The dm device name a table reference points at, or None when it is not a dm device."""
        if ref.startswith(MAPPER):
            return ref[len(MAPPER):]
        try:
            devno = self.resolve(ref)
        except DmError:
            return None
        if devno.startswith('planned:'):
            return devno[len('planned:'):]
        for name, dev in self.facts.items():
            if dev['devno'] == devno:
                return name
        return None

    def state_of(self, name):
        """What a result shows of a device (table lines with crypt keys masked)."""
        dev = self.facts.get(name)
        if dev is None:
            return {'exists': False}
        return {'exists': True, 'uuid': dev['uuid'], 'devno': dev['devno'], 'table': list(dev['table']),
                'suspended': dev['suspended'], 'readonly': dev['readonly'], 'open_count': dev['open_count'],
                'holders': list(dev['names_using_dev']), 'target_types': list(dev['target_types'])}

    # -- removal by prefix --------------------------------------------------------------
    def matching(self, name_prefix=None, uuid_prefix=None):
        """Names (sorted) of the devices whose name starts with ``name_prefix`` or whose uuid with ``uuid_prefix``."""
        return sorted(name for name, dev in self.facts.items()
                      if (name_prefix and name.startswith(name_prefix))
                      or (uuid_prefix and (dev.get('uuid') or '').startswith(uuid_prefix)))

    def teardown(self, name_prefix=None, uuid_prefix=None, force=False, deferred=False, delete_thin=False):
        """The DeviceSpecs (state absent) that remove every device a prefix selects; ``apply`` orders them,
        dependents first. Refused before anything is touched: a device of the set that a device outside
        it holds (unless deferred), or that something other than the set has open (unless force or
        deferred), naming the device, the prefix and what holds it."""
        which = prefix_label(name_prefix, uuid_prefix)
        names = self.matching(name_prefix, uuid_prefix)
        chosen = set(names)
        for name in names:
            dev = self.facts[name]
            holders = list(dev['names_using_dev'])
            outside = [h for h in holders if h not in chosen]
            if outside and not deferred:
                raise DmError('device %s (selected by %s) is held by %s, which %s does not select; no device was '
                              'removed. Remove %s first, or choose a prefix that selects %s too'
                              % (name, which, _plural(outside), which, _plural(outside),
                                 'them' if len(outside) > 1 else 'it'), holders=outside)
            others = dev['open_count'] - len(holders)
            if others > 0 and not (force or deferred):
                raise DmError('device %s (selected by %s) is open (open count %d, %d of it not by a device of the '
                              'set); no device was removed. force: true removes it anyway (the kernel first '
                              'replaces its table with error), deferred: true removes it when it is last closed'
                              % (name, which, dev['open_count'], others), open_count=dev['open_count'])
        return [DeviceSpec(name, state='absent', force=force, deferred=deferred, delete_thin=delete_thin)
                for name in names]

    # -- batches ----------------------------------------------------------------------
    def order(self, specs):
        """Removals first, dependents before what they use; then the rest, what is used before its users."""
        check_unique(specs)
        by_name = dict((s.name, s) for s in specs)
        absent = [s for s in specs if s.state == 'absent']
        present = [s for s in specs if s.state != 'absent']

        def uses_present(spec):
            refs = list(spec.table.devices()) if spec.table is not None else []
            if isinstance(spec.snapshot_of, str):
                refs.append(MAPPER + spec.snapshot_of)
            return [n for n in (self.name_of(r) for r in refs) if n in by_name and n != spec.name]

        def uses_live(spec):
            dev = self.facts.get(spec.name)
            if dev is None:
                return []
            # names of the devices this one's live table uses
            used = set(dev['devnos_used'])
            return [n for n, d in self.facts.items() if d['devno'] in used and n in by_name]

        removal = list(reversed(_topological(absent, uses_live)))
        return removal + _topological(present, uses_present)

    def apply(self, specs):
        """Bring every spec about in dependency order; returns the per-device results in that order.

        A failure stops the batch: DmError whose details hold the results so far under ``devices``.
        """
        results = []
        for spec in self.order(specs):
            try:
                results.append(self.ensure(spec))
            except DmError as exc:
                exc.details.setdefault('devices', results)
                exc.details.setdefault('name', spec.name)
                raise
        return results

    # -- one device -------------------------------------------------------------------
    def ensure(self, spec):
        start = len(self.dmsetup.commands)
        result = {'name': spec.name, 'state': spec.state, 'changed': False, 'differences': []}
        result['before'] = self.state_of(spec.name)
        try:
            if spec.state == 'absent':
                self._ensure_absent(spec, result)
            else:
                if spec.rename_from is not None:
                    self._rename(spec, result)
                self._ensure_present(spec, result)
        finally:
            result['commands'] = self.dmsetup.commands[start:]
        if self.check_mode:
            result['after'] = self._predicted(spec, result)
        else:
            result['after'] = self.state_of(spec.name)
        return result

    def _predicted(self, spec, result):
        before = result['before']
        if spec.state == 'absent':
            return {'exists': False} if not result.get('deferred_remove') else dict(before)
        after = dict(before) if before['exists'] else {'exists': True, 'uuid': None, 'devno': None, 'table': [],
                                                       'suspended': False, 'readonly': False, 'open_count': 0,
                                                       'holders': [], 'target_types': []}
        if spec.table is not None and (result['changed'] or not before['exists']):
            after['table'] = spec.table.lines()
            after['target_types'] = [seg.target_type for seg in spec.table]
        if spec.uuid:
            after['uuid'] = spec.uuid
        if spec.readonly is not None:
            after['readonly'] = spec.readonly
        if spec.state == 'suspended':
            after['suspended'] = True
        elif spec.state == 'active' or (spec.table is not None and result['differences']):
            after['suspended'] = False
        return after

    def _rename(self, spec, result):
        """Rename ``spec.rename_from`` to ``spec.name`` when only the old name exists; nothing when only the new one does."""
        old, new = spec.rename_from, spec.name
        if old in self.facts and new in self.facts:
            raise DmError('device %s: rename_from %s, but both %s and %s exist; expected only %s (to rename it) or only '
                          '%s (renamed already): remove one of them, or drop rename_from' % (new, old, old, new, old, new))
        if new in self.facts:
            return
        if old not in self.facts:
            raise DmError('device %s: rename_from %s, but neither %s nor %s exists; expected %s, to rename it to %s'
                          % (new, old, old, new, old, new))
        result['renamed_from'] = old
        result['before'] = self.state_of(old)
        result['changed'] = True
        if self.check_mode:
            self.renamed[old] = new
            self._move(old, new)
            return
        self.rename(old, new)

    def rename(self, old, new):
        """``dmsetup rename OLD NEW``, then the kernel's and udev's word that only NEW exists."""
        argv = build_argv('rename', old, new_name=new)
        rc, out, err = self.dmsetup.try_call('rename', old, new_name=new)
        if rc != 0:
            raise DmError('device %s: dmsetup rename %s %s failed (rc %d): %s' % (old, old, new, rc, kernel_message(err, out)),
                          cmd=argv, rc=rc, stdout=out, stderr=err)
        self.refresh()
        if new not in self.facts or old in self.facts:
            raise DmError('device %s: after dmsetup rename %s %s the kernel lists %s; expected %s only'
                          % (old, old, new, _plural(sorted(n for n in (old, new) if n in self.facts)), new))
        self.wait_for_node(new, present=True)
        self.wait_for_node(old, present=False)

    def _ensure_present(self, spec, result):
        name = spec.name
        dev = self.facts.get(name)
        if dev is None:
            if spec.table is None:
                raise DmError('device %s does not exist, and no table was given to create it' % name)
            self._prepare_thin(spec, result)
            result['changed'] = True
            if self.check_mode:
                self.planned.add(name)
                return
            self._create(spec)
            try:
                if spec.state == 'suspended':
                    self.dmsetup.call('suspend', name)
                self._verify(spec, created=True, suspended=spec.state == 'suspended')
            except DmError as exc:
                raise DmError('%s; %s' % (exc.msg, self._undo_create(name)), **exc.details)
            self._metadata_snap(spec, result)
            return

        diffs = []
        # a device with no live table maps no data: it is what a create cut short (dmsetup killed
        # between its create and load ioctls) leaves, and loading the wanted table finishes it
        tableless = spec.table is not None and not dev['live_table']
        if spec.table is not None:
            if tableless:
                diffs.append('live table: none loaded')
            else:
                diffs.extend(spec.table.differences(self.tables[name], self.resolve, self.kernel))
        if spec.readonly is not None and bool(spec.readonly) != dev['readonly']:
            diffs.append('readonly: wanted %s, live %s' % (bool(spec.readonly), dev['readonly']))
        result['differences'] = diffs
        if spec.uuid and spec.uuid != dev['uuid']:
            if dev['uuid']:
                raise DmError('device %s has uuid %s; the kernel cannot change a uuid once set (wanted %s): remove '
                              'and create the device again' % (name, dev['uuid'], spec.uuid))
            result['changed'] = True
            if not self.check_mode:
                rc, out, err = self.dmsetup.try_call('setuuid', name, uuid=spec.uuid)
                if rc != 0:
                    raise DmError('device %s: uuid %s not set: dmsetup rename %s --setuuid %s failed (rc %d): %s'
                                  % (name, spec.uuid, name, spec.uuid, rc, kernel_message(err, out)),
                                  cmd=build_argv('setuuid', name, uuid=spec.uuid), rc=rc, stdout=out, stderr=err)
        if diffs:
            if tableless:
                result['completed'] = 'device %s existed with no live table (a create cut short?): the table was ' \
                    'loaded into it' % name
            elif not spec.reload:
                raise DmError('device %s exists with a different table; set reload: true to swap it in. Differences: %s'
                              % (name, '; '.join(diffs)), differences=diffs)
            self._prepare_thin(spec, result)
            result['changed'] = True
            if not self.check_mode:
                # only readonly differs when no table is given: the live table goes back in
                table = spec.table if spec.table is not None else _RawTable(self.dmsetup.live_table_text(name))
                self.swap(name, table, readonly=spec.readonly if spec.readonly is not None else dev['readonly'])
                if spec.state == 'suspended':
                    self.dmsetup.call('suspend', name)
                dev = self.facts.get(name, dev)
        if spec.state == 'active' and dev['suspended']:
            result['changed'] = True
            if not self.check_mode:
                self.dmsetup.call('resume', name)
        elif spec.state == 'suspended' and not dev['suspended']:
            result['changed'] = True
            if not self.check_mode:
                self.dmsetup.call('suspend', name)
        if result['changed'] and not self.check_mode:
            self._verify(spec, suspended=dev['suspended'] if spec.state == 'present' else None)
        self._metadata_snap(spec, result)

    def _create(self, spec):
        name = spec.name
        rc, out, err = self.dmsetup.try_call('create', name, table=spec.table, uuid=spec.uuid,
                                             readonly=bool(spec.readonly))
        if rc != 0:
            self.refresh()
            note = ''
            dev = self.facts.get(name)
            if dev is not None and (CREATE_IOCTL_FAILED in (err or '') or dev['live_table']):
                # the create ioctl itself failed (EBUSY: the name exists) or the device has a table
                # this run never loaded: another process made it meanwhile; it is not ours to remove
                note = ' (a device of that name appeared meanwhile, made by another process: left as it is)'
            elif dev is not None:
                # dmsetup removes what it created when the load fails; make sure of it
                self.dmsetup.try_call('remove', name)
                self.refresh()
                note = '' if name not in self.facts else ' (a table-less device %s is left; remove it)' % name
            raise self.dmsetup.error('create', name, rc, out, err, prefix='device %s not created%s: ' % (name, note))
        self.wait_for_node(name, present=True)

    def _undo_create(self, name):
        """Remove a device this run created but that is not as wanted; say what came of it."""
        self.refresh()
        dev = self.facts.get(name)
        if dev is None:
            return 'the device is gone'
        if dev['suspended']:
            self.dmsetup.try_call('resume', name)
        rc, _out, _err = self.dmsetup.try_call('remove', name)
        self.refresh()
        if name in self.facts:
            return 'the new device could not be removed again (rc %d): remove it with dmsetup remove %s' % (rc, name)
        try:
            self.wait_for_node(name, present=False)
        except DmError as exc:
            return 'the new device was removed again (%s)' % exc.msg
        return 'the new device was removed again'

    def swap(self, name, table, readonly=False):
        """Load ``table`` into the inactive slot and resume; never leaves the device suspended or half-swapped."""
        old_text = self.dmsetup.live_table_text(name)
        rc, out, err = self.dmsetup.try_call('load', name, table=table, readonly=bool(readonly))
        if rc != 0:
            self.dmsetup.try_call('clear', name)
            self.refresh()
            dev = self.facts.get(name) or {}
            state = 'its live table is untouched' if not dev.get('inactive_table') else \
                'its inactive slot could not be cleared (dmsetup clear %s)' % name
            raise self.dmsetup.error('load', name, rc, out, err,
                                     prefix='the new table of %s did not load (%s): ' % (name, state))
        rc, out, err = self.dmsetup.try_call('resume', name)
        if rc != 0:
            outcome = self._recover(name, old_text)
            raise self.dmsetup.error('resume', name, rc, out, err,
                                     prefix='the new table of %s loaded but the device did not resume with it (%s): '
                                     % (name, outcome))
        self.refresh()

    def _recover(self, name, old_text):
        """After a failed resume: put the previous table back and resume; say what came of it."""
        self.refresh()
        dev = self.facts.get(name)
        if dev is None:
            return 'the device is gone'
        if dev['inactive_table']:
            self.dmsetup.try_call('clear', name)
        if dev['suspended']:
            now_text = self.dmsetup.live_table_text(name)
            if old_text.strip() and now_text.strip() != old_text.strip():
                rc, out, err = self.dmsetup.try_call('load', name, table=_RawTable(old_text), readonly=dev['readonly'])
                if rc != 0:
                    self.dmsetup.try_call('clear', name)
            self.dmsetup.try_call('resume', name)
        self.refresh()
        dev = self.facts.get(name)
        if dev is None:
            return 'the device is gone'
        if dev['suspended']:
            return 'the device is STILL SUSPENDED; the previous table could not be resumed'
        restored = self.dmsetup.live_table_text(name).strip() == old_text.strip()
        return 'the previous table is live again and the device active' if restored else \
            'the device is active with the new table'

    def _verify(self, spec, created=False, suspended=None):
        """Re-read the device and check it is what ``spec`` wants; ``suspended`` None: as the state says."""
        self.refresh()
        name = spec.name
        dev = self.facts.get(name)
        if dev is None:
            raise DmError('device %s: expected to exist after %s, but the kernel does not list it'
                          % (name, 'dmsetup create' if created else 'the change'))
        problems = []
        if dev['inactive_table']:
            problems.append('an inactive table is left loaded')
        if suspended is None:
            suspended = spec.state == 'suspended'
        if dev['suspended'] != suspended:
            problems.append('it is %s' % ('suspended' if dev['suspended'] else 'not suspended'))
        if spec.table is not None:
            problems.extend(spec.table.differences(self.tables[name], self.resolve, self.kernel))
        if spec.readonly is not None and bool(spec.readonly) != dev['readonly']:
            problems.append('readonly is %s' % dev['readonly'])
        if spec.uuid and dev['uuid'] != spec.uuid:
            problems.append('its uuid is %s' % (dev['uuid'] or 'none'))
        if problems:
            raise DmError('device %s: not as wanted after the change: %s' % (name, '; '.join(problems)),
                          differences=problems)

    def _ensure_absent(self, spec, result):
        name = spec.name
        dev = self.facts.get(name)
        if dev is None:
            if spec.delete_thin:
                self._delete_thin(spec, result)
            return
        # in check mode, the users an earlier spec of the batch would remove no longer count
        holders = [h for h in dev['names_using_dev'] if h not in self.unplanned]
        open_count = dev['open_count'] - (len(dev['names_using_dev']) - len(holders))
        if holders and spec.force and not spec.deferred:
            # dmsetup remove --force swaps in an error table before it finds the device busy:
            # it would cut the holders' I/O path and still fail
            raise DmError('device %s is used by %s; force cannot remove a device another dm device holds (the '
                          'kernel would replace its table with error and still refuse). Remove %s first, or list '
                          'them in the same devices batch' % (name, _plural(holders), _plural(holders)),
                          open_count=open_count, holders=holders)
        if (holders or open_count) and not (spec.force or spec.deferred):
            raise DmError('device %s is in use (open count %d; held by %s); refusing to remove it. force: true '
                          'removes it anyway (the kernel first replaces its table with error), deferred: true '
                          'removes it when it is last closed' % (name, dev['open_count'], _plural(holders)),
                          open_count=dev['open_count'], holders=holders)
        thin_refs = [(seg.target.params['pool'], seg.target.params['dev_id'])
                     for seg in self.tables.get(name, []) if seg.target_type == 'thin' and hasattr(seg.target, 'params')
                     and 'dev_id' in seg.target.params]
        result['changed'] = True
        if self.check_mode:
            self.unplanned.add(name)
            self.facts.pop(name, None)
            self.tables.pop(name, None)
            if spec.delete_thin:
                self._delete_thin(spec, result, thin_refs)
            return
        self.dmsetup.call('remove', name, force=spec.force, deferred=spec.deferred)
        self.refresh()
        if name in self.facts:
            if spec.deferred:
                result['deferred_remove'] = True
                return
            raise DmError('device %s: still listed after dmsetup remove' % name)
        self.wait_for_node(name, present=False)
        if spec.delete_thin:
            self._delete_thin(spec, result, thin_refs)

    # -- thin pools -------------------------------------------------------------------
    def pool_of(self, ref):
        """The name of the thin-pool device a thin segment's pool reference points at (None: not there yet)."""
        name = self.name_of(ref)
        if name is None or name in self.planned or name not in self.facts:
            return None
        if 'thin-pool' not in self.facts.get(name, {}).get('target_types', []):
            raise DmError('thin pool %s: device %s is not a thin-pool (its targets: %s)'
                          % (ref, name, _plural(self.facts.get(name, {}).get('target_types', []))))
        return name

    def thin_users(self, pool, dev_id):
        """Names of the active thin devices that map dev_id of pool."""
        out = []
        for name, table in self.tables.items():
            for seg in table:
                if seg.target_type == 'thin' and 'dev_id' in getattr(seg.target, 'params', {}) \
                        and seg.target.params['dev_id'] == dev_id and self.name_of(seg.target.params['pool']) == pool:
                    out.append(name)
        return out

    def _origin_id(self, spec, pool):
        origin = spec.snapshot_of
        if isinstance(origin, int) or (isinstance(origin, str) and origin.isdigit()):
            return int(origin)
        table = self.tables.get(origin)
        if table is None or origin in self.planned:
            if self.check_mode and origin in self.planned:
                return None
            raise DmError('snapshot_of %s: no such device; expected the name of an active thin device or a dev_id'
                          % origin)
        for seg in table:
            if seg.target_type == 'thin' and self.name_of(seg.target.params['pool']) == pool:
                return seg.target.params['dev_id']
        raise DmError('snapshot_of %s: not a thin device of pool %s' % (origin, pool))

    def _prepare_thin(self, spec, result):
        """Make sure the dev_id of every thin segment exists in its pool (create_thin / create_snap)."""
        if not spec.create_thin:
            return
        for seg in spec.thin_segments():
            dev_id = seg.target.params['dev_id']
            pool = self.pool_of(seg.target.params['pool'])
            if pool is None:
                if self.check_mode:
                    result['changed'] = True
                    continue
                raise DmError('thin %s: pool %s does not exist' % (spec.name, seg.target.params['pool']))
            if self.thin_users(pool, dev_id):
                continue
            if self.check_mode:
                # without a message the kernel cannot be asked whether an unmapped dev_id exists
                result['changed'] = True
                result.setdefault('thin_created', []).append(dev_id)
                continue
            if spec.snapshot_of is None:
                created = self.thin_message(pool, 'create_thin', dev_id)
            else:
                created = self.create_snap(pool, dev_id, self._origin_id(spec, pool))
            if created:
                result['changed'] = True
                result.setdefault('thin_created', []).append(dev_id)

    def thin_message(self, pool, action, *args):
        """Send a thin-pool message; True when it changed the pool, False when it was already so."""
        rc, out, err = self.dmsetup.message(pool, [action] + [str(a) for a in args])
        if rc == 0:
            return True
        text = kernel_message(err, out)
        if action in ('create_thin', 'create_snap') and EEXIST in text:
            return False
        if action == 'delete' and ENODATA in text:
            return False
        raise self.dmsetup.error('message', pool, rc, out, err,
                                 prefix='thin-pool %s: %s %s refused: ' % (pool, action, ' '.join(str(a) for a in args)))

    def create_snap(self, pool, dev_id, origin_id):
        """create_snap with every active device of the origin suspended; each is resumed whatever happens."""
        self.refresh()
        origins = [n for n in self.thin_users(pool, origin_id) if not self.facts[n]['suspended']]
        with self.guarded(origins) as guard:
            suspended = []
            try:
                for name in origins:
                    self.dmsetup.call('suspend', name)
                    suspended.append(name)
                return self.thin_message(pool, 'create_snap', dev_id, origin_id)
            finally:
                failures = []
                for name in suspended:
                    rc, out, err = self.dmsetup.try_call('resume', name)
                    if rc != 0:
                        failures.append('%s: %s' % (name, kernel_message(err, out)))
                self.refresh()
                still = [n for n in suspended if self.facts.get(n, {}).get('suspended')]
                if guard is not None:
                    guard.keep = still
                if still:
                    raise DmError('thin origin(s) %s left suspended after create_snap: %s'
                                  % (', '.join(still), '; '.join(failures)))

    def guarded(self, names):
        """The resume guard around keeping ``names`` suspended (nothing to guard: a null context)."""
        if self._guard is None or not names or self.check_mode:
            return contextlib.nullcontext()
        return self._guard(names)

    def _delete_thin(self, spec, result, refs=None):
        refs = refs if refs is not None else [(seg.target.params['pool'], seg.target.params['dev_id'])
                                              for seg in spec.thin_segments()]
        for pool_ref, dev_id in refs:
            pool = self.pool_of(pool_ref)
            if pool is None:
                continue
            if self.thin_users(pool, dev_id):
                raise DmError('thin %s: dev_id %d of %s is still mapped by %s; not deleted'
                              % (spec.name, dev_id, pool, ', '.join(self.thin_users(pool, dev_id))))
            if self.check_mode:
                continue
            if self.thin_message(pool, 'delete', dev_id):
                result['changed'] = True
                result.setdefault('thin_deleted', []).append(dev_id)

    def pool_status(self, pool):
        for status in self.facts.get(pool, {}).get('status', []):
            if status.get('target_type') == 'thin-pool':
                return status
        return None

    def _metadata_snap(self, spec, result):
        if spec.metadata_snap is None or spec.state == 'absent':
            return
        if spec.table is not None and not any(seg.target_type == 'thin-pool' for seg in spec.table):
            raise DmError('device %s: reserve_metadata_snap applies to thin-pool devices only' % spec.name)
        status = self.pool_status(spec.name)
        held = status is not None and status.get('held_metadata_root') is not None
        if status is None and not self.check_mode:
            raise DmError('device %s: no thin-pool status to read the metadata snapshot from' % spec.name)
        if bool(spec.metadata_snap) == held:
            return
        result['changed'] = True
        if self.check_mode:
            return
        self.thin_message(spec.name, 'reserve_metadata_snap' if spec.metadata_snap else 'release_metadata_snap')
        self.refresh()

    # -- udev -------------------------------------------------------------------------
    def closed_after_unmount(self, names):
        """The facts once the kernel closed ``names``, whose filesystems were just unmounted: the facts read
        before still count the mounts, and udev's probe of a device just closed may hold it open a moment, so
        they are read again until no such device is open from outside dm (up to ``udev_timeout`` seconds; a
        device still open then is refused by the removal, naming its open count). In check mode nothing was
        unmounted: the planned unmounts are taken off the open counts."""
        if self.check_mode:
            for name in names:
                dev = self.facts.get(name)
                if dev is not None:
                    dev['open_count'] = len(dev['names_using_dev'])
            return
        deadline = time.time() + self.udev_timeout
        while True:
            self.refresh()
            busy = [n for n in names if n in self.facts
                    and self.facts[n]['open_count'] > len(self.facts[n]['names_using_dev'])]
            if not busy or time.time() >= deadline:
                return
            self._sleep(0.1)

    def wait_for_node(self, name, present=True):
        """Wait until /dev/mapper/NAME exists (or is gone); ``dmsetup mknodes`` as a last resort."""
        path = MAPPER + name
        deadline = time.time() + self.udev_timeout
        while self._exists(path) != present:
            if time.time() >= deadline:
                self.dmsetup.try_call('mknodes', name)
                if self._exists(path) != present:
                    raise DmError('%s: %s after %d s of waiting for udev and a dmsetup mknodes'
                                  % (path, 'missing' if present else 'still there', self.udev_timeout))
                break
            self._sleep(0.1)


def _topological(specs, uses):
    """Stable order in which every spec comes after the specs it uses."""
    names = [s.name for s in specs]
    deps = dict((s.name, set(uses(s)) & set(names)) for s in specs)
    done, out = set(), []
    while len(out) < len(specs):
        ready = [s for s in specs if s.name not in done and deps[s.name] <= done]
        if not ready:
            cycle = [n for n in names if n not in done]
            raise DmError('devices: %s use each other in a cycle' % ', '.join(cycle))
        for s in ready:
            done.add(s.name)
            out.append(s)
    return out
