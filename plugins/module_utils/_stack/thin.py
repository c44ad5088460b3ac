# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thin stack (module dm_thin_stack, role thin_stack): planned and applied in one module run.

``ThinConfig(params)`` reads and checks every parameter, naming each wrong value;
``ThinStack(config, run, dmpd, ...)`` builds, verifies or tears the stack down:

- backing: a sparse loop file it creates (``<dir>/<name>/pool.img``), one given disk carved with
  linear targets (``<name>_meta`` first, ``<name>_data`` the rest), or two given devices;
- the layout is decided once, when the stack is first built, and kept in the state record
  (``<dir>/<name>/state.json``), written before anything is created, so a teardown after a
  failure finds everything;
- safe mode on given disks: wipefs signatures and thin/cache/era metadata refuse them, unless the
  record says this stack was built on them;
- one ``DmHost.apply`` batch (carve-outs, pool, volumes; on a built stack the snapshots too);
  with ``stats``, an I/O statistics region on each volume; filesystems, mounts and the known
  workload; then, on the first build, the snapshots (after the workload, so they hold what was
  written) and their regions;
- verification: a metadata snapshot reserved for ``thin_check`` and released right after (only
  if this run reserved it), the pool's and the thin devices' status.

The record's keys and the report's keys are those the Jinja role had, so hosts built by it are
recognised, and the fleet report reads the same fact.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import shutil

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DeviceSpec
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Table
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError, ThinPool
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.parsers import parse_check
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.base import (
    FILESYSTEMS, WORKLOAD_BYTES, Stack, StackRunner, occupied, pattern)
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.names import device_names, validate_stack_name
from ansible_collections.sts.devicemapper.plugins.module_utils._units import SizeError, to_sectors

MAPPER = '/dev/mapper/'
POOL_FEATURES = ('skip_block_zeroing', 'ignore_discard', 'no_discard_passdown', 'read_only', 'error_if_no_space')
MAX_DEV_ID = 16777215
# metadata estimate: rounded up to 4 KiB, at least 2 MiB, at most what a thin-pool uses (~15.9 GiB)
MIN_METADATA_SECTORS = 4096
MAX_METADATA_SECTORS = 33423360
REPORT_KEYS = ('name', 'state', 'pool', 'backing', 'loop_file', 'loop_device', 'data_device', 'metadata_device',
               'block_size', 'volumes', 'snapshots', 'pool_mode', 'transaction_id', 'data_used_blocks',
               'data_total_blocks', 'data_usage_pct', 'metadata_used_blocks', 'metadata_total_blocks',
               'metadata_usage_pct', 'needs_check', 'check_healthy', 'tool_version', 'checksums', 'io')


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _pct(used, total):
    return round(used * 100.0 / total, 2) if total else None


