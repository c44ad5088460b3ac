# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cache stack (module dm_cache_stack, role cache_stack): planned and applied in one module run.

``CacheConfig(params)`` reads and checks every parameter, naming each wrong value;
``CacheStack(config, run, dmpd, ...)`` builds, verifies or tears the stack down:

- backing: three given disks (metadata, cache, origin, used whole), one given disk carved with
  linear targets (``<name>_cmeta`` first, ``<name>_cdata``, ``<name>_corig`` the rest), or a
  sparse file ``<dir>/<name>/backing.img`` on a loop device, carved the same way;
- the record ``<dir>/<name>/state.json`` has the keys the Jinja role wrote (``role``, ``name``,
  ``backing``, ``image``, ``dm_devices``, the three device paths, ``workload``), so a host built by
  the role is recognised and converges unchanged; it is written before anything is created, so
  a teardown after a failure finds everything;
- safe mode, when the stack is first built on given disks (no record, no cache device): wipefs
  signatures, mounts and users (lsblk) refuse the disks; then the first 4 KiB of the metadata
  area are zeroed so that the kernel formats fresh metadata;
- one ``DmHost.apply`` batch (carve-outs, cache; a changed mode or policy is swapped in through the
  inactive slot; a carve-out that differs is refused before anything changes);
- with ``stats``, an I/O statistics region on the cache device before anything writes it;
- the known data (4 KiB lines naming their number) written through the cache once, compared on
  every run and written again when it differs;
- verification: ``cache_check`` of the live metadata through a read-only linear view, the cache
  suspended meanwhile (the kernel commits its metadata) and resumed whatever fails; the status;
- teardown: the cleaner policy swapped in, the dirty blocks waited for (``clean_timeout``), the
  cache removed, ``cache_check`` of its metadata and the known data read back from the origin;
  with ``verify`` a failure stops there (carve-outs and origin are left for a look); then the
  carve-outs, the loop device and the stack's directory.

``cache_status`` reads the cache target's parsed status from what DmHost discovered.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import re
import shutil
import time

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DeviceSpec
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Segment, Table
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import Cache, DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.parsers import parse_check
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.base import (
    Stack, StackRunner, occupied)
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.names import device_names
from ansible_collections.sts.devicemapper.plugins.module_utils._units import SizeError, to_bytes, to_sectors

MAPPER = '/dev/mapper/'
ROLE = 'sts.devicemapper.cache_stack'
MODES = ('writethrough', 'writeback', 'passthrough')
POLICIES = ('smq', 'cleaner')
# the role's rule: a letter or digit first (the other stacks allow any of _ . + - first)
NAME_RE = re.compile(r'\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}\Z')
LINE = 4096
IO_BLOCK = 65536
POLL_SECONDS = 2
REPORT_KEYS = ('name', 'state', 'device', 'backing', 'mode', 'policy', 'block_size', 'origin_device', 'cache_device',
               'metadata_device', 'read_hits', 'read_misses', 'write_hits', 'write_misses', 'hit_ratio', 'dirty_blocks',
               'dirty_blocks_before_teardown', 'cache_usage_pct', 'metadata_usage_pct', 'metadata_mode', 'needs_check',
               'check_healthy', 'check_findings', 'tool_version', 'checksums', 'data_intact', 'io')


