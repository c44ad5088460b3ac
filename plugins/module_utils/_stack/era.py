# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The era stack (module dm_era_stack, role era_stack): planned and applied in one module run.

``EraConfig(params)`` reads and checks every parameter, naming each wrong value;
``EraStack(config, run, dmpd, ...)`` builds, verifies or tears the stack down:

- backing: two given disks (metadata, origin), one given disk carved with linear targets
  (``<name>_emeta`` first, ``<name>_eorig`` the rest), or a sparse loop file it creates
  (``<dir>/<name>/backing.img``) carved the same way; every backing also gets
  ``<name>_emeta_ro``, a read-only linear view of the metadata device, for the tools;
- the state record (``<dir>/<name>/state.json``) has the keys the Jinja role wrote, so hosts
  built by it are recognised (and their record is not rewritten); it is written before
  anything is created, so a teardown after a failure finds everything;
- safe mode on given disks, before the stack is first built on them (no era device, no
  record): wipefs signatures, mounts and users (lsblk) refuse them; then the first 4 KiB of
  the metadata are zeroed so the kernel formats fresh metadata;
- one ``DmHost.apply`` batch; a live table that differs is refused, never swapped (that would
  move data or lose the tracking); with ``stats``, an I/O statistics region on the era device
  before anything writes it; the known data is written when the era device does not hold it;
- reading the live device, never suspended (a suspended dm-era answers neither status nor
  messages until resumed): ``take_metadata_snap``; ``era_check`` and ``era_dump --logical`` on
  the read-only view (the tools cannot open the metadata device the kernel holds); and
  ``era_invalidate`` through the snapshot; ``drop_metadata_snap`` whatever fails.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shutil
import tempfile

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DeviceSpec
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Table
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.parsers import (
    parse_check, parse_era_dump, parse_era_invalidate)
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import DmpdError
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.dmsetup import kernel_message
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.base import (
    IO_BLOCK, Stack, StackRunner, occupied)
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.names import device_names
from ansible_collections.sts.devicemapper.plugins.module_utils._units import SECTOR, SizeError, to_sectors

MAPPER = '/dev/mapper/'
ROLE = 'sts.devicemapper.era_stack'
# The role's name check: a letter or digit first (so never "." or ".."), then at most 99 more.
NAME_RE = re.compile(r'\A[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}\Z')
# dm-era takes a block size that is a multiple of 8 sectors (4 KiB)
ERA_BLOCK_MULTIPLE = 8
KNOWN_DATA_LINE = 4096
REPORT_KEYS = ('name', 'state', 'device', 'backing', 'block_size', 'origin_device', 'metadata_device',
               'current_era', 'since_era', 'changed_blocks', 'changed_ranges', 'blocks_written_per_era',
               'metadata_usage_pct', 'check_healthy', 'check_findings', 'tool_version', 'checksums',
               'workload_blocks', 'io')