class ThinConfig(object):
    """The parameters of one thin stack, checked; ``errors`` would all be named at once."""

    def __init__(self, p):
        errors = []
        self.state = p.get('state') or 'present'
        try:
            self.name = validate_stack_name(p.get('name'), 'name')
        except DmError as exc:
            raise DmError(exc.msg)
        self.dir = os.path.join(p.get('dir') or '/var/lib/sts-devicemapper', self.name)
        self.loop_file = os.path.join(self.dir, 'pool.img')
        names = device_names('thin', self.name)
        self.pool, self.meta, self.data = names['pool'], names['metadata'], names['data']
        meta_dev, data_dev, device = p.get('metadata_device'), p.get('data_device'), p.get('device')
        if (meta_dev or data_dev) and not (meta_dev and data_dev):
            errors.append('metadata_device and data_device go together; got only one of them')
        if device and (meta_dev or data_dev):
            errors.append('give device (one disk) or metadata_device and data_device, not both')
        self.backing = 'devices' if (meta_dev or data_dev) else ('disk' if device else 'loop')
        self.given = [d for d in (meta_dev, data_dev) if d] if self.backing == 'devices' else \
            ([device] if device else [])
        self.meta_path = meta_dev if self.backing == 'devices' else MAPPER + self.meta
        self.data_path = data_dev if self.backing == 'devices' else MAPPER + self.data
        self.safe_mode = p.get('safe_mode', True) is not False
        self.workload = bool(p.get('workload'))
        self.stats = bool(p.get('stats'))
        self.verify = p.get('verify', True) is not False
        pool = p.get('pool') or {}

        def sectors(value, what, minimum=None):
            if value is None:
                return None
            try:
                out = to_sectors(value, what)
            except SizeError as exc:
                errors.append(str(exc))
                return None
            if minimum is not None and out < minimum:
                errors.append('%s: %r is %d sectors; expected at least %d' % (what, value, out, minimum))
            return out

        self.loop_size = sectors(p.get('loop_size', '1G'), 'loop_size')
        self.metadata_size = sectors(p.get('metadata_size'), 'metadata_size', minimum=1)
        self.block = sectors(pool.get('block_size', '64KiB'), 'pool.block_size')
        if self.block is not None:
            try:
                ThinPool.check_block_size(self.block, 'pool.block_size', given=pool.get('block_size', '64KiB'))
            except DmError as exc:
                errors.append(exc.msg)
                self.block = None
        if self.backing == 'loop' and self.block and self.loop_size is not None and self.loop_size < 16 * self.block:
            errors.append('loop_size is %d sectors; expected at least 16 pool blocks (%d sectors)'
                          % (self.loop_size, 16 * self.block))
        self.low_water_mark = pool.get('low_water_mark') or 0
        if isinstance(self.low_water_mark, bool) or not isinstance(self.low_water_mark, int) or self.low_water_mark < 0:
            errors.append('pool.low_water_mark %r: expected a number of blocks >= 0' % (self.low_water_mark,))
        self.features = list(pool.get('features') or [])
        unknown = [f for f in self.features if f not in POOL_FEATURES]
        if unknown:
            errors.append('pool.features %s: expected some of %s' % (', '.join(map(str, unknown)), ', '.join(POOL_FEATURES)))
        self.volumes, self.snapshots = [], []
        self._thins(p.get('volumes') or [], p.get('snapshots') or [], sectors, errors)
        if errors:
            raise DmError('; '.join(errors))

    def _thins(self, volumes, snapshots, sectors, errors):
        sizes, names = {}, []
        for kind, items in (('volume', volumes), ('snapshot', snapshots)):
            for raw in items:
                position = len(names) + 1
                item = dict(raw)
                name = item.get('name')
                try:
                    validate_stack_name(name, '%s name' % kind)
                except DmError as exc:
                    errors.append(exc.msg)
                    name = str(name)
                if name in names:
                    errors.append('volume or snapshot name %s is given more than once' % name)
                if name in (self.pool, self.meta, self.data):
                    errors.append('volume or snapshot name %s is taken: %s, %s and %s are the stack itself'
                                  % (name, self.pool, self.meta, self.data))
                origin = item.get('origin') if kind == 'snapshot' else None
                if kind == 'snapshot' and origin not in names:
                    errors.append('snapshot %s: origin %s is not a volume or an earlier snapshot of volumes / '
                                  'snapshots' % (name, origin))
                size = item.get('size')
                if size is None and kind == 'volume':
                    errors.append('volume %s: expected a size' % name)
                size = sectors(size, '%s %s size' % (kind, name), minimum=1) if size is not None else sizes.get(origin)
                sizes[name] = size
                dev_id = item.get('dev_id')
                explicit = dev_id is not None
                dev_id = position if dev_id is None else dev_id
                if isinstance(dev_id, bool) or not isinstance(dev_id, int) or not 0 <= dev_id <= MAX_DEV_ID:
                    errors.append('%s: dev_id %r; expected a number from 0 to %d' % (name, dev_id, MAX_DEV_ID))
                filesystem, mount = item.get('filesystem'), item.get('mount')
                if filesystem is not None and filesystem not in FILESYSTEMS:
                    errors.append('volume %s: filesystem %r; expected one of %s' % (name, filesystem, ', '.join(FILESYSTEMS)))
                if mount is not None:
                    if filesystem is None:
                        errors.append('volume %s: mount %s needs a filesystem' % (name, mount))
                    elif not str(mount).startswith('/') or len(str(mount)) < 2:
                        errors.append('volume %s: mount %s is not an absolute path' % (name, mount))
                thin = dict(name=name, size=size, size_given=item.get('size'), dev_id=dev_id, explicit=explicit, origin=origin,
                            filesystem=filesystem, mount=mount)
                (self.volumes if kind == 'volume' else self.snapshots).append(thin)
                names.append(name)
        errors.extend(self.dev_id_clashes())

    def dev_id_clashes(self):
        ids = [t['dev_id'] for t in self.thins]
        return ['dev_id %s is used by %s; give each volume and snapshot its own (a missing dev_id is the one '
                'recorded when the thin was created, else its position in volumes + snapshots, from 1)'
                % (dev_id, ' and '.join(t['name'] for t in self.thins if t['dev_id'] == dev_id))
                for dev_id in _unique(ids) if ids.count(dev_id) > 1]

    def keep_recorded_dev_ids(self, recorded):
        """A thin without a dev_id of its own keeps the one it was created with (the record's); a new one
        takes its position, or the next free id when that is taken, so adding a volume never moves the
        default dev_id of a snapshot made before it."""
        taken = set(t['dev_id'] for t in self.thins if t['explicit'])
        taken.update(recorded.get(t['name']) for t in self.thins if not t['explicit'] and t['name'] in recorded)
        for thin in self.thins:
            if thin['explicit']:
                continue
            if thin['name'] in recorded:
                thin['dev_id'] = recorded[thin['name']]
                continue
            dev_id = thin['dev_id']
            while dev_id in taken:
                dev_id += 1
            thin['dev_id'] = dev_id
            taken.add(dev_id)
        clashes = self.dev_id_clashes()
        if clashes:
            raise DmError('; '.join(clashes))

    @property
    def thins(self):
        return self.volumes + self.snapshots

    def names(self):
        return [t['name'] for t in self.volumes], [t['name'] for t in self.snapshots]