def known_data(name, nbytes):
    """The known data: 4 KiB lines, each naming its own number, so no two 4 KiB blocks are alike
    (byte for byte what the Jinja role wrote, so its recorded sha256 still holds)."""
    return b''.join((('%-4095s' % ('%s known data, 4 KiB block %d' % (name, block))) + '\n').encode('utf-8')
                    for block in range(nbytes // LINE))


def cache_status(host, name):
    """The parsed status of a cache device (``_dm.status.cache``), or None."""
    for status in host.facts.get(name, {}).get('status', []):
        if status.get('target_type') == 'cache':
            return status
    return None


def _pct(used, total):
    return round(100.0 * used / total, 2) if used is not None and total else None


class CacheConfig(object):
    """The parameters of one cache stack, checked; every wrong value is named at once."""

    def __init__(self, p):
        errors = []
        self.state = p.get('state') or 'present'
        name = p.get('name')
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise DmError('name %r: expected a letter or digit, then up to 99 letters, digits or _ . + -' % (name,))
        self.name = name
        self.dir = os.path.join(p.get('dir') or '/var/lib/sts-devicemapper', name)
        self.image = os.path.join(self.dir, 'backing.img')
        self.workload_file = os.path.join(self.dir, 'workload.bin')
        names = device_names('cache', name)
        self.cache, self.meta, self.cdata, self.corig = (names['cache'], names['metadata'], names['cache_data'],
                                                         names['origin'])
        self.check = names['metadata_check']

        origin_dev, cache_dev, meta_dev, device = (p.get('origin_device'), p.get('cache_device'),
                                                   p.get('metadata_device'), p.get('device'))
        three = [d for d in (origin_dev, cache_dev, meta_dev) if d]
        if len(three) not in (0, 3):
            errors.append('origin_device, cache_device and metadata_device go together; got only %s'
                          % ' and '.join(k for k, v in (('origin_device', origin_dev), ('cache_device', cache_dev),
                                                        ('metadata_device', meta_dev)) if v))
        if three and device:
            errors.append('give device (one disk) or origin_device, cache_device and metadata_device, not both')
        self.backing = 'disks' if three else ('device' if device else 'loop')
        self.given = [meta_dev, cache_dev, origin_dev] if self.backing == 'disks' else \
            ([device] if device else [])
        if len(set(self.given)) != len(self.given):
            errors.append('the given disks %s: expected three different disks' % ', '.join(map(str, self.given)))
        for disk in self.given:
            if not str(disk).startswith('/'):
                errors.append('disk %r: expected an absolute path such as /dev/vdb' % (disk,))
        self.meta_path = meta_dev if self.backing == 'disks' else MAPPER + self.meta
        self.cache_path = cache_dev if self.backing == 'disks' else MAPPER + self.cdata
        self.origin_path = origin_dev if self.backing == 'disks' else MAPPER + self.corig
        self.dm_devices = [self.cache] + ([] if self.backing == 'disks' else [self.meta, self.cdata, self.corig])

        def sectors(key, default, minimum=None):
            value = p.get(key, default)
            if value is None:
                value = default
            try:
                out = to_sectors(value, key)
            except SizeError as exc:
                errors.append(str(exc))
                return None
            if minimum is not None and out < minimum:
                errors.append('%s: %r is %d sectors; expected at least %d' % (key, value, out, minimum))
                return None
            return out

        self.metadata_size = sectors('metadata_size', '8MiB', minimum=1)
        self.cache_size = sectors('cache_size', '64MiB', minimum=1)
        self.loop_size = sectors('loop_size', '256MiB')
        if self.backing == 'loop' and None not in (self.loop_size, self.metadata_size, self.cache_size) and \
                self.loop_size <= self.metadata_size + self.cache_size:
            errors.append('loop_size is %d sectors; expected more than metadata_size + cache_size (%d sectors), the '
                          'rest is the origin' % (self.loop_size, self.metadata_size + self.cache_size))
        self.block = sectors('block_size', '64KiB')
        if self.block is not None and (self.block % 64 or not 64 <= self.block <= 2097152):
            errors.append('block_size %r is %d sectors; expected a multiple of 32KiB (64 sectors) from 32KiB to 1GiB'
                          % (p.get('block_size', '64KiB'), self.block))
        self.mode = p.get('mode') or 'writethrough'
        if self.mode not in MODES:
            errors.append('mode %r: expected one of %s' % (self.mode, ', '.join(MODES)))
        self.policy = p.get('policy') or 'smq'
        if self.policy not in POLICIES:
            errors.append('policy %r: expected one of %s' % (self.policy, ', '.join(POLICIES)))
        self.policy_args = {}
        raw_args = p.get('policy_args') or {}
        if not isinstance(raw_args, dict):
            errors.append('policy_args %r: expected a mapping of names to whole numbers' % (raw_args,))
            raw_args = {}
        for key, value in sorted(raw_args.items()):
            if isinstance(value, bool) or not re.match(r'^\d+$', str(value)) or not re.match(r'^[A-Za-z0-9_]+$', str(key)):
                errors.append('policy_args %s: %r; expected a name and a whole number >= 0' % (key, value))
            else:
                self.policy_args[str(key)] = int(str(value))
        self.workload = bool(p.get('workload'))
        self.stats = bool(p.get('stats'))
        self.workload_bytes = None
        try:
            self.workload_bytes = to_bytes(p.get('workload_size') or '4MiB', 'workload_size')
        except SizeError as exc:
            errors.append(str(exc))
        if self.workload and self.workload_bytes is not None and \
                (self.workload_bytes <= 0 or self.workload_bytes % IO_BLOCK):
            errors.append('workload_size: %r is %d bytes; expected a multiple of 64KiB above 0'
                          % (p.get('workload_size'), self.workload_bytes))
        timeout = p.get('clean_timeout', 300)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            errors.append('clean_timeout %r: expected seconds > 0' % (timeout,))
        self.clean_timeout = timeout
        self.safe_mode = p.get('safe_mode', True) is not False
        self.verify = p.get('verify', True) is not False
        if errors:
            raise DmError('; '.join(errors))

    def record(self):
        """The record the Jinja role wrote, key for key."""
        workload = None
        if self.workload:
            workload = dict(file=self.workload_file, bytes=self.workload_bytes,
                            sha256=hashlib.sha256(known_data(self.name, self.workload_bytes)).hexdigest())
        return {'role': ROLE, 'name': self.name, 'backing': self.backing,
                'image': self.image if self.backing == 'loop' else None,
                'dm_devices': list(self.dm_devices), 'metadata_device': self.meta_path,
                'cache_device': self.cache_path, 'origin_device': self.origin_path, 'workload': workload}


class CacheStack(Stack):
    """One cache stack on the host this runs on (``Stack`` says what the arguments are);
    ``sleep`` and ``clock``: the wait for the cleaner policy."""

    def __init__(self, config, run, dmpd, check_mode=False, host_factory=None, io=None, sleep=time.sleep,
                 clock=time.time):
        super(CacheStack, self).__init__(config, run, dmpd, check_mode=check_mode, host_factory=host_factory, io=io)
        self.sleep = sleep
        self.clock = clock

    # -- present ------------------------------------------------------------------------
    def present(self):
        c = self.c
        old = self.record.load()
        self.old = old
        if old and (old.get('backing'), old.get('metadata_device'), old.get('cache_device'), old.get('origin_device')) \
                != (c.backing, c.meta_path, c.cache_path, c.origin_path):
            raise DmError('stack %s is recorded in %s as built on %s (origin %s, cache %s, metadata %s); tear it down '
                          '(state: absent) before building it on %s'
                          % (c.name, self.record.path, old.get('backing'), old.get('origin_device'),
                             old.get('cache_device'), old.get('metadata_device'),
                             ' '.join(c.given) if c.given else c.image))
        host = self.host
        fresh = c.backing != 'loop' and not old and c.cache not in host.facts
        layout = self.layout()
        if fresh and c.safe_mode:
            found = occupied(self.tools, c.given)
            if found:
                raise DmError('safe_mode refuses to build %s on %s: %s. Wipe them, pick other disks, or set safe_mode '
                              'false.' % (c.name, ', '.join(c.given), '; '.join(found)))
        if c.backing == 'loop':
            loops = self.tools.loops_of(c.image)
            self.loop_dev = loops[0] if loops else None
        carve_dev = self.loop_dev if c.backing == 'loop' else (c.given[0] if c.backing == 'device' else None)
        specs = self.carve(layout, carve_dev) + [self.cache_spec(layout)]
        if c.backing != 'loop' or self.loop_dev:
            self.refuse_changed_carve_outs(specs[:-1])

        wanted = c.record()
        self.save(wanted, old)
        self.final = wanted
        if c.backing == 'loop' and not self.loop_dev:
            if not os.path.exists(c.image):
                self.do('create the sparse file %s (%d bytes)' % (c.image, layout['carve'] * 512),
                        self.io['create_sparse'], c.image, layout['carve'] * 512)
            self.act('attach %s to a loop device' % c.image)
            self.loop_dev = self.tools.attach(c.image)
            carve_dev = self.loop_dev
        if fresh:
            self.act('zero the superblock of the metadata area %s' % c.given[0])
            self.tools.zero_head(c.given[0])

        if self.check_mode and c.backing == 'loop' and not self.loop_dev:
            # nothing to read a table against yet: the whole stack would be created
            for name in [c.meta, c.cdata, c.corig, c.cache]:
                self.act('create device %s' % name)
            live = False
        else:
            specs = self.carve(layout, carve_dev) + [self.cache_spec(layout)]
            results = self.apply(specs)
            live = bool([r for r in results if r['name'] == c.cache and
                         (r['before'] if self.check_mode else r['after']).get('exists')])
        self.count_io([c.cache])
        intact = self.workload(live)
        healthy, findings = None, []
        if c.verify and live and not self.check_mode:
            healthy, findings = self.verify(layout)
        return self.report_present(wanted, healthy, findings, intact)

    def layout(self):
        """Sectors of the metadata, cache and origin, and of the carved device; the origin must hold
        the known data."""
        c = self.c
        if c.backing == 'loop':
            carve = c.loop_size
            sizes = None
        else:
            sizes = self.tools.sectors(c.given)
            carve = sizes[0]
        if c.backing == 'disks':
            meta, cache, origin = sizes
        else:
            meta, cache = c.metadata_size, c.cache_size
            origin = carve - meta - cache
        need = c.workload_bytes // 512 if c.workload else 0
        if origin <= 0 or origin < need:
            raise DmError('%s sectors of backing leave %d sectors of origin after %d of metadata and %d of cache; '
                          'expected more than 0%s'
                          % (sizes if c.backing == 'disks' else carve, origin, meta, cache,
                             ' and at least the %d of the workload' % need if need else ''))
        return dict(carve=carve, metadata=meta, cache=cache, origin=origin)

    def carve(self, layout, device):
        c = self.c
        if c.backing == 'disks':
            return []
        meta, cache = layout['metadata'], layout['cache']
        device = device or '/dev/loop-planned'

        def linear(name, length, offset):
            segment = dict(type='linear', length=length, options=dict(device=device, offset=offset))
            return DeviceSpec(name, table=Table.from_params([segment]))
        return [linear(c.meta, meta, 0), linear(c.cdata, cache, meta), linear(c.corig, layout['origin'], meta + cache)]

    def cache_spec(self, layout):
        c = self.c
        return DeviceSpec(c.cache, reload=True, table=Table.from_params([dict(
            type='cache', length=layout['origin'],
            options=dict(metadata_dev=c.meta_path, cache_dev=c.cache_path, origin=c.origin_path, block_size=c.block,
                         mode=c.mode, policy=c.policy, policy_args=c.policy_args))]))

    def refuse_changed_carve_outs(self, specs):
        """A carve-out that is there with another table is refused before anything changes (data is never moved)."""
        host = self.host
        wrong = []
        for spec in specs:
            live = host.tables.get(spec.name)
            if live is not None:
                diffs = spec.table.differences(live, host.resolve, host.kernel)
                if diffs:
                    wrong.append('%s: %s' % (spec.name, '; '.join(diffs)))
        if wrong:
            raise DmError('the carve-outs of stack %s differ from what the sizes ask for (%s); the stack does not move '
                          'data: give the sizes it was built with, or tear it down to build it anew'
                          % (self.c.name, ' / '.join(wrong)))

    def workload(self, live):
        """The known data at the start of the cache device: compared, written when it differs, read back.
        Returns True (it is there), False (read back wrong) or None (no workload, or nothing to look at)."""
        c = self.c
        if not c.workload or not live:
            if c.workload and self.check_mode:
                self.act('write the known data to %s%s' % (MAPPER, c.cache))
            return None
        target = MAPPER + c.cache
        data = known_data(c.name, c.workload_bytes)
        expected = hashlib.sha256(data).hexdigest()
        if self.io['sha256'](target, c.workload_bytes) == expected:
            return True
        self.act('write the known data to %s' % target)
        if self.check_mode:
            return None
        self.io['write'](target, data)
        return self.io['sha256'](target, c.workload_bytes) == expected

    # -- verification and report --------------------------------------------------------
    def check_metadata(self, path):
        """cache_check of ``path``; returns (healthy, findings)."""
        res = self.dmpd.run('cache_check', input=path)
        if res.outcome in ('usage', 'unexpected'):
            raise DmError('%s did not run the check (rc=%d, %s): %s'
                          % (res.cmd[0], res.rc, res.outcome, res.stderr.strip()))
        return res.ok, parse_check(res.stdout, res.stderr)['findings']

    def verify(self, layout):
        """cache_check of the live metadata: the cache suspended (the kernel commits its metadata), a read-only
        linear view of the metadata device checked, then the cache resumed and the view removed, whatever fails.
        Nothing of it stays, so it is not listed among the actions."""
        c = self.c
        host = self.host
        view = DeviceSpec(c.check, readonly=True, table=Table.from_params([dict(
            type='linear', length=layout['metadata'], options=dict(device=c.meta_path, offset=0))]))
        with host.guarded([c.cache]) as guard:
            failure = None
            try:
                host.ensure(DeviceSpec(c.cache, state='suspended'))
                host.ensure(view)
                return self.check_metadata(MAPPER + c.check)
            except Exception as exc:
                failure = exc
                raise
            finally:
                errors = []
                for spec in (DeviceSpec(c.cache, state='active'), DeviceSpec(c.check, state='absent')):
                    try:
                        host.ensure(spec)
                    except DmError as exc:
                        errors.append(exc.msg)
                host.refresh()
                if c.cache in host.facts and host.facts[c.cache]['suspended']:
                    if guard is not None:
                        guard.keep = [c.cache]
                    errors.append('%s is STILL SUSPENDED: resume it with dmsetup resume %s' % (c.cache, c.cache))
                if errors:
                    first = ('%s; then ' % getattr(failure, 'msg', failure)) if failure is not None else ''
                    raise DmError('%safter the check of the live metadata: %s' % (first, '; '.join(errors)))

    def status_report(self, status, record):
        s = status or {}
        hits = (s.get('read_hits') or 0) + (s.get('write_hits') or 0)
        misses = (s.get('read_misses') or 0) + (s.get('write_misses') or 0)
        report = dict((k, None) for k in REPORT_KEYS)
        report.update(
            name=self.c.name, device=self.c.cache if s else None, backing=record.get('backing'),
            mode=s.get('mode'), policy=s.get('policy'), block_size=s.get('cache_block_size'),
            origin_device=record.get('origin_device'), cache_device=record.get('cache_device'),
            metadata_device=record.get('metadata_device'),
            read_hits=s.get('read_hits'), read_misses=s.get('read_misses'), write_hits=s.get('write_hits'),
            write_misses=s.get('write_misses'), hit_ratio=round(float(hits) / (hits + misses), 4) if hits + misses else 0.0,
            dirty_blocks=s.get('dirty_blocks'),
            cache_usage_pct=_pct(s.get('used_cache_blocks'), s.get('total_cache_blocks')),
            metadata_usage_pct=_pct(s.get('used_metadata_blocks'), s.get('total_metadata_blocks')),
            metadata_mode=s.get('metadata_mode'), needs_check=s.get('needs_check'), check_findings=[],
            checksums={'workload_sha256': record['workload']['sha256']} if record.get('workload') else {})
        return report

    def report_present(self, record, healthy, findings, intact):
        c = self.c
        host = self.host
        host.refresh()
        status = cache_status(host, c.cache) if c.cache in host.facts else None
        report = self.status_report(status, record)
        report.update(state='present', check_healthy=healthy, check_findings=list(findings),
                      tool_version=str(self.dmpd.version), io=self.read_io([c.cache]))
        problems = []
        if status is None:
            problems.append('cache %s: not active' % c.cache)
        else:
            if status.get('metadata_mode') != 'rw':
                problems.append('cache %s: metadata mode %s, expected rw' % (c.cache, status.get('metadata_mode')))
            if status.get('needs_check'):
                problems.append('cache %s: needs_check is set' % c.cache)
            if status.get('mode') != c.mode:
                problems.append('cache %s: mode %s, expected %s' % (c.cache, status.get('mode'), c.mode))
            if status.get('policy') != c.policy:
                problems.append('cache %s: policy %s, expected %s' % (c.cache, status.get('policy'), c.policy))
            if host.facts[c.cache]['suspended']:
                problems.append('cache %s: suspended' % c.cache)
        if healthy is False:
            problems.append('cache_check of the live metadata of %s failed: %s'
                            % (c.meta_path, '; '.join(findings) or 'no output'))
        if intact is False:
            problems.append('%s%s does not hold the known data it was given' % (MAPPER, c.cache))
        self.problems = problems
        return report

    # -- absent -------------------------------------------------------------------------
    def absent(self):
        """Cleaner policy, wait for no dirty block, the cache removed, its metadata checked, the known data
        compared on the origin; then (unless a check failed with verify) the carve-outs, the loop device and
        the stack's directory. On given disks the head of the metadata area is zeroed last
        (``blank_given_head``), so a later build passes safe mode."""
        c = self.c
        old = self.record.load()
        self.old = old
        teardown = old if old else c.record()
        host = self.host
        existed = c.cache in host.facts
        status = cache_status(host, c.cache) if existed else None
        dirty_after = None
        if existed:
            live = host.tables.get(c.cache)
            if status is not None and status.get('policy') != 'cleaner' and live is not None:
                self.apply([DeviceSpec(c.cache, reload=True, table=self.cleaner_table(live))])
            if not self.check_mode:
                dirty_after = self.wait_clean()
        self.apply([DeviceSpec(c.check, state='absent'), DeviceSpec(c.cache, state='absent')])
        healthy, findings, tool_version, origin_sha = None, [], None, None
        workload = teardown.get('workload') or None
        if existed and not self.check_mode:
            healthy, findings = self.check_metadata(teardown['metadata_device'])
            tool_version = str(self.dmpd.version)
            if workload:
                origin_sha = self.io['sha256'](teardown['origin_device'], int(workload['bytes']))
        report = self.status_report(status, teardown)
        report.update(state='absent', dirty_blocks=dirty_after if dirty_after is not None else report['dirty_blocks'],
                      dirty_blocks_before_teardown=(status or {}).get('dirty_blocks'), check_healthy=healthy,
                      check_findings=list(findings), tool_version=tool_version)
        if origin_sha is not None:
            report['checksums']['origin_sha256'] = origin_sha
            report['data_intact'] = origin_sha == report['checksums'].get('workload_sha256')
        problems = []
        if healthy is False:
            problems.append('cache_check of the metadata %s left by the cache failed: %s'
                            % (teardown['metadata_device'], '; '.join(findings) or 'no output'))
        if report['data_intact'] is False:
            problems.append('the origin %s does not hold the known data (sha256 %s, written %s)'
                            % (teardown['origin_device'], origin_sha, report['checksums'].get('workload_sha256')))
        self.problems = problems
        if problems and c.verify:
            # the metadata and the origin stay for a look; a second run (or verify false) removes them
            return report
        carve = [n for n in teardown.get('dm_devices') or [] if n not in (c.cache, c.check)]
        if carve:
            self.apply([DeviceSpec(n, state='absent') for n in carve])
        image = teardown.get('image')
        for loop in (self.tools.loops_of(image) if image else []):
            self.act('detach %s' % loop)
            self.tools.detach(loop)
        self.blank_given_head(old)
        if os.path.isdir(c.dir):
            self.do('remove the stack directory %s' % c.dir, shutil.rmtree, c.dir)
        return report

    @staticmethod
    def cleaner_table(live):
        """The live cache table with the cleaner policy (its default arguments), everything else as the kernel
        echoes it."""
        seg = live.segments[0]
        target = Cache(**dict(seg.target.params, policy='cleaner', policy_args=[]))
        return Table([Segment(seg.start, seg.length, target)] + list(live.segments[1:]))

    def wait_clean(self):
        """Poll the status until no dirty block remains; fail after clean_timeout seconds."""
        c = self.c
        deadline = self.clock() + c.clean_timeout
        while True:
            self.host.refresh()
            status = cache_status(self.host, c.cache) or {}
            dirty = status.get('dirty_blocks')
            if not dirty:
                return dirty
            if self.clock() >= deadline:
                raise DmError('cache %s: %d dirty blocks are left after %d s of the cleaner policy '
                              '(clean_timeout); nothing was removed. Run the teardown again to wait longer'
                              % (c.cache, dirty, c.clean_timeout))
            self.sleep(POLL_SECONDS)


class CacheStackRunner(StackRunner):
    """dm_cache_stack: one call builds, verifies or tears down the stack."""

    config_class = CacheConfig
    stack_class = CacheStack