def known_data(name, nbytes):
    """The known data: 4 KiB lines, each naming its own number, so no two 4 KiB blocks are alike
    (byte for byte what the Jinja role wrote, so its recorded sha256 stays valid)."""
    return ''.join('%-4095s\n' % ('%s known data, 4 KiB block %d' % (name, block))
                   for block in range(nbytes // KNOWN_DATA_LINE)).encode('utf-8')


def _pct(used, total):
    return round(used * 100.0 / total, 2) if total else None


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


class EraConfig(object):
    """The parameters of one era stack, checked; every wrong value is named at once."""

    def __init__(self, p):
        errors = []
        self.state = p.get('state') or 'present'
        if self.state not in ('present', 'absent'):
            errors.append('state %r: expected present or absent' % (self.state,))
        name = p.get('name')
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise DmError('name %r: expected a letter or digit, then at most 99 letters, digits or _ . + -' % (name,))
        self.name = name
        self.dir = os.path.join(p.get('dir') or '/var/lib/sts-devicemapper', name)
        self.image = os.path.join(self.dir, 'backing.img')
        self.workload_file = os.path.join(self.dir, 'workload.bin')
        names = device_names('era', name)
        self.era, self.meta, self.orig, self.view = (names['era'], names['metadata'], names['origin'],
                                                     names['metadata_view'])
        origin_dev, meta_dev, device = p.get('origin_device'), p.get('metadata_device'), p.get('device')
        if bool(origin_dev) != bool(meta_dev):
            errors.append('origin_device and metadata_device go together; got only %s'
                          % ('origin_device %s' % origin_dev if origin_dev else 'metadata_device %s' % meta_dev))
        if device and (origin_dev or meta_dev):
            errors.append('give device %s (one disk, carved) or origin_device and metadata_device, not both' % device)
        if origin_dev and origin_dev == meta_dev:
            errors.append('origin_device and metadata_device are both %s; expected two disks' % origin_dev)
        self.backing = 'disks' if (origin_dev or meta_dev) else ('device' if device else 'loop')
        self.given = [d for d in (meta_dev, origin_dev) if d] if self.backing == 'disks' else \
            ([device] if device else [])
        self.meta_path = meta_dev if self.backing == 'disks' else MAPPER + self.meta
        self.orig_path = origin_dev if self.backing == 'disks' else MAPPER + self.orig
        self.dm_devices = [self.era, self.view] + ([] if self.backing == 'disks' else [self.meta, self.orig])
        self.safe_mode = p.get('safe_mode', True) is not False
        self.workload = bool(p.get('workload'))
        self.stats = bool(p.get('stats'))
        self.verify = p.get('verify', True) is not False

        def sectors(key, default):
            value = p.get(key)
            value = default if value is None else value
            try:
                return to_sectors(value, key)
            except SizeError as exc:
                errors.append(str(exc))
                return None

        self.metadata_sectors = sectors('metadata_size', '8MiB')
        self.loop_sectors = sectors('loop_size', '256MiB')
        self.workload_sectors = sectors('workload_size', '4MiB')
        self.block = sectors('block_size', '64KiB')
        if self.metadata_sectors == 0:
            errors.append('metadata_size %r: expected more than 0' % (p.get('metadata_size'),))
        if self.block is not None and (self.block == 0 or self.block % ERA_BLOCK_MULTIPLE):
            errors.append('block_size %r is %d sectors; expected a multiple of 4KiB (8 sectors) above 0'
                          % (p.get('block_size'), self.block))
        if self.backing == 'loop' and None not in (self.loop_sectors, self.metadata_sectors) \
                and self.loop_sectors <= self.metadata_sectors:
            errors.append('loop_size is %d sectors; expected more than metadata_size (%d sectors)'
                          % (self.loop_sectors, self.metadata_sectors))
        self.workload_bytes = (self.workload_sectors or 0) * SECTOR
        if self.workload and self.workload_sectors is not None and \
                (self.workload_bytes == 0 or self.workload_bytes % IO_BLOCK):
            errors.append('workload_size %r is %d bytes; expected a multiple of 64KiB above 0'
                          % (p.get('workload_size'), self.workload_bytes))
        since = p.get('since_era', 1)
        if isinstance(since, str) and since.strip().isdigit():
            since = int(since)
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            errors.append('since_era %r: expected a whole number >= 0 (eras start at 1)' % (since,))
        self.since_era = since
        if errors:
            raise DmError('; '.join(errors))
        self.workload_sha256 = None
        if self.workload:
            import hashlib
            self.workload_sha256 = hashlib.sha256(known_data(self.name, self.workload_bytes)).hexdigest()

    def record(self):
        """The record of the build, key for key what the Jinja role kept."""
        return {'role': ROLE, 'name': self.name, 'backing': self.backing,
                'image': self.image if self.backing == 'loop' else None,
                'dm_devices': list(self.dm_devices), 'metadata_device': self.meta_path,
                'origin_device': self.orig_path,
                'workload': {'file': self.workload_file, 'bytes': self.workload_bytes, 'sha256': self.workload_sha256}
                if self.workload else None}


def era_status(host, name):
    for status in host.facts.get(name, {}).get('status', []):
        if status.get('target_type') == 'era':
            return status
    return None


def era_block_size(host, name):
    for seg in host.tables.get(name, []):
        if seg.target_type == 'era':
            return seg.target.params.get('block_size')
    return None


class EraStack(Stack):
    """One era stack on the host this runs on (``Stack`` says what the arguments are);
    ``scratch()``: a directory for era_dump's output (removed by the caller)."""

    def __init__(self, config, run, dmpd, check_mode=False, host_factory=None, io=None, scratch=None):
        super(EraStack, self).__init__(config, run, dmpd, check_mode=check_mode, host_factory=host_factory, io=io)
        self._scratch = scratch

    # -- present ------------------------------------------------------------------------
    def present(self):
        c = self.c
        old = self.record.load()
        self.old = old
        want = c.record()
        self.refuse_other_record(old, want)
        host = self.host
        sizes = self.tools.sectors(c.given) if c.backing != 'loop' else []
        fresh = c.backing != 'loop' and c.era not in host.facts and not old
        if fresh and c.safe_mode:
            found = self.probe(c.given)
            if found:
                raise DmError('safe_mode refuses to build era stack %s on %s: %s. Wipe them, pick other disks, or set '
                              'safe_mode false (era_stack_safe_mode in the role).'
                              % (c.name, ', '.join(c.given), '; '.join(found)))
        meta, origin = self.layout(sizes)
        loop_dev = None
        if c.backing == 'loop':
            found = self.tools.loops_of(c.image)
            loop_dev = found[0] if found else None

        self.save(want, old)
        if c.backing == 'loop' and not loop_dev:
            if not os.path.exists(c.image):
                self.do('create the sparse file %s (%d bytes)' % (c.image, c.loop_sectors * SECTOR),
                        self.io['create_sparse'], c.image, c.loop_sectors * SECTOR)
            self.act('attach %s to a loop device' % c.image)
            loop_dev = self.tools.attach(c.image)
        self.loop_dev = loop_dev
        if fresh:
            self.act('zero the superblock of the metadata area %s' % c.given[0])
            self.tools.zero_head(c.given[0])

        if self.check_mode and c.backing == 'loop' and not loop_dev:
            # no loop device to read a table against yet: the whole stack would be created
            for name in ([c.meta, c.orig, c.view, c.era]):
                self.act('create device %s' % name)
            era_there = False
        else:
            carve_dev = loop_dev if c.backing == 'loop' else (c.given[0] if c.backing == 'device' else None)
            specs = self.specs(meta, origin, carve_dev)
            self.refuse_other_tables(specs)
            results = self.apply(specs)
            era = [r for r in results if r['name'] == c.era][0]
            era_there = bool((era['before'] if self.check_mode else era['after']).get('exists'))
        self.count_io([c.era])
        intact = self.workload(era_there)
        self.final = want
        return self.report(want, intact)

    def refuse_other_record(self, old, want):
        keys = ('backing', 'image', 'metadata_device', 'origin_device')
        if old and any(old.get(k) != want[k] for k in keys):
            raise DmError('era stack %s is recorded in %s as built on %s (metadata %s, origin %s); tear it down '
                          '(state: absent) before building it on %s (metadata %s, origin %s)'
                          % (self.c.name, self.record.path, old.get('backing'), old.get('metadata_device'),
                             old.get('origin_device'), want['backing'], want['metadata_device'],
                             want['origin_device']))

    def probe(self, disks):
        """Safe mode: what wipefs and lsblk find on the given disks."""
        return occupied(self.tools, disks)

    def layout(self, sizes):
        """(metadata sectors, origin sectors); refused when the origin would be empty or too small."""
        c = self.c
        if c.backing == 'disks':
            meta, origin, backing = sizes[0], sizes[1], sizes
        else:
            carve = c.loop_sectors if c.backing == 'loop' else sizes[0]
            meta, origin, backing = c.metadata_sectors, carve - c.metadata_sectors, carve
        if origin <= 0 or (c.workload and c.workload_bytes > origin * SECTOR):
            needed = ' and at least %d for the workload' % (c.workload_bytes // SECTOR) if c.workload else ''
            raise DmError('era stack %s: %s sectors of backing leave %d sectors of origin after %d of metadata; '
                          'expected more than 0%s' % (c.name, backing, max(origin, 0), meta, needed))
        return meta, origin

    def specs(self, meta, origin, carve_dev):
        c = self.c
        out = []
        if c.backing != 'disks':
            out.append(DeviceSpec(c.meta, table=Table.from_params([dict(
                type='linear', length=meta, options=dict(device=carve_dev, offset=0))])))
            out.append(DeviceSpec(c.orig, table=Table.from_params([dict(
                type='linear', length=origin, options=dict(device=carve_dev, offset=meta))])))
        out.append(DeviceSpec(c.view, readonly=True, table=Table.from_params([dict(
            type='linear', length=meta, options=dict(device=c.meta_path, offset=0))])))
        out.append(DeviceSpec(c.era, table=Table.from_params([dict(
            type='era', length=origin, options=dict(metadata_dev=c.meta_path, origin=c.orig_path,
                                                    block_size=c.block))])))
        return out

    def refuse_other_tables(self, specs):
        """A device of the stack that is there with another table is refused before anything changes."""
        host = self.host
        for spec in specs:
            dev = host.facts.get(spec.name)
            if dev is None or not dev['live_table']:
                continue
            diffs = spec.table.differences(host.tables[spec.name], host.resolve, host.kernel)
            if spec.readonly is not None and bool(spec.readonly) != dev['readonly']:
                diffs.append('readonly: wanted %s, live %s' % (bool(spec.readonly), dev['readonly']))
            if diffs:
                raise DmError('device %s of era stack %s is there with another table (%s): the stack does not swap '
                              'the tables of a live era stack, that would move data or lose the tracking; give the '
                              'sizes it was built with, or tear it down (state: absent) to build it anew'
                              % (spec.name, self.c.name, '; '.join(diffs)), differences=diffs)

    def workload(self, era_there):
        """The known data at the start of the era device: compared, written when it differs, read back.
        Returns True (held), False (written but not read back as written) or None (not asked, check mode)."""
        c = self.c
        if not c.workload:
            return None
        target = MAPPER + c.era
        if era_there and self.io['sha256'](target, c.workload_bytes) == c.workload_sha256:
            return True
        self.act('write the known data (%d bytes) to %s' % (c.workload_bytes, target))
        if self.check_mode:
            return None
        self.io['write'](target, known_data(c.name, c.workload_bytes))
        return self.io['sha256'](target, c.workload_bytes) == c.workload_sha256

    # -- reading the live device ----------------------------------------------------------
    def message(self, words):
        return self.host.dmsetup.message(self.c.era, words)

    def take_snapshot(self):
        rc, out, err = self.message(['take_metadata_snap'])
        if rc == 0:
            return
        # a snapshot left held by an interrupted run makes the take fail; dropping it lets the next run work
        self.message(['drop_metadata_snap'])
        self.host.refresh()
        raise DmError('era device %s: take_metadata_snap refused (%s); a metadata snapshot left held was dropped, '
                      'so the next run can take one' % (self.c.era, kernel_message(err, out)),
                      cmd=['dmsetup', 'message', self.c.era, '0', 'take_metadata_snap'], rc=rc)

    def drop_snapshot(self, strict):
        rc, out, err = self.message(['drop_metadata_snap'])
        self.host.refresh()
        if rc != 0 and strict:
            raise DmError('era device %s: drop_metadata_snap refused: %s' % (self.c.era, kernel_message(err, out)),
                          cmd=['dmsetup', 'message', self.c.era, '0', 'drop_metadata_snap'], rc=rc)

    def observe(self):
        """Through a metadata snapshot held for this alone (the device is never suspended): the status
        (current era), era_check and era_dump of the read-only view, era_invalidate of the snapshot."""
        c = self.c
        host = self.host
        out = dict(status=None, check=(None, []), ranges=None, per_era=None)
        self.take_snapshot()
        try:
            host.refresh()
            status = era_status(host, c.era)
            out['status'] = status
            if c.verify:
                out['check'] = self.era_check(MAPPER + c.view)
            root = (status or {}).get('held_metadata_root')
            if root is None:
                raise DmError('era device %s shows no held metadata root after take_metadata_snap; its status: %s'
                              % (c.era, (status or {}).get('raw')))
            out['ranges'] = self.invalidate(root)
            out['per_era'] = self.blocks_per_era(MAPPER + c.view)
        except BaseException:
            self.drop_snapshot(strict=False)
            raise
        self.drop_snapshot(strict=True)
        return out

    def era_check(self, path):
        """era_check's verdict and findings, as dmpd_check gives them."""
        sb = self.io['superblock'](path)
        res = self.dmpd.run('era_check', input=path)
        if res.outcome in ('usage', 'unexpected'):
            raise DmError('%s did not run the check (rc=%d, %s): %s'
                          % (res.cmd[0], res.rc, res.outcome, res.stderr.strip()), **res.as_dict())
        findings = parse_check(res.stdout, res.stderr)['findings']
        if sb.family and sb.family != 'era':
            findings.insert(0, 'the superblock magic says %s metadata, not era' % sb.family)
        return res.ok and sb.family in (None, 'era'), findings

    def invalidate(self, root):
        res = self.dmpd.run('era_invalidate', input=self.c.meta_path, written_since=self.c.since_era,
                            metadata_snapshot=root)
        if not res.ok:
            raise DmError('%s failed (rc=%d, %s): %s' % (' '.join(res.cmd), res.rc, res.outcome,
                                                         (res.stderr or res.stdout).strip() or 'no output'),
                          **res.as_dict())
        return parse_era_invalidate(res.stdout)

    def blocks_per_era(self, path):
        """{era: blocks whose last write was in that era} from ``era_dump --logical`` (streamed from a file);
        era 0, the era of a block never written, is left out. None, with a warning, when it cannot be read."""
        made = None
        if self._scratch is not None:
            directory = self._scratch()
        else:
            directory = made = tempfile.mkdtemp(prefix='sts-dm-era-')
        dump = os.path.join(directory, '%s_era_dump.xml' % self.c.name)
        try:
            res = self.dmpd.run('era_dump', input=path, logical=True, output=dump)
            if not res.ok:
                self.warnings.append('era_dump of %s failed (rc=%d): %s; blocks_written_per_era is not reported'
                                     % (path, res.rc, (res.stderr or res.stdout).strip() or 'no output'))
                return None
            try:
                with open(dump, 'rb') as handle:
                    parsed = parse_era_dump(handle)
            except (DmpdError, IOError, OSError) as exc:
                self.warnings.append('era_dump of %s could not be read (%s); blocks_written_per_era is not reported'
                                     % (path, getattr(exc, 'msg', exc)))
                return None
        finally:
            if os.path.exists(dump):
                os.unlink(dump)
            if made:
                shutil.rmtree(made, ignore_errors=True)
        return dict((str(era), count) for era, count in sorted(parsed['blocks_per_era'].items()) if era != 0)

    def report(self, rec, intact):
        c = self.c
        host = self.host
        seen = dict(status=None, check=(None, []), ranges=None, per_era=None)
        dev = host.facts.get(c.era)
        if dev is not None and dev['suspended']:
            # a suspended dm-era answers no message or status until resumed: not read, not touched
            self.problems.append('era device %s is suspended: not read (a suspended era device answers neither '
                                 'status nor messages until it is resumed)' % c.era)
        elif dev is not None and not self.check_mode:
            seen = self.observe()
            dev = host.facts.get(c.era)
        status = seen['status'] or (era_status(host, c.era) if dev is not None and not dev['suspended'] else None) or {}
        healthy, findings = seen['check']
        ranges = seen['ranges']
        block = era_block_size(host, c.era) if dev is not None else None
        if c.verify and not self.check_mode:
            if dev is None:
                self.problems.append('era device %s: not there' % c.era)
            elif dev['suspended'] and not self.problems:
                self.problems.append('era device %s: left suspended' % c.era)
            if healthy is False:
                self.problems.append('era_check of %s (the read-only view of %s) failed: %s'
                                     % (MAPPER + c.view, c.meta_path, '; '.join(findings) or 'no output'))
            if intact is False:
                self.problems.append('the era device %s does not read back the known data just written to it'
                                     % (MAPPER + c.era))
        return {
            'name': c.name, 'state': 'present', 'device': c.era if dev is not None else None,
            'backing': c.backing, 'block_size': block,
            'origin_device': rec['origin_device'], 'metadata_device': rec['metadata_device'],
            'current_era': status.get('current_era'), 'since_era': c.since_era,
            'changed_blocks': sum(end - begin for begin, end in ranges) if ranges is not None else None,
            'changed_ranges': ranges, 'blocks_written_per_era': seen['per_era'],
            'metadata_usage_pct': _pct(status.get('used_metadata_blocks'), status.get('total_metadata_blocks')),
            'check_healthy': healthy, 'check_findings': findings,
            'tool_version': str(self.dmpd.version),
            'checksums': {'workload_sha256': rec['workload']['sha256']} if rec.get('workload') else {},
            'workload_blocks': self.workload_blocks(rec, block),
            'io': self.read_io([c.era]),
        }

    @staticmethod
    def workload_blocks(rec, block):
        if not rec.get('workload') or not block:
            return None
        unit = block * SECTOR
        return [0, (rec['workload']['bytes'] + unit - 1) // unit]

    # -- absent -------------------------------------------------------------------------
    def absent(self):
        """A held snapshot dropped; the view and the era device removed; era_check of the metadata they
        left (with verify, a failure stops here: the metadata stays for a look); the carve-outs, the loop
        device and the stack's directory. On given disks the head of the metadata area is zeroed last
        (``blank_given_head``), so a later build passes safe mode."""
        c = self.c
        old = self.record.load()
        self.old = old
        rec = old if old else c.record()
        host = self.host
        dev = host.facts.get(c.era)
        status = (era_status(host, c.era) if dev is not None else None) or {}
        block = era_block_size(host, c.era) if dev is not None else None
        if dev is not None and status.get('held_metadata_root') is not None:
            self.act('drop the metadata snapshot era device %s holds' % c.era)
            if not self.check_mode:
                self.drop_snapshot(strict=True)
        results = self.apply([DeviceSpec(c.view, state='absent'), DeviceSpec(c.era, state='absent')])
        healthy, findings, version = None, [], None
        if dev is not None and not self.check_mode:
            healthy, findings = self.era_check(rec.get('metadata_device') or c.meta_path)
            version = str(self.dmpd.version)
        report = {
            'name': c.name, 'state': 'absent', 'device': c.era if dev is not None else None,
            'backing': rec.get('backing'), 'block_size': block,
            'origin_device': rec.get('origin_device'), 'metadata_device': rec.get('metadata_device'),
            'current_era': status.get('current_era'), 'since_era': c.since_era,
            'changed_blocks': None, 'changed_ranges': None, 'blocks_written_per_era': None,
            'metadata_usage_pct': _pct(status.get('used_metadata_blocks'), status.get('total_metadata_blocks')),
            'check_healthy': healthy, 'check_findings': findings, 'tool_version': version,
            'checksums': {'workload_sha256': rec['workload']['sha256']} if rec.get('workload') else {},
            'workload_blocks': self.workload_blocks(rec, block), 'io': None,
            'removed': [r['name'] for r in results if r['changed']], 'loops_detached': [],
        }
        if c.verify and healthy is False:
            self.problems.append('era_check of %s, the metadata era device %s left, failed: %s; nothing more was '
                                 'removed (the metadata stays for a look): a second teardown, or verify false, '
                                 'removes the rest' % (rec.get('metadata_device'), c.era, '; '.join(findings) or 'no output'))
            return report
        names = _unique([n for n in (rec.get('dm_devices') or c.dm_devices) if n != c.era])
        results = self.apply([DeviceSpec(n, state='absent') for n in names])
        report['removed'].extend(r['name'] for r in results if r['changed'])
        loops = self.tools.loops_of(rec['image']) if rec.get('image') else []
        for loop in loops:
            self.act('detach %s' % loop)
            self.tools.detach(loop)
        report['loops_detached'] = loops
        self.blank_given_head(old)
        if os.path.isdir(c.dir):
            self.do('remove the stack directory %s' % c.dir, shutil.rmtree, c.dir)
        return report


class EraStackRunner(StackRunner):
    """dm_era_stack: one call builds, reads and verifies, or tears down the era stack."""

    config_class = EraConfig
    stack_class = EraStack

    def stack_kwargs(self):
        return dict(scratch=self.scratch)
