# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault trials on the stacks this collection built (module dm_fault_trial, playbook fault.yml).

One trial: a fault put under one carved layer of a stack (``dm_fault``'s own inject, record and
heal), a workload on the stack's top devices for a while (reads of the known data, writes past
it, each timed), what every layer of the stack reports meanwhile (``_dm.status``: the pool's or
the cache's mode and flags, the era, the mounts of filesystems on the volumes), the heal, what
the layers report afterwards, and the known data compared with the checksums of the stack's
record. ``did`` says in words what each layer did; the playbook's report only prints it.

``StackView`` reads a stack's record (``<dir>/<name>/state.json``) for its top devices and its
known data; the I/O goes through ``io`` (``TrialIO``), replaced in unit tests.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import mmap
import os
import time

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import FaultRunner
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.base import (
    IO_BLOCK, WORKLOAD_BYTES, HostTools, StateRecord, remount_argv, sha256_direct)
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.names import (
    CARVED_LAYERS, device_names, layer_device, validate_stack_name)

MAPPER = '/dev/mapper/'
DEFAULT_LAYER = {'thin': 'data', 'cache': 'origin', 'era': 'origin'}
DEFAULT_FAULTS = [
    {'fault': {'type': 'error'}},
    {'fault': {'type': 'flakey', 'up_interval': 1, 'down_interval': 1}},
    {'fault': {'type': 'delay', 'read_ms': 100, 'write_ms': 100}},
]
# the writes of a trial: this many 64 KiB blocks right after the known data
SCRATCH_BLOCKS = 4
# the filesystems a trial's recovery checks (e2fsck), and e2fsck's exit codes that mean it is clean
# now (0: no errors, 1: errors fixed, 2: fixed, reboot wanted: a mounted root, never ours)
FSCK_TYPES = ('ext2', 'ext3', 'ext4')
FSCK_FIXED = (0, 1, 2)
FSCK_RC_WORDS = {0: 'clean', 1: 'errors fixed', 2: 'errors fixed', 4: 'errors left', 8: 'operational error'}
STATUS_KEYS = {
    'thin-pool': ('mode', 'read_only', 'needs_check', 'failed', 'out_of_data_space', 'used_data_blocks',
                  'transaction_id'),
    'cache': ('metadata_mode', 'read_only', 'needs_check', 'failed', 'dirty_blocks', 'read_hits', 'read_misses',
              'write_hits', 'write_misses'),
    'era': ('current_era', 'failed'),
    'thin': ('mapped_sectors', 'failed'),
}


class TrialIO(object):
    """Timed direct I/O of 64 KiB blocks; each call returns (ok, error text, milliseconds)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock

    def _op(self, path, offset, write, create=False):
        flags = (os.O_WRONLY if write else os.O_RDONLY) | getattr(os, 'O_DIRECT', 0)
        if create:
            flags |= os.O_CREAT
        buf = mmap.mmap(-1, IO_BLOCK)
        started = self.clock()
        fd = None
        try:
            fd = os.open(path, flags, 0o600)
            if write:
                buf.write(b'sts.devicemapper fault trial\n'.ljust(64, b'.') * (IO_BLOCK // 64))
                done = os.pwritev(fd, [buf], offset)
                os.fsync(fd)
            else:
                done = os.preadv(fd, [buf], offset)
            error = None if done == IO_BLOCK else \
                'short %s (%d of %d bytes)' % ('write' if write else 'read', done, IO_BLOCK)
        except OSError as exc:
            error = os.strerror(exc.errno) if exc.errno else str(exc)
        finally:
            if fd is not None:
                os.close(fd)
            buf.close()
        return error is None, error, round((self.clock() - started) * 1000.0, 1)

    def read(self, path, offset):
        return self._op(path, offset, False)

    def write(self, path, offset, create=False):
        return self._op(path, offset, True, create)

    @staticmethod
    def sha256(path, nbytes):
        return sha256_direct(path, nbytes)

    @staticmethod
    def fs_errors(source):
        """The errors ext4 has recorded on the filesystem of block device ``source`` since it was mounted
        (``/sys/fs/ext4/<kernel name>/errors_count``), None for another filesystem. Since kernel 6.6 an
        ext4 that met an error stops writing without a read-only flag in the mount table (emergency
        read-only): this count is what tells."""
        path = '/sys/fs/ext4/%s/errors_count' % os.path.basename(os.path.realpath(source))
        try:
            with open(path) as handle:
                return int(handle.read().strip() or 0)
        except (IOError, OSError, ValueError):
            return None

    @staticmethod
    def remove(path):
        try:
            os.unlink(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise


class StackView(object):
    """A stack as its record tells: ``known`` [(volume, device, bytes, sha256)], ``watch`` (the layers to
    report: name -> role), ``top`` (the devices the workload uses)."""

    def __init__(self, kind, name, directory):
        if kind not in CARVED_LAYERS:
            raise DmError('stacks: kind %r: expected one of %s' % (kind, ', '.join(sorted(CARVED_LAYERS))))
        self.kind, self.name = kind, validate_stack_name(name, 'stacks: name')
        self.record = StateRecord(os.path.join(directory, name))
        data = self.record.load()
        if not data:
            raise DmError('%s stack %s: no record at %s; expected a stack built by dm_%s_stack (or its role)'
                          % (kind, name, self.record.path, kind))
        names = device_names(kind, name)
        self.known = []
        if kind == 'thin':
            sums = data.get('checksums') or {}
            self.top = list(data.get('volumes') or []) + list(data.get('snapshots') or [])
            self.writable = list(data.get('volumes') or [])
            self.known = [(v, MAPPER + v, WORKLOAD_BYTES, sums[v]) for v in self.top if v in sums]
            self.watch = dict([(names['pool'], 'pool')] + [(v, 'thin') for v in self.top])
        else:
            top = names[kind]
            self.top, self.writable = [top], [top]
            workload = data.get('workload') or {}
            if workload.get('sha256'):
                self.known = [(top, MAPPER + top, int(workload['bytes']), workload['sha256'])]
            self.watch = {top: kind}
        self.known_bytes = dict((v, n) for v, _d, n, _s in self.known)


def _fs_errors_words(count):
    """' (ext4 recorded N errors: ...)' for a count above 0, else ''."""
    if not count:
        return ''
    return ' (ext4 recorded %s error%s: it writes no more)' % (str(count), '' if count == 1 else 's')


def layer_report(host, view, mounts, fs_errors=None):
    """What every watched layer of the stack reports now: name -> {role, status fields, suspended}; and the
    filesystems on its top devices: mount point -> 'ro' or 'rw', with the errors ext4 recorded when there
    are (``fs_errors(source)``: a count or None)."""
    out = {}
    for name, role in sorted(view.watch.items()):
        dev = host.facts.get(name)
        if dev is None:
            out[name] = {'role': role, 'present': False}
            continue
        row = {'role': role, 'present': True, 'suspended': bool(dev['suspended'])}
        for status in dev.get('status') or []:
            keys = STATUS_KEYS.get(status.get('target_type'), ())
            row.update((k, status.get(k)) for k in keys if k in status)
            row['failed'] = bool(status.get('failed'))
            row['status'] = status.get('raw')
        out[name] = row
    filesystems = {}
    for mount in mounts:
        source = mount['source']
        if source in [MAPPER + t for t in view.top]:
            filesystems[mount['target']] = ('ro' if 'ro' in mount['options'].split(',') else 'rw') + _fs_errors_words(
                fs_errors(source) if fs_errors is not None else None)
    return out, filesystems


def _words(row):
    if not row.get('present'):
        return 'gone'
    if row.get('failed'):
        return 'failed (status %s)' % row.get('status')
    words = []
    if row['role'] == 'pool':
        words.append('mode %s' % row.get('mode'))
        if row.get('needs_check'):
            words.append('needs_check')
    elif row['role'] == 'cache':
        words.append('metadata %s' % row.get('metadata_mode'))
        if row.get('needs_check'):
            words.append('needs_check')
    elif row['role'] == 'era':
        words.append('era %s' % row.get('current_era'))
    else:
        words.append('active')
    if row.get('suspended'):
        words.append('SUSPENDED')
    return ', '.join(words)


def did(before, during, after, fs_during, fs_after):
    """Sentences: what each layer did under the fault and after the heal."""
    out = []
    for name in sorted(during):
        b, d, a = _words(before.get(name, {})), _words(during[name]), _words(after.get(name, {}))
        role = during[name]['role']
        if role == 'thin' and b == d == a:
            continue
        line = '%s %s: %s' % (role, name, d if b == d else '%s -> %s under the fault' % (b, d))
        line += ', %s after the heal' % a if a != d else ', so after the heal too'
        if role == 'cache' and during[name].get('present') and before.get(name, {}).get('present'):
            hits = (during[name].get('read_hits') or 0) - (before[name].get('read_hits') or 0)
            misses = (during[name].get('read_misses') or 0) - (before[name].get('read_misses') or 0)
            line += ' (%d reads served from the cache, %d from the origin meanwhile)' % (hits, misses)
        out.append(line)
    thins = [n for n in during if during[n]['role'] == 'thin']
    steady = [n for n in thins if _words(before.get(n, {})) == _words(during[n]) == _words(after.get(n, {}))]
    if steady:
        out.append('thin devices %s: active throughout' % ', '.join(sorted(steady)))
    for target in sorted(set(fs_during) | set(fs_after)):
        out.append('filesystem on %s: %s under the fault, %s after the heal'
                   % (target, fs_during.get(target, 'not mounted'), fs_after.get(target, 'not mounted')))
    return out


def data_words(data, recovery=None):
    """The known data after the heal, in words: verified, DIFFERS, UNREADABLE (why), or no known data; with
    'after the recovery of FILESYSTEMS' when filesystems had to be checked and mounted again first."""
    if data is None:
        return 'not checked (check mode)'
    if not data:
        return 'no known data'
    unreadable = sorted(set(d['unreadable'] for d in data if d.get('unreadable')))
    if unreadable:
        words = 'UNREADABLE (%s)' % ', '.join(unreadable)
    else:
        words = 'verified' if all(d['intact'] for d in data) else 'DIFFERS'
    if recovery:
        words += ' after the recovery of %s' % ', '.join(r['filesystem'] for r in recovery)
    return words


def recovery_words(row):
    """One sentence: how a filesystem's recovery after the heal went, step by step."""
    names = {'umount': 'unmounted', 'e2fsck': 'e2fsck -f -p', 'mount': 'mounted again'}
    steps = []
    for step in row['steps']:
        if step['argv'] is None:
            steps.append(step['output'])
            continue
        name = names.get(step['argv'][0], step['argv'][0])
        if step['argv'][0] == 'e2fsck':
            name += ' rc %d (%s)' % (step['rc'], FSCK_RC_WORDS.get(step['rc'], 'failed'))
        elif step['rc'] != 0:
            name = '%s FAILED (rc %d: %s)' % (step['argv'][0], step['rc'], step['output'] or 'no output')
        steps.append(name)
    return 'filesystem on %s: its known data unreadable after the heal; %s: %s' % (
        row['filesystem'], ', '.join(steps), 'recovered' if row['recovered'] else 'NOT recovered')


def io_summary(ops):
    """ops: [(kind, ok, error, ms)] -> counts, slowest, the distinct errors."""
    out = {'reads_ok': 0, 'reads_failed': 0, 'writes_ok': 0, 'writes_failed': 0, 'slowest_read_ms': None,
           'slowest_write_ms': None, 'errors': []}
    for kind, ok, error, ms in ops:
        out['%ss_%s' % (kind, 'ok' if ok else 'failed')] += 1
        key = 'slowest_%s_ms' % kind
        out[key] = ms if out[key] is None else max(out[key], ms)
        if error and error not in out['errors']:
            out['errors'].append(error)
    return out


def io_words(io):
    text = 'reads %d ok, %d failed; writes %d ok, %d failed' % (io['reads_ok'], io['reads_failed'], io['writes_ok'],
                                                                io['writes_failed'])
    slow = [('read', io['slowest_read_ms']), ('write', io['slowest_write_ms'])]
    text += ''.join('; slowest %s %.0f ms' % (k, v) for k, v in slow if v is not None)
    if io['errors']:
        text += ' (%s)' % ', '.join(io['errors'])
    return text


class FaultTrialRunner(FaultRunner):
    """dm_fault_trial: every fault of ``faults`` under every stack of ``stacks``, one after the other."""

    def __init__(self, module, io=None, sleep=time.sleep, clock=time.monotonic):
        super(FaultTrialRunner, self).__init__(module)
        self.io = io or TrialIO()
        self.sleep = sleep
        self.clock = clock

    def trials(self):
        """(view, layer, item) for every stack and fault, checked before anything is touched."""
        p = self.params
        out = []
        views = [StackView(s.get('kind'), s.get('name'), s.get('dir') or '/var/lib/sts-devicemapper')
                 for s in p['stacks'] or []]
        if not views:
            raise DmError('stacks: expected at least one stack ({kind, name})')
        faults = p.get('faults') or DEFAULT_FAULTS
        for view in views:
            for item in faults:
                layer = item.get('layer') or DEFAULT_LAYER[view.kind]
                layer_device(view.kind, view.name, layer)
                if not isinstance(item.get('fault'), dict):
                    raise DmError('faults: item %r: expected a fault (a dict with a type, as dm_fault takes)' % (item,))
                duration = item.get('duration') if item.get('duration') is not None else p['duration']
                if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration <= 3600:
                    raise DmError('faults: duration %r: expected seconds from 0 to 3600' % (duration,))
                out.append((view, layer, dict(item, duration=duration)))
        return out

    def run(self):
        base = dict(self.params)
        trials = self.trials()
        host = self.host(base.get('udev_timeout') or 10)
        tools = HostTools(self.run_argv)
        report = []
        try:
            for view, layer, item in trials:
                report.append(self.trial(host, tools, base, view, layer, item))
        finally:
            self.params = base
        problems = []
        for t in report:
            where = '%s stack %s, %s under %s' % (t['kind'], t['stack'], t['fault']['type'], t['layer'])
            if t['healed'] is False:
                problems.append('%s: not healed (table %s)' % (where, '; '.join(t['table_after'])))
            if t['data_verified'] is False:
                differs = [d['volume'] for d in t['data'] if not d['intact'] and not d.get('unreadable')]
                unreadable = ['%s: %s' % (d['volume'], d['unreadable']) for d in t['data'] if d.get('unreadable')]
                if differs:
                    problems.append('%s: the known data differs after the heal (%s)' % (where, ', '.join(differs)))
                if unreadable:
                    problems.append('%s: the known data cannot be read after the heal (%s)' % (where, ', '.join(unreadable)))
        self.result = dict(changed=True, trials=report, problems=problems,
                           data_verified=None if self.check_mode else all(t['data_verified'] is not False
                                                                          for t in report))

    def step(self, host, base, name, stack, **params):
        """One dm_fault step (inject or heal) of ``name``; returns its result."""
        self.params = dict(base, replace=False, start=None, length=None, fault=None)
        self.params.update(params)
        self.result = dict(changed=False)
        self.fault_device(host, name, stack)
        return self.result

    def trial(self, host, tools, base, view, layer, item):
        name = layer_device(view.kind, view.name, layer)
        stack = {'kind': view.kind, 'name': view.name, 'layer': layer}
        host.refresh()
        before, _fs = layer_report(host, view, [])
        out = {'stack': view.name, 'kind': view.kind, 'layer': layer, 'device': name, 'fault': item['fault'],
               'duration': item['duration'], 'before': before}
        injected = self.step(host, base, name, stack, state='injected', fault=item['fault'], start=item.get('start'),
                             length=item.get('length'))
        out.update(fault=injected.get('fault', item['fault']), start=injected.get('start'),
                   length=injected.get('length'), table_injected=injected.get('table'))
        if self.check_mode:
            out.update(io=None, during=None, after=None, did=[], healed=None, data=[], data_verified=None,
                       data_words=data_words(None), table_after=injected.get('table'))
            return out
        try:
            mounts = tools.mount_rows()
            ops = self.workload(view, mounts, item['duration'])
            host.refresh()
            during, fs_during = layer_report(host, view, tools.mount_rows(), self.fs_errors)
        finally:
            healed = self.step(host, base, name, stack, state='healed')
        host.refresh()
        mounts = tools.mount_rows()
        after, fs_after = layer_report(host, view, mounts, self.fs_errors)
        io = io_summary(ops)
        data = self.verify(view, mounts)
        first_data, recovery = data, []
        if self.params.get('recover', True) and any(d.get('unreadable') for d in data):
            recovery = self.recover_filesystems(view, mounts, data)
            if recovery:
                data = self.verify(view, tools.mount_rows())
        out.update(io=io, io_words=io_words(io), during=during, after=after,
                   did=did(before, during, after, fs_during, fs_after) + [recovery_words(r) for r in recovery],
                   healed=healed.get('table') == injected.get('healthy_table'), table_after=healed.get('table'),
                   recovery=recovery, data_before_recovery=first_data if recovery else None,
                   data=data, data_verified=all(d['intact'] for d in data) if data else None,
                   data_words=data_words(data, recovery))
        return out

    def fs_errors(self, source):
        """The io's ext4 error count of ``source`` (an io without the call: none known)."""
        count = getattr(self.io, 'fs_errors', None)
        if count is None:
            return None
        return count(source)

    def recover_filesystems(self, view, mounts, data):
        """After the heal: every ext2/3/4 filesystem on a top device whose known data cannot be read (since
        kernel 6.6 an ext4 that met write errors shuts itself down: reads fail with EIO until it is mounted
        again) unmounted, checked with ``e2fsck -f -p`` (fixing only what is safe) and mounted again with
        its options; mounted again also when the check fails. [{filesystem, device, fstype, steps,
        recovered}], one per filesystem tried; each step {argv, rc, output}."""
        unreadable = [d['path'] for d in data if d.get('unreadable')]
        out = []
        for mount in mounts:
            source, target, fstype = mount['source'], mount['target'], mount['fstype']
            if source not in [MAPPER + t for t in view.top]:
                continue
            if not any(path.startswith(target.rstrip('/') + '/') for path in unreadable):
                continue
            row = {'filesystem': target, 'device': source, 'fstype': fstype, 'steps': [], 'recovered': False}
            out.append(row)
            if fstype not in FSCK_TYPES:
                row['steps'].append({'argv': None, 'rc': None, 'output': 'no check for a %s filesystem' % fstype})
                continue
            if not self._recovery_step(row, ['umount', target], (0,)):
                continue
            checked = self._recovery_step(row, ['e2fsck', '-f', '-p', source], FSCK_FIXED)
            mounted = self._recovery_step(row, remount_argv(mount), (0,))
            row['recovered'] = checked and mounted
        return out

    def _recovery_step(self, row, argv, ok):
        rc, stdout, stderr = self.run_argv(argv, None)
        row['steps'].append({'argv': argv, 'rc': rc, 'output': ((stderr or '') + (stdout or '')).strip()[-400:]})
        return rc in ok

    def places(self, view, mounts):
        """(volume, path to read, path to write or None, known bytes): a device, or files in its mounted filesystem."""
        mounted = dict((m['source'], m['target']) for m in mounts)
        out = []
        for volume in view.top:
            device = MAPPER + volume
            known = view.known_bytes.get(volume, WORKLOAD_BYTES)
            if device in mounted:
                read = os.path.join(mounted[device], '%s_workload.bin' % view.name)
                write = os.path.join(mounted[device], '.%s_fault_trial.bin' % view.name)
                out.append((volume, read, write if volume in view.writable else None, known, True))
            else:
                out.append((volume, device, device if volume in view.writable else None, known, False))
        return out

    def workload(self, view, mounts, duration):
        """Reads of the known data and writes past it, on every top device in turn, for ``duration`` seconds."""
        ops = []
        places = self.places(view, mounts)
        until = self.clock() + duration
        turn = 0
        while True:
            for _volume, read, write, known, is_file in places:
                offset = (turn * IO_BLOCK) % known
                ok, error, ms = self.io.read(read, offset)
                ops.append(('read', ok, error, ms))
                if write:
                    at = (turn % SCRATCH_BLOCKS) * IO_BLOCK + (0 if is_file else known)
                    ok, error, ms = self.io.write(write, at, create=is_file)
                    ops.append(('write', ok, error, ms))
            turn += 1
            if self.clock() >= until:
                break
        for _volume, _read, write, _known, is_file in places:
            if write and is_file:
                self.io.remove(write)
        return ops

    def verify(self, view, mounts):
        mounted = dict((m['source'], m['target']) for m in mounts)
        rows = []
        for volume, device, nbytes, expected in view.known:
            path = device
            if device in mounted:
                path = os.path.join(mounted[device], '%s_workload.bin' % view.name)
            unreadable = None
            try:
                got = self.io.sha256(path, nbytes)
            except (IOError, OSError, DmError) as exc:
                unreadable = getattr(exc, 'msg', None) or (os.strerror(exc.errno) if getattr(exc, 'errno', None) else str(exc))
                got = 'unreadable: %s' % (getattr(exc, 'msg', None) or exc)
            rows.append({'volume': volume, 'path': path, 'sha256': got, 'expected': expected, 'intact': got == expected,
                         'unreadable': unreadable})
        return rows