class ThinStack(Stack):
    """One thin stack on the host this runs on (``Stack`` says what the arguments are)."""

    def __init__(self, config, run, dmpd, check_mode=False, host_factory=None, io=None):
        super(ThinStack, self).__init__(config, run, dmpd, check_mode=check_mode, host_factory=host_factory, io=io)
        self.dmpd_used = False
        self.written = False    # data written since the last discovery (mkfs, workload)

    # -- present ------------------------------------------------------------------------
    def present(self):
        c = self.c
        old = self.record.load()
        self.old = old
        ours = old.get('backing') == c.backing and old.get('devices', []) == c.given
        if old and not ours:
            raise DmError('stack %s is recorded in %s as built on %s %s; tear it down (state: absent) before '
                          'building it on %s %s'
                          % (c.name, self.record.path, old.get('backing', '?'),
                             ' '.join(old.get('devices') or []) or old.get('loop_file') or '', c.backing,
                             ' '.join(c.given) or c.loop_file))
        built = bool(ours and old.get('built'))
        c.keep_recorded_dev_ids(old.get('dev_ids') or {} if ours else {})
        loop_dev = None
        if c.backing == 'loop':
            found = self.tools.loops_of(c.loop_file)
            loop_dev = found[0] if found else None
        layout = old.get('layout') if ours and old.get('layout') else self.new_layout()

        self.refuse_resizes()
        superblock = self.io['superblock'](c.given[0]) if c.backing != 'loop' and not built else None
        to_wipe = []
        if c.backing != 'loop' and not ours:
            found = occupied(self.tools, c.given, superblock)
            if found and c.safe_mode:
                raise DmError('safe_mode: refusing to build stack %s on what is in use: %s. Give other disks, or '
                              'set safe_mode false to overwrite them.' % (c.name, '; '.join(found)))
            to_wipe = [f.split(' holds ')[0] for f in found if ' (signature at offset ' in f]

        intent = dict(old, name=c.name, backing=c.backing, devices=c.given,
                      loop_file=c.loop_file if c.backing == 'loop' else None, layout=layout, built=built)
        self.save(intent, old)

        if c.backing == 'loop' and not loop_dev:
            if not os.path.exists(c.loop_file):
                size = (layout['metadata_sectors'] + layout['data_sectors']) * 512
                self.do('create the sparse file %s (%d bytes)' % (c.loop_file, size),
                        self.io['create_sparse'], c.loop_file, size)
            self.act('attach %s to a loop device' % c.loop_file)
            loop_dev = self.tools.attach(c.loop_file)
        self.loop_dev = loop_dev
        if to_wipe:
            self.act('erase the signatures on %s' % ' '.join(_unique(to_wipe)))
            self.tools.wipe(_unique(to_wipe))
        if c.backing != 'loop' and not built and (not ours or superblock is None or superblock.family != 'thin'):
            self.act('zero the superblock of the metadata area %s' % c.given[0])
            self.tools.zero_head(c.given[0])

        volumes, snapshots = c.names()
        carve_dev = loop_dev if c.backing == 'loop' else (c.given[0] if c.given else None)
        if self.check_mode and c.backing == 'loop' and not loop_dev:
            # nothing to read a table against yet: the whole stack would be created
            for name in ([c.meta, c.data, c.pool] + volumes + snapshots):
                self.act('create device %s' % name)
            self.count_io(volumes + snapshots)
            live = []
            first = None
        else:
            wanted = [t for t in c.thins if built or t['origin'] is None]
            first = self.apply(self.carve(layout, carve_dev) + [self.pool_spec(layout)] +
                               [self.thin_spec(t) for t in wanted])
            live = [r['name'] for r in first if (r['before'] if self.check_mode else r['after']).get('exists')]
            # counted from before mkfs and the workload
            self.count_io([t['name'] for t in wanted])
        mount_dirs = self.filesystems(live, intent)
        checksums = self.workload(live, old.get('checksums') or {})
        if first is not None and not built and c.snapshots:
            self.apply([self.thin_spec(t) for t in c.snapshots])
            self.count_io(snapshots)
        final = dict(intent, built=built or first is not None,
                     volumes=_unique((old.get('volumes') or []) + volumes),
                     snapshots=_unique((old.get('snapshots') or []) + snapshots),
                     mount_dirs=_unique((old.get('mount_dirs') or []) + mount_dirs),
                     dev_ids=dict(old.get('dev_ids') or {}, **dict((t['name'], t['dev_id']) for t in c.thins)),
                     checksums=dict(old.get('checksums') or {}, **checksums))
        self.save(final, intent)
        self.final = final
        return self.report(final)

    def refuse_resizes(self):
        """A thin device of the stack that is there with another size is refused before anything changes."""
        for thin in self.c.thins:
            table = self.host.tables.get(thin['name']) if thin['size'] is not None else None
            if table is not None and table.length != thin['size']:
                raise DmError('%s %s is %d sectors, wanted %d (%s): the stack does not resize thin devices; give its '
                              'size as it is, or tear the stack down to build it anew'
                              % ('snapshot' if thin['origin'] else 'volume', thin['name'], table.length, thin['size'],
                                 thin['size_given']))

    def new_layout(self):
        c = self.c
        if c.backing == 'loop':
            pool_sectors = c.loop_size
        else:
            disk = self.tools.sectors(c.given)
            pool_sectors = disk[0]
        if c.backing == 'devices':
            meta = 0
        elif c.metadata_size is not None:
            meta = c.metadata_size
        else:
            from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.ops import metadata_size
            self.dmpd_used = True
            estimate = metadata_size(self.dmpd, 'thin', block_size=c.block, pool_size=pool_sectors,
                                     max_thins=max(len(c.thins), 1))
            meta = min(max((estimate['sectors'] + 7) // 8 * 8, MIN_METADATA_SECTORS), MAX_METADATA_SECTORS)
        if c.backing == 'loop':
            data = c.loop_size
        elif c.backing == 'disk':
            data = pool_sectors - meta
        else:
            data = disk[1]
        if data < c.block:
            where = c.given[-1] if c.given else c.loop_file
            raise DmError('%s leaves %d sectors of pool data after %d sectors of metadata; expected at least one '
                          'pool block (%d sectors)' % (where, max(data, 0), meta, c.block))
        data = data // c.block * c.block
        return dict(metadata_sectors=meta, data_sectors=data)

    # -- specs --------------------------------------------------------------------------
    def carve(self, layout, device):
        c = self.c
        if c.backing == 'devices':
            return []
        meta, data = layout['metadata_sectors'], layout['data_sectors']

        def linear(length, offset):
            return Table.from_params([dict(type='linear', length=length, options=dict(device=device, offset=offset))])
        return [DeviceSpec(c.meta, table=linear(meta, 0)), DeviceSpec(c.data, table=linear(data, meta))]

    def pool_spec(self, layout):
        c = self.c
        return DeviceSpec(c.pool, table=Table.from_params([dict(
            type='thin-pool', length=layout['data_sectors'],
            options=dict(metadata_dev=c.meta_path, data_dev=c.data_path, block_size=c.block,
                         low_water_mark=c.low_water_mark, features=c.features))]))

    def thin_spec(self, thin):
        table = Table.from_params([dict(type='thin', length=thin['size'],
                                        options=dict(pool=MAPPER + self.c.pool, dev_id=thin['dev_id']))])
        return DeviceSpec(thin['name'], table=table, snapshot_of=thin['origin'])

    def applied(self, results):
        if any(r['changed'] for r in results) and not self.check_mode:
            self.written = False     # DmHost discovered again after its changes

    # -- filesystems, mounts, workload --------------------------------------------------
    def filesystems(self, live, record):
        """mkfs where blkid finds nothing, mount points, mounts; returns the mount points it created."""
        fs_volumes = [v for v in self.c.volumes if v['filesystem'] and v['name'] in live]
        if not fs_volumes:
            return []
        mount_volumes = [v for v in fs_volumes if v['mount']]
        mounts = self.tools.mounts() if mount_volumes else []
        mounted = [v['name'] for v in mount_volumes if (MAPPER + v['name'], v['mount']) in mounts]
        self.mounted = mounted
        probe = [v for v in fs_volumes if v['name'] not in mounted]
        found = self.tools.filesystems([MAPPER + v['name'] for v in probe])
        other = ['%s holds %s, wanted %s' % (v['name'], found[MAPPER + v['name']], v['filesystem'])
                 for v in probe if found.get(MAPPER + v['name']) not in (None, v['filesystem'])]
        if other:
            raise DmError('not formatted, the volumes hold something else: %s; remove the volume (or the filesystem '
                          'on it) to let the stack make the one asked for' % '; '.join(other))
        for v in probe:
            if MAPPER + v['name'] not in found:
                self.act('make %s on %s' % (v['filesystem'], v['name']))
                self.tools.mkfs(v['filesystem'], MAPPER + v['name'])
                self.written = True
        created = []
        for v in mount_volumes:
            if v['name'] in mounted:
                continue
            if not os.path.isdir(v['mount']):
                self.do('create the mount point %s' % v['mount'], os.makedirs, v['mount'], 0o755)
                created.append(v['mount'])
                if not self.check_mode:
                    # so that a teardown after a later failure still removes the mount points made
                    self.record.save(dict(record, mount_dirs=_unique((record.get('mount_dirs') or []) + created)))
            self.act('mount %s on %s' % (v['name'], v['mount']))
            self.tools.mount(v['filesystem'], MAPPER + v['name'], v['mount'])
        return created

    def workload_targets(self, live):
        out = []
        for v in self.c.volumes:
            if v['name'] not in live:
                continue
            if v['filesystem'] is None:
                out.append((v['name'], MAPPER + v['name']))
            elif v['mount']:
                out.append((v['name'], os.path.join(v['mount'], '%s_workload.bin' % self.c.name)))
        return out

    def workload(self, live, recorded):
        """The known pattern, once per volume: written with direct I/O and read back; the sha256 recorded
        is the pattern's, and the read-back must match it (a volume that gives back other data fails)."""
        if not self.c.workload:
            return {}
        sums = {}
        for name, target in self.workload_targets(live):
            if name in recorded:
                continue
            self.act('write the workload pattern to %s' % target)
            if self.check_mode:
                continue
            data = pattern('thin_stack', self.c.name, name)
            self.io['write'](target, data)
            self.written = True
            expected, got = hashlib.sha256(data).hexdigest(), self.io['sha256'](target, WORKLOAD_BYTES)
            if got != expected:
                raise DmError('the workload read back from %s is not what was written to it (sha256 %s, expected %s)'
                              % (target, got, expected))
            sums[name] = expected
        return sums

    # -- verification and report --------------------------------------------------------
    def verify(self):
        """thin_check through a metadata snapshot held for the check alone; returns (healthy, findings)."""
        c = self.c
        host = self.host
        if self.written:
            # the workload and mkfs wrote data since the last discovery: the usage figures moved
            host.refresh()
        status = host.pool_status(c.pool)
        if status is None:
            return None, []
        held_before = status.get('held_metadata_root') is not None
        self.dmpd_used = True
        if not held_before:
            host.thin_message(c.pool, 'reserve_metadata_snap')
        try:
            res = self.dmpd.run('thin_check', input=c.meta_path, metadata_snap=True)
        finally:
            if not held_before:
                # the report keeps the status read before the reserve: the pair leaves the pool as it was
                host.thin_message(c.pool, 'release_metadata_snap')
        if res.outcome in ('usage', 'unexpected'):
            raise DmError('%s did not run the check (rc=%d, %s): %s'
                          % (res.cmd[0], res.rc, res.outcome, res.stderr.strip()))
        return res.ok, parse_check(res.stdout, res.stderr)['findings']

    def report(self, record):
        c = self.c
        volumes, snapshots = c.names()
        healthy, findings = (None, [])
        host = self.host if not (self.check_mode and c.backing == 'loop' and not self.loop_dev) else None
        if c.verify and not self.check_mode:
            healthy, findings = self.verify()
        status = (host.pool_status(c.pool) if host is not None else None) or {}
        problems = []
        if not status:
            problems.append('pool %s: not active' % c.pool)
        else:
            if status.get('mode') != 'rw':
                problems.append('pool %s: mode %s, expected rw' % (c.pool, status.get('mode')))
            if status.get('needs_check'):
                problems.append('pool %s: needs_check is set' % c.pool)
        if healthy is False:
            problems.append('thin_check of %s through the metadata snapshot failed: %s'
                            % (c.meta_path, '; '.join(findings) or 'no output'))
        for name in volumes + snapshots:
            dev = host.facts.get(name) if host is not None else None
            if dev is None:
                problems.append('thin device %s: not there' % name)
            elif dev['suspended']:
                problems.append('thin device %s: suspended' % name)
        self.problems = problems
        return {
            'name': c.name, 'state': 'present', 'pool': c.pool, 'backing': c.backing,
            'loop_file': c.loop_file if c.backing == 'loop' else None,
            'loop_device': self.loop_dev if c.backing == 'loop' else None,
            'data_device': c.data_path, 'metadata_device': c.meta_path, 'block_size': c.block,
            'volumes': volumes, 'snapshots': snapshots,
            'pool_mode': status.get('mode'), 'transaction_id': status.get('transaction_id'),
            'data_used_blocks': status.get('used_data_blocks'), 'data_total_blocks': status.get('total_data_blocks'),
            'data_usage_pct': _pct(status.get('used_data_blocks'), status.get('total_data_blocks')),
            'metadata_used_blocks': status.get('used_metadata_blocks'),
            'metadata_total_blocks': status.get('total_metadata_blocks'),
            'metadata_usage_pct': _pct(status.get('used_metadata_blocks'), status.get('total_metadata_blocks')),
            'needs_check': status.get('needs_check'), 'check_healthy': healthy,
            'tool_version': str(self.dmpd.version) if self.dmpd_used else None,
            'checksums': dict(record.get('checksums') or {}),
            'io': self.read_io(volumes + snapshots),
        }

    # -- absent -------------------------------------------------------------------------
    def absent(self):
        """Mounts, thin devices, pool, carve-outs, loop device, mount points, the stack's directory.
        On given disks, once the pool and its carve-outs are gone, the head of the metadata area is zeroed
        (``blank_given_head``): the disk reads blank again, so a later build passes safe mode."""
        c = self.c
        old = self.record.load()
        self.old = old
        self.problems = []
        volumes, snapshots = c.names()
        names = _unique((old.get('snapshots') or []) + snapshots + (old.get('volumes') or []) + volumes +
                        [c.pool, c.meta, c.data])
        sources = set(MAPPER + n for n in names)
        mounts = sorted((m for m in self.tools.mounts() if m[0] in sources), key=lambda m: m[1], reverse=True)
        for source, target in mounts:
            self.act('unmount %s from %s' % (source, target))
            self.tools.umount(target)
        if mounts:
            self.host.closed_after_unmount([source[len(MAPPER):] for source, _target in mounts])
        results = self.apply([DeviceSpec(n, state='absent') for n in names])
        loops = self.tools.loops_of(old['loop_file']) if old.get('loop_file') else []
        for loop in loops:
            self.act('detach %s' % loop)
            self.tools.detach(loop)
        if old.get('devices') == c.given:
            self.blank_given_head(old)
        for path in old.get('mount_dirs') or []:
            if os.path.isdir(path):
                self.do('remove the mount point %s' % path, os.rmdir, path)
        if old or os.path.isdir(c.dir):
            if os.path.isdir(c.dir):
                self.do('remove the stack directory %s' % c.dir, shutil.rmtree, c.dir)
        report = dict((k, None) for k in REPORT_KEYS)
        report.update(name=c.name, state='absent', pool=c.pool, backing=old.get('backing'), volumes=[],
                      snapshots=[], checksums={}, removed=[r['name'] for r in results if r['changed']],
                      loops_detached=loops)
        return report


class ThinStackRunner(StackRunner):
    """dm_thin_stack: one call builds, verifies or tears down the stack."""

    config_class = ThinConfig
    stack_class = ThinStack
