# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metadata recovery of a raw-dm thin pool (module dm_thin_repair, playbook repair.yml).

``ThinRepair(host, dmpd, tools, record, ...)`` takes a pool through these steps, each one
idempotent, with the state between them kept in a record on the host (``RepairRecord``: the
pool's table, the tables of its users, their mounts), written before anything is stopped:

1. why: the pool's status (needs_check, read-only, failed) or ``thin_check`` of its metadata
   through a metadata snapshot; a healthy pool is left alone (unless ``force``);
2. stop: the filesystems on its users unmounted, its users (thin devices and any dm device
   above them) removed in dependency order, and the pool's table replaced by ``error`` through
   a reload (the thin-pool target lets go of its metadata; the device and its devno stay, so
   the users' tables still name it). Nothing is suspended but for the kernel's own swap;
3. repair: the damaged metadata copied to a backup file first, ``thin_repair`` into the spare
   (retried with the superblock's figures from the record when the superblock itself is
   unreadable), ``thin_check`` of the spare (clearing a needs_check flag the repair kept when
   it passes), and the spare's thin devices read back
   (``thin_dump --skip-mappings``): a spare that does not pass, or lacks a thin device the
   users need, leaves the pool deactivated, with its record, and fails;
4. swap: the pool's table reloaded with the spare as its metadata device;
5. start: the users made again from their recorded tables, the filesystems mounted again;
6. verify: the pool's status, and the known data of a thin stack's volumes against the
   checksums in the stack's record.

A run killed at any step leaves the record; the next run goes on from the step it names.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import time

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import DmRunner
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DeviceSpec
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Table, validate_name
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.parsers import parse_check, parse_thin_devices
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.base import (
    WORKLOAD_BYTES, HostTools, StackRunner, StateRecord, sha256_direct)
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd import metadata as md
from ansible_collections.sts.devicemapper.plugins.module_utils._json_file import save_json

MAPPER = '/dev/mapper/'
RECORD_DIR = '/var/lib/sts-devicemapper/repairs'
PHASES = ('stopping', 'deactivated', 'swapped')


def devno_path(devno, sys_root='/sys/dev/block'):
    """``/dev/NAME`` of a ``major:minor`` (from sysfs); a path is returned as it is."""
    if not devno or devno.startswith('/'):
        return devno
    try:
        with open(os.path.join(sys_root, devno, 'uevent')) as handle:
            for line in handle:
                if line.startswith('DEVNAME='):
                    return '/dev/' + line.strip().split('=', 1)[1]
    except (IOError, OSError):
        pass
    raise DmError('device %s: no block device with that number on this host (%s/%s)' % (devno, sys_root, devno))


class RepairRecord(object):
    """The record of one pool's repair: ``directory/POOL.json``, written whole (temporary file, synced, renamed)."""

    def __init__(self, directory, pool):
        if not directory or not os.path.isabs(directory):
            raise DmError('record_dir %r: expected an absolute path' % (directory,))
        self.directory = directory
        self.pool = validate_name(pool)
        self.path = os.path.join(directory, self.pool + '.json')

    def load(self):
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (IOError, OSError, ValueError) as exc:
            raise DmError('repair record %s: cannot be read (%s); expected what dm_thin_repair wrote' % (self.path, exc))
        keys = ('pool', 'phase', 'pool_table', 'metadata', 'users', 'mounts')
        if not isinstance(data, dict) or any(k not in data for k in keys) or data['pool'] != self.pool \
                or data['phase'] not in PHASES:
            raise DmError('repair record %s: expected the keys %s for pool %s and a phase of %s; look at the pool, '
                          'then remove the file' % (self.path, ', '.join(keys), self.pool, ', '.join(PHASES)))
        return data

    def save(self, data):
        save_json(self.path, dict(data, pool=self.pool))

    def remove(self):
        if os.path.exists(self.path):
            os.unlink(self.path)


class RepairTools(HostTools):
    """HostTools plus the raw copy of a device."""

    def copy_sparse(self, src, dest):
        self.change(['cp', '--sparse=always', src, dest])


class ThinRepair(object):
    """One pool's recovery (the module docstring says the steps); ``actions`` lists what changed, in order.

    ``host``: a DmHost; ``dmpd``: a ``_dmpd.tools.Dmpd``; ``tools``: RepairTools; ``io``: sha256
    reads, block-device probes and the clock, replaced in unit tests."""

    def __init__(self, host, dmpd, tools, record, check_mode=False, warn=None, io=None):
        self.host = host
        self.dmpd = dmpd
        self.tools = tools
        self.record = record
        self.pool = record.pool
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.io = dict(sha256=sha256_direct, superblock=md.read_superblock, size=md.device_size,
                       held=md.holders, stat=os.stat, stamp=lambda: time.strftime('%Y%m%dT%H%M%S'))
        self.io.update(io or {})
        self.actions = []
        self.result = dict(pool=self.pool, reasons=[], repaired=False, backup_file=None, data=[], data_intact=None)

    def act(self, text):
        self.actions.append(text)

    # -- what is there ------------------------------------------------------------------
    def pool_table(self):
        table = self.host.tables.get(self.pool)
        if table is None or [seg.target_type for seg in table] != ['thin-pool']:
            return None
        return table

    def users(self):
        """Every dm device above the pool (its thins and what holds them), in no order."""
        found, todo = [], [self.pool]
        while todo:
            name = todo.pop()
            for holder in self.host.facts.get(name, {}).get('names_using_dev', []):
                if holder not in found and holder != self.pool:
                    found.append(holder)
                    todo.append(holder)
        return sorted(found)

    def reasons(self, status, force):
        """Why the pool's metadata needs a repair, from its status; empty when it says nothing."""
        out = []
        if status is None or status.get('failed'):
            out.append('the pool %s has failed (status %s)' % (self.pool, (status or {}).get('raw', 'none')))
        else:
            if status.get('needs_check'):
                out.append('the pool %s has needs_check set' % self.pool)
            if status.get('read_only'):
                out.append('the pool %s is read-only (mode %s)' % (self.pool, status.get('mode')))
        if force and not out:
            out.append('force: true')
        return out

    def check_live(self, metadata, status):
        """thin_check of an active pool's metadata through a metadata snapshot; (healthy, findings)."""
        held = status.get('held_metadata_root') is not None
        if not held:
            self.host.thin_message(self.pool, 'reserve_metadata_snap')
        try:
            res = self.dmpd.run('thin_check', input=metadata, metadata_snap=True)
        finally:
            if not held:
                self.host.thin_message(self.pool, 'release_metadata_snap')
        return self.verdict(res)

    def check(self, path, clear_needs_check=False):
        """thin_check of path; (healthy, findings). ``clear_needs_check``: a check that passes also clears
        the superblock's needs_check flag (only for metadata this run wrote: the spare)."""
        options = dict(clear_needs_check_flag=True) if clear_needs_check else {}
        return self.verdict(self.dmpd.run('thin_check', input=path, **options))

    @staticmethod
    def verdict(res):
        if res.outcome in ('usage', 'unexpected'):
            raise DmError('%s did not run the check (rc=%d, %s): %s'
                          % (res.cmd[0], res.rc, res.outcome, res.stderr.strip()))
        return res.ok, parse_check(res.stdout, res.stderr)['findings']

    # -- the spare ----------------------------------------------------------------------
    def check_spare(self, spare, saved):
        """The spare must be a block device other than the pool's own, not in use, as big as the metadata."""
        if not spare:
            raise DmError('spare: not given; a repair writes the repaired metadata to a spare area (a block device at '
                          'least as big as the metadata device %s) and never over the damaged metadata: give spare'
                          % saved['metadata'])
        try:
            mode = self.io['stat'](spare).st_mode
        except OSError:
            raise DmError('spare %s: does not exist; expected a block device' % spare)
        if not stat.S_ISBLK(mode):
            raise DmError('spare %s: not a block device; expected one (attach a file to a loop device)' % spare)
        spare_devno = self.host.resolve(spare)
        for role in ('metadata', 'data'):
            if spare_devno == self.host.resolve(saved[role]):
                raise DmError('spare %s is the pool\'s %s device %s; expected another device' % (spare, role,
                                                                                                 saved[role]))
        held = self.io['held'](spare)
        if held:
            raise DmError('spare %s is in use (held by %s); expected a device nothing uses' % (spare, ', '.join(held)))
        need, have = self.io['size'](saved['metadata']), self.io['size'](spare)
        if have < need:
            raise DmError('spare %s holds %d bytes; expected at least the %d bytes of the metadata device %s'
                          % (spare, have, need, saved['metadata']))
        superblock = self.io['superblock'](spare)
        if superblock.family and saved.get('spare') != spare:
            raise DmError('spare %s holds %s metadata; expected a spare area with no metadata on it (wipe it first if '
                          'it is no longer needed)' % (spare, superblock.family))

    # -- the steps ----------------------------------------------------------------------
    def repaired(self, spare, force=False, stack_checksums=None):
        """The whole recovery; returns the result dict (``changed`` from ``actions``)."""
        saved = self.record.load()
        if saved is None:
            table = self.pool_table()
            if table is None:
                raise DmError('pool %s: %s; expected an active thin-pool device (or one this module deactivated, '
                              'which has a record in %s)' % (
                                  self.pool, 'no such device' if self.pool not in self.host.facts else
                                  'its table is %s, not thin-pool' % ', '.join(self.host.facts[self.pool]['target_types'])
                                  or 'empty', self.record.directory))
            status = self.host.pool_status(self.pool)
            reasons = self.reasons(status, force)
            metadata, _data = self.devices_of(table)
            if not reasons and self.check_mode:
                # no metadata snapshot is reserved in check mode: the status is all there is to go by
                self.result.update(healthy=None, status_after=status)
                return self.result
            if not reasons:
                healthy, findings = self.check_live(metadata, status)
                if healthy:
                    self.result.update(healthy=True, status_after=status)
                    self.verify(stack_checksums)
                    return self.result
                reasons.append('thin_check of the live metadata through a metadata snapshot failed: %s'
                               % ('; '.join(findings) or 'no output'))
            saved = self.intent(table, status, reasons, save=False)
            self.check_spare(spare, saved)
            self.save_intent(saved)
            if self.check_mode:
                return self.plan(saved, spare)
            self.stop(saved)
        elif self.check_mode:
            return self.plan(saved, spare)
        elif saved['phase'] == 'stopping':
            self.stop(saved)
        self.result['reasons'] = list(saved.get('reasons') or [])
        if saved['phase'] == 'deactivated':
            self.repair(saved, spare, force)
        if saved['phase'] == 'swapped':
            self.start(saved)
        return self.finish(stack_checksums)

    def deactivated(self):
        """Stop the users and deactivate the pool, as for a repair, and leave it so (record kept)."""
        saved = self.record.load()
        if saved is None:
            table = self.pool_table()
            if table is None:
                raise DmError('pool %s: no active thin-pool device of that name' % self.pool)
            status = self.host.pool_status(self.pool)
            saved = self.intent(table, status, self.reasons(status, False))
        if saved['phase'] == 'stopping':
            if self.check_mode:
                self.plan_stop(saved)
            else:
                self.stop(saved)
        self.result.update(record=self.record.path, phase=saved['phase'], reasons=list(saved.get('reasons') or []),
                           users=[u['name'] for u in saved['users']], metadata=saved['metadata'])
        return self.result

    def path_of(self, ref):
        """A table's device reference as a path: /dev/mapper/NAME for a dm device, else /dev/NAME."""
        name = self.host.name_of(ref)
        if name is not None and name in self.host.facts:
            return MAPPER + name
        return devno_path(self.host.resolve(ref))

    def devices_of(self, table):
        seg = table.segments[0]
        return self.path_of(seg.target.params['metadata_dev']), self.path_of(seg.target.params['data_dev'])

    def plan_stop(self, saved):
        for row in sorted(saved['mounts'], key=lambda m: m['target'], reverse=True):
            self.act('unmount %s from %s' % (row['source'], row['target']))
        for user in saved['users']:
            self.act('remove device %s' % user['name'])
        self.act('reload device %s with an error table (the thin-pool target lets go of %s)'
                 % (self.pool, saved['metadata']))

    def plan(self, saved, spare):
        """Check mode: what a run would do from the record's phase on; the spare is checked, nothing changes."""
        self.result['reasons'] = list(saved.get('reasons') or [])
        phase = saved['phase']
        if phase == 'stopping':
            self.plan_stop(saved)
        if phase in ('stopping', 'deactivated'):
            self.check_spare(spare, saved)
            self.act('copy the metadata %s to a backup in %s' % (saved['metadata'], self.record.directory))
            self.act('thin_repair %s into %s, then thin_check %s' % (saved['metadata'], spare, spare))
            self.act('reload device %s with %s as its metadata device' % (self.pool, spare))
        for user in saved['users']:
            self.act('create device %s' % user['name'])
        for row in sorted(saved['mounts'], key=lambda m: m['target']):
            self.act('mount %s on %s' % (row['source'], row['target']))
        self.act('remove the repair record %s' % self.record.path)
        return self.result

    def intent(self, table, status, reasons, save=True):
        """The record of what will be stopped (saved before anything is, unless ``save`` is False)."""
        users = self.users()
        keyed = [u for u in users if any(seg.redacted() != seg.format() for seg in self.host.tables.get(u, []))]
        if keyed:
            raise DmError('pool %s: %s above it hold(s) key material, which a record would keep on disk; remove %s '
                          'yourself, then run again' % (self.pool, ', '.join(keyed), ', '.join(keyed)))
        sources = set(MAPPER + u for u in users)
        mounts = [m for m in self.tools.mount_rows() if m['source'] in sources]
        metadata, data = self.devices_of(table)
        status = status or {}
        saved = dict(phase='stopping', pool_table=table.lines(), metadata=metadata, data=data, reasons=reasons,
                     transaction_id=status.get('transaction_id'), status=status.get('raw'),
                     users=[dict(name=u, table=self.host.tables[u].lines(), uuid=self.host.facts[u].get('uuid') or None,
                                 readonly=bool(self.host.facts[u].get('readonly'))) for u in users],
                     mounts=mounts)
        if save:
            self.save_intent(saved)
        return saved

    def save_intent(self, saved):
        self.act('write the repair record %s' % self.record.path)
        if not self.check_mode:
            self.record.save(saved)

    def stop(self, saved):
        """Unmount, remove the users in dependency order, swap the pool's table for error (each step only if needed)."""
        mounted = set((m['source'], m['target']) for m in self.tools.mount_rows())
        unmounted = []
        for row in sorted(saved['mounts'], key=lambda m: m['target'], reverse=True):
            if (row['source'], row['target']) in mounted:
                self.act('unmount %s from %s' % (row['source'], row['target']))
                self.tools.umount(row['target'])
                unmounted.append(row['source'][len(MAPPER):])
        if unmounted:
            self.host.closed_after_unmount(unmounted)
        present = [u['name'] for u in saved['users'] if u['name'] in self.host.facts]
        if present:
            self.apply([DeviceSpec(name, state='absent') for name in present])
        table = self.pool_table()
        if table is not None:
            error = Table.parse(['0 %d error' % table.length])
            self.apply([DeviceSpec(self.pool, table=error, reload=True)])
        saved['phase'] = 'deactivated'
        if not self.check_mode:
            self.record.save(saved)

    def repair(self, saved, spare, force):
        """Backup, thin_repair into the spare, thin_check of the spare, the pool swapped onto it."""
        metadata = saved['metadata']
        healthy, findings = self.check(metadata) if not self.check_mode else (None, [])
        superblock = self.io['superblock'](metadata)
        why = list(saved.get('reasons') or [])
        if healthy is False:
            why.append('thin_check of %s failed: %s' % (metadata, '; '.join(findings[:4]) or 'no output'))
        if superblock.needs_check:
            why.append('%s has needs_check set in its superblock' % metadata)
        self.result['reasons'] = why
        target = metadata
        if why or force:
            self.check_spare(spare, saved)
            backup = os.path.join(self.record.directory, '%s.%s.meta.bin' % (self.pool, self.io['stamp']()))
            self.act('copy the damaged metadata %s to %s' % (metadata, backup))
            if not self.check_mode:
                # the copy is the owner's alone: cp keeps the mode of the file it writes into
                os.close(os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            self.tools.copy_sparse(metadata, backup)
            self.result['backup_file'] = backup
            saved['spare'] = spare
            if not self.check_mode:
                self.record.save(saved)
            self.act('thin_repair %s into %s' % (metadata, spare))
            if not self.check_mode:
                self.run_repair(saved, metadata, spare)
                # a repair keeps the superblock's flags (0.9.0 does): the kernel would start the pool
                # read-only on a needs_check that the passing check below then clears
                flagged = self.io['superblock'](spare).needs_check
                ok, spare_findings = self.check(spare, clear_needs_check=True)
                if not ok:
                    raise DmError('the metadata repaired into %s does not pass thin_check (%s); the pool %s stays '
                                  'deactivated (error table, not suspended) with its record %s, and its damaged '
                                  'metadata is in %s and %s' % (spare, '; '.join(spare_findings) or 'no output',
                                                                self.pool, self.record.path, metadata, backup))
                self.check_devices(saved, spare, metadata, backup)
                if flagged:
                    self.act('clear the needs_check flag the repair kept in %s (thin_check --clear-needs-check-flag, '
                             'the check passed)' % spare)
            self.result['repaired'] = True
            target = spare
        table = Table.parse(saved['pool_table'])
        seg = table.segments[0]
        seg.target.params['metadata_dev'] = target
        self.apply([DeviceSpec(self.pool, table=Table([seg]), reload=True)])
        saved.update(phase='swapped', pool_table=Table.parse([seg.format()]).lines(), metadata=target)
        self.result['metadata'] = target
        if not self.check_mode:
            self.record.save(saved)

    def run_repair(self, saved, metadata, spare):
        """thin_repair; when the superblock cannot be read, again with its figures from the pool's table and status."""
        res = self.dmpd.run('thin_repair', input=metadata, output=spare)
        if res.ok:
            self.result['cmd'] = res.cmd
            return
        seg = Table.parse(saved['pool_table']).segments[0]
        overrides = dict(data_block_size=seg.target.params['block_size'],
                         nr_data_blocks=seg.length // seg.target.params['block_size'])
        if saved.get('transaction_id') is not None:
            overrides['transaction_id'] = saved['transaction_id']
        self.warn('thin_repair of %s failed (%s); tried again with the superblock\'s figures from the pool\'s table '
                  'and status: %s' % (metadata, res.stderr.strip().splitlines()[-1:] or 'no output',
                                      ', '.join('%s=%s' % kv for kv in sorted(overrides.items()))))
        again = self.dmpd.run_ok('thin_repair', what='thin_repair of %s into %s' % (metadata, spare),
                                 input=metadata, output=spare, **overrides)
        self.result['cmd'] = again.cmd

    def thin_ids(self, saved):
        """dev_id -> name of every thin device of this pool among the recorded users."""
        ids = {}
        for user in saved['users']:
            for seg in Table.parse(user['table']):
                if seg.target_type == 'thin' and self.host.name_of(seg.target.params['pool']) == self.pool:
                    ids[seg.target.params['dev_id']] = user['name']
        return ids

    def check_devices(self, saved, spare, metadata, backup):
        """The repaired metadata must hold every thin device the users need: a repair can lose a device's
        trees and still exit 0 and pass thin_check (thin_repair 0.9.0 picks its roots by a guess when
        the superblock is unreadable), and the pool must not be swapped onto that."""
        res = self.dmpd.run_ok('thin_dump', what='thin_dump of the repaired metadata %s' % spare, input=spare,
                               skip_mappings=True)
        found = parse_thin_devices(res.stdout)
        self.result['devices'] = dict((str(k), v) for k, v in sorted(found.items()))
        wanted = self.thin_ids(saved)
        missing = sorted(d for d in wanted if d not in found)
        if missing:
            raise DmError('the metadata repaired into %s lacks the thin device(s) with dev_id %s (%s); it holds '
                          'dev_id(s) %s. The pool %s stays deactivated (error table, not suspended) with its record '
                          '%s, and its damaged metadata is in %s and %s'
                          % (spare, ', '.join(str(d) for d in missing), ', '.join(wanted[d] for d in missing),
                             ', '.join(str(d) for d in sorted(found)) or 'none', self.pool, self.record.path,
                             metadata, backup))

    def start(self, saved):
        """The users from their recorded tables (dependency order), then the filesystems."""
        specs = [DeviceSpec(u['name'], table=Table.parse(u['table']), uuid=u.get('uuid'), readonly=u.get('readonly'),
                            create_thin=False) for u in saved['users']]
        if specs:
            self.apply(specs)
        mounted = set((m['source'], m['target']) for m in self.tools.mount_rows())
        for row in sorted(saved['mounts'], key=lambda m: m['target']):
            if (row['source'], row['target']) not in mounted:
                self.act('mount %s on %s' % (row['source'], row['target']))
                self.tools.remount(row)
        self.act('remove the repair record %s' % self.record.path)
        if not self.check_mode:
            self.record.remove()

    def apply(self, specs):
        try:
            results = self.host.apply(specs)
        except DmError as exc:
            for r in exc.details.get('devices', []):
                if r['changed']:
                    self.act('%s device %s' % ('remove' if r['state'] == 'absent' else 'change', r['name']))
            raise
        for r in results:
            if r['changed']:
                self.act('%s device %s' % ('remove' if r['state'] == 'absent' else
                                           ('create' if not r['before'].get('exists') else 'reload'), r['name']))
        return results

    # -- after --------------------------------------------------------------------------
    def finish(self, stack_checksums):
        if not self.check_mode:
            self.host.refresh()
        status = self.host.pool_status(self.pool)
        self.result['status_after'] = status
        self.result['healthy'] = bool(status) and not self.reasons(status, False)
        self.verify(stack_checksums)
        return self.result

    def verify(self, stack_checksums):
        """The known data of the thin stack's volumes against its record's checksums (a volume with a mounted
        filesystem holds it in ``<mount>/<stack>_workload.bin``)."""
        if not stack_checksums or self.check_mode:
            return
        stack, sums = stack_checksums
        mounts = dict((m['source'], m['target']) for m in self.tools.mount_rows())
        rows = []
        for volume, expected in sorted(sums.items()):
            target = MAPPER + volume
            if target in mounts:
                target = os.path.join(mounts[target], '%s_workload.bin' % stack)
            try:
                got = self.io['sha256'](target, WORKLOAD_BYTES)
            except (IOError, OSError, DmError) as exc:
                got = 'unreadable: %s' % (getattr(exc, 'msg', None) or exc)
            rows.append(dict(volume=volume, path=target, sha256=got, expected=expected, intact=got == expected))
        self.result['data'] = rows
        self.result['data_intact'] = all(r['intact'] for r in rows)


def stack_checksums(stack, directory):
    """(stack, {volume: sha256}) from a thin stack's record, or None without a stack."""
    if not stack:
        return None
    record = StateRecord(os.path.join(directory or '/var/lib/sts-devicemapper', stack))
    data = record.load()
    if not data:
        raise DmError('stack %s: no record at %s; expected a thin stack built by dm_thin_stack' % (stack, record.path))
    sums = data.get('checksums') or {}
    if not sums:
        raise DmError('stack %s: its record %s holds no workload checksums; expected a stack built with workload: true'
                      % (stack, record.path))
    return stack, sums


class ThinRepairRunner(DmRunner):
    """dm_thin_repair: one pool, ``state: repaired`` (the whole recovery) or ``deactivated`` (stopped, recorded)."""

    locks = True
    run_tool = StackRunner.run_tool

    def __init__(self, module):
        super(ThinRepairRunner, self).__init__(module)
        self._bins = {}

    def run(self):
        p = self.params
        record = RepairRecord(p['record_dir'], p['pool'])
        sums = stack_checksums(p.get('stack'), p.get('stack_dir')) if p['state'] == 'repaired' else None
        host = self.host(p.get('udev_timeout') or 10, run=self.run_tool)
        repair = ThinRepair(host, Dmpd(self.module), RepairTools(self.run_tool, self.check_mode), record,
                            check_mode=self.check_mode, warn=self.module.warn)
        before = record.load()
        try:
            if p['state'] == 'deactivated':
                repair.deactivated()
            else:
                repair.repaired(p.get('spare'), force=p['force'], stack_checksums=sums)
        finally:
            self.result.update(repair.result, changed=bool(repair.actions), actions=repair.actions,
                               commands=repair.tools.changes + host.dmsetup.commands, record=record.path)
        after = record.load() if not self.check_mode else before
        self.set_diff(_record_text(before), _record_text(after))
        if p['state'] == 'repaired' and self.result.get('data_intact') is False:
            bad = [r['volume'] for r in self.result['data'] if not r['intact']]
            raise DmError('pool %s is active again, but the data of %s does not match the workload\'s checksums'
                          % (p['pool'], ', '.join(bad)))
        if p['state'] == 'repaired' and not self.check_mode and not self.result.get('healthy'):
            raise DmError('pool %s: still not healthy after the repair (status %s)'
                          % (p['pool'], (self.result.get('status_after') or {}).get('raw')))


def _record_text(record):
    return json.dumps(record, indent=1, sort_keys=True) + '\n' if record else ''
