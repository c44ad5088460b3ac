# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every stack module needs besides dmsetup: the host's other tools, read and parsed here
once (losetup, blockdev, wipefs, lsblk, findmnt, blkid, mkfs, mount), the stack's state record,
the safe-mode probe of given disks, the known workload, and the common ground of the planners
(``Stack``: host, actions, record writes, batches, the I/O statistics of the users' devices) and
of their modules (``StackRunner``).

Every command is an argv list through ``run(argv, data=None) -> (rc, stdout, stderr)``; in
check mode the commands that change something are not run (``HostTools.changes`` still lists
them, so a check run returns the plan). The JSON outputs of util-linux are parsed here, never
in a role.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import hashlib
import json
import mmap
import os

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import DmRunner
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DmHost
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.stats import RegionSpec, Stats, totals
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import not_a_block_device
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd import metadata as md
from ansible_collections.sts.devicemapper.plugins.module_utils._json_file import save_json

# The known workload: 256 KiB per volume, written and read with direct I/O in 64 KiB blocks.
WORKLOAD_BYTES = 262144
IO_BLOCK = 65536
# filesystems a stack may make (mkfs.<name>)
FILESYSTEMS = ('ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'vfat')
# the program id of the statistics regions a stack keeps on its users' devices (option stats): one
# of its own, so dm_stats regions (program id sts-devicemapper) and other programs' are never touched
STATS_PROGRAM_ID = 'sts-devicemapper-stack'


class HostTools(object):
    """The host's block tools, as argv lists; parsed outputs; ``changes``: the commands that change
    something (run, or in check mode only planned)."""

    def __init__(self, run, check_mode=False):
        self._run = run
        self.check_mode = check_mode
        self.changes = []

    def read(self, argv, ok=(0,)):
        rc, out, err = self._run(argv, None)
        if rc not in ok:
            raise DmError('%s failed (rc %d): %s' % (' '.join(argv), rc, (err or out).strip() or 'no output'),
                          cmd=argv, rc=rc)
        return rc, out

    def change(self, argv):
        """Run a command that changes the host (not in check mode); returns its stdout."""
        self.changes.append(list(argv))
        if self.check_mode:
            return ''
        return self.read(argv)[1]

    # -- loop devices -------------------------------------------------------------------
    def loops(self):
        """[(loop device, backing file)] of every attached loop device."""
        _rc, out = self.read(['losetup', '--list', '--json', '--output', 'NAME,BACK-FILE'])
        if not out.strip():
            return []
        return [(d['name'], d.get('back-file') or '') for d in json.loads(out).get('loopdevices', [])]

    def loops_of(self, path):
        """The loop devices attached to ``path`` (also once the file was deleted)."""
        return [name for name, back in self.loops() if back in (path, path + ' (deleted)')]

    def attach(self, path):
        out = self.change(['losetup', '--find', '--show', path])
        return out.strip() if not self.check_mode else None

    def detach(self, device):
        self.change(['losetup', '--detach', device])

    # -- disks --------------------------------------------------------------------------
    def sectors(self, devices):
        """Sizes in 512-byte sectors, one per device (``blockdev --getsz``)."""
        _rc, out = self.read(['blockdev', '--getsz'] + list(devices))
        sizes = [int(line) for line in out.split()]
        if len(sizes) != len(devices):
            raise DmError('blockdev --getsz %s: expected %d sizes, got %r' % (' '.join(devices), len(devices), out))
        return sizes

    def signatures(self, device):
        """[(type, offset)] of what wipefs finds on ``device``."""
        _rc, out = self.read(['wipefs', '--json', device])
        if not out.strip():
            return []
        return [(s.get('type') or 'unknown', s.get('offset')) for s in json.loads(out).get('signatures', [])]

    def usage(self, device):
        """What lsblk says uses ``device``: ['<device> is mounted on X', '<device> is used by TYPE NAME']."""
        _rc, out = self.read(['lsblk', '--json', '--output', 'NAME,TYPE,MOUNTPOINT', device])
        found = []
        if not out.strip():
            return found
        for dev in json.loads(out).get('blockdevices', []):
            if dev.get('mountpoint'):
                found.append('%s is mounted on %s' % (device, dev['mountpoint']))
            for child in dev.get('children') or []:
                found.append('%s is used by %s %s' % (device, child.get('type'), child.get('name')))
        return found

    def wipe(self, devices):
        self.change(['wipefs', '--all'] + list(devices))

    def zero_head(self, device, length=4096):
        """Zero the first ``length`` bytes. blkdiscard opens the disk exclusively: it fails rather
        than write under a live pool or a mounted filesystem."""
        self.change(['blkdiscard', '--zeroout', '--offset', '0', '--length', str(length), device])

    # -- filesystems and mounts ---------------------------------------------------------
    def mount_rows(self):
        """[{source, target, fstype, options}] of every mount (findmnt's JSON)."""
        _rc, out = self.read(['findmnt', '--list', '--json', '--output', 'SOURCE,TARGET,FSTYPE,OPTIONS'])
        if not out.strip():
            return []
        return [dict(source=f.get('source') or '', target=f.get('target') or '', fstype=f.get('fstype') or '',
                     options=f.get('options') or '') for f in json.loads(out).get('filesystems', [])]

    def mounts(self):
        """[(source, target)] of every mount."""
        return [(m['source'], m['target']) for m in self.mount_rows()]

    def remount(self, row):
        """Mount a filesystem again as ``row`` (a mount_rows row) says."""
        self.change(remount_argv(row))

    def filesystems(self, devices):
        """{device: what blkid finds on it (TYPE, or the partition table's PTTYPE)}; empty devices are left out."""
        if not devices:
            return {}
        _rc, out = self.read(['blkid', '-p', '-o', 'export'] + list(devices), ok=(0, 2))
        return parse_blkid_export(out)

    def mkfs(self, filesystem, device):
        self.change(['mkfs.%s' % filesystem, device])

    def mount(self, filesystem, device, target):
        self.change(['mount', '-t', filesystem, device, target])

    def umount(self, target):
        self.change(['umount', target])


def remount_argv(row):
    """The argv that mounts a filesystem again as ``row`` (a ``HostTools.mount_rows`` row) says."""
    return ['mount', '-t', row['fstype'], '-o', row['options'], row['source'], row['target']]


def parse_blkid_export(text):
    found = {}
    for block in text.split('\n\n'):
        values = dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
        if 'DEVNAME' in values:
            found[values['DEVNAME']] = values.get('TYPE') or values.get('PTTYPE') or 'unknown'
    return found


class StateRecord(object):
    """The stack's record on the host: ``<dir>/state.json``, written atomically (0600)."""

    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, 'state.json')

    def load(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except IOError as exc:
            if exc.errno == errno.ENOENT:
                return {}
            raise DmError('cannot read the stack record %s: %s' % (self.path, exc))
        except ValueError as exc:
            raise DmError('the stack record %s is not JSON (%s); remove it only if nothing of the stack '
                          'is left' % (self.path, exc))
        if not isinstance(data, dict):
            raise DmError('the stack record %s holds %s, not an object' % (self.path, type(data).__name__))
        return data

    def save(self, data):
        save_json(self.path, data, indent=4)


def require_block_devices(paths, stat_of=os.stat):
    """Fail naming the path when a given disk does not exist or is no block device (before
    blockdev, lsblk or wipefs say it in their own words)."""
    for path in paths:
        why = not_a_block_device(path, stat_of)
        if why:
            raise DmError('%s %s; expected a block device' % (path, why))


def occupied(tools, disks, superblock=None):
    """What the given disks hold, one text per finding (safe mode refuses them): wipefs signatures,
    what lsblk says uses them (a mount, a dm device or partition on them), and the family of
    metadata found at the start of the metadata area (``superblock``: a
    ``_dmpd.metadata.Superblock`` of ``disks[0]`` or None)."""
    found = []
    for disk in disks:
        for kind, offset in tools.signatures(disk):
            found.append('%s holds %s (signature at offset %s)' % (disk, kind, offset))
        found.extend(tools.usage(disk))
    if superblock is not None and superblock.family:
        found.append('%s holds %s metadata' % (disks[0], superblock.family))
    return found


def pattern(stack_kind, stack, volume, nbytes=WORKLOAD_BYTES):
    """The known data of one volume: 64-byte lines naming the stack and the volume."""
    line = (('sts.devicemapper %s %s %s ' % (stack_kind, stack, volume)) * 8)[:63] + '\n'
    return (line * (nbytes // 64)).encode('ascii')


def _aligned(nbytes):
    return mmap.mmap(-1, nbytes)


def _open_direct(path, flags):
    """Open with O_DIRECT where the filesystem takes it (tmpfs does not: then buffered, with fsync
    and the page cache dropped, so a read still comes from the device)."""
    try:
        return os.open(path, flags | getattr(os, 'O_DIRECT', 0), 0o600), True
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return os.open(path, flags, 0o600), False


def write_direct(path, data):
    """Write ``data`` (a multiple of 64 KiB) at the start of ``path`` past the page cache, synced."""
    flags = os.O_WRONLY | (os.O_CREAT if not path.startswith('/dev/') else 0)
    fd, _direct = _open_direct(path, flags)
    buf = _aligned(IO_BLOCK)
    try:
        for start in range(0, len(data), IO_BLOCK):
            buf.seek(0)
            buf.write(data[start:start + IO_BLOCK])
            os.lseek(fd, start, os.SEEK_SET)
            if os.writev(fd, [buf]) != IO_BLOCK:
                raise DmError('%s: short write at byte %d' % (path, start))
        os.fsync(fd)
    finally:
        buf.close()
        os.close(fd)


def sha256_direct(path, nbytes):
    """sha256 of the first ``nbytes`` of ``path``, read past the page cache."""
    fd, direct = _open_direct(path, os.O_RDONLY)
    buf = _aligned(IO_BLOCK)
    digest = hashlib.sha256()
    try:
        if not direct and hasattr(os, 'posix_fadvise'):
            os.posix_fadvise(fd, 0, nbytes, os.POSIX_FADV_DONTNEED)
        for start in range(0, nbytes, IO_BLOCK):
            os.lseek(fd, start, os.SEEK_SET)
            got = os.readv(fd, [buf])
            if got != IO_BLOCK:
                raise DmError('%s: short read at byte %d (%d of %d bytes)' % (path, start, got, IO_BLOCK))
            digest.update(buf[:got])
    finally:
        buf.close()
        os.close(fd)
    return digest.hexdigest()


class Stack(object):
    """Common ground of the stack planners (thin, cache, era): one stack on the host this runs on.

    ``run(argv, data=None)``: argv lists only; ``dmpd``: a ``_dmpd.tools.Dmpd``; ``host_factory``:
    makes the ``DmHost`` (discovery runs when it is first needed); ``io``: file and block I/O,
    replaced in unit tests. ``actions`` lists what changed (in check mode, would change), in order;
    ``devices`` every DmHost result; ``problems`` what is wrong with the built stack.

    With the config's ``stats``, each planner calls ``count_io`` on the devices its users get as
    soon as they are there (before mkfs and the workload write them) and reports ``read_io`` of
    them at the end."""

    tools_class = HostTools

    def __init__(self, config, run, dmpd, check_mode=False, host_factory=None, io=None):
        self.c = config
        self.run = run
        self.dmpd = dmpd
        self.check_mode = check_mode
        self.tools = self.tools_class(run, check_mode)
        self.record = StateRecord(config.dir)
        self._host_factory = host_factory or (lambda: DmHost(run, check_mode=check_mode))
        self._host = None
        self.io = dict(write=write_direct, sha256=sha256_direct, superblock=md.read_superblock,
                       create_sparse=md.create_sparse)
        self.io.update(io or {})
        self.actions = []
        self.devices = []
        self.problems = []
        self.warnings = []
        self.old = {}
        self.final = {}
        self.loop_dev = None

    @property
    def host(self):
        if self._host is None:
            self._host = self._host_factory()
        return self._host

    def act(self, text):
        self.actions.append(text)

    def do(self, text, func, *args):
        self.act(text)
        if not self.check_mode:
            return func(*args)
        return None

    def save(self, data, before):
        """Write the record when it differs from ``before`` (never in check mode: then only planned)."""
        if data == before:
            return
        self.act('write the stack record %s' % self.record.path)
        if not self.check_mode:
            self.record.save(data)

    def blank_given_head(self, old):
        """After a teardown has removed every device of a stack built on given disks: zero the superblock
        the build formatted at the head of the first given disk (the metadata area), so the disk reads
        blank again, as safe mode wanted it for the build, and the next build passes safe mode. Only when
        the stack's record says it was built here (``old``); nothing else on the disks is written."""
        c = self.c
        if not old or old.get('backing') in (None, 'loop') or not c.given:
            return
        self.act('zero the superblock of the metadata area %s' % c.given[0])
        self.tools.zero_head(c.given[0])

    def applied(self, results):
        """Hook: called after a batch that went through."""

    def count_io(self, names):
        """With ``stats``: one statistics region of program id ``STATS_PROGRAM_ID`` over the whole of each
        device of ``names`` that has none (a region of that program id already there is kept, whatever its
        range; other programs' regions are left alone). A device check mode would create is planned; one
        that is not there or is suspended is skipped (the planner's problems say so). Only ``@stats``
        messages: nothing is suspended."""
        if not self.c.stats:
            return
        host = self.host
        for name in names:
            text = 'create the I/O statistics region (program id %s) of device %s' % (STATS_PROGRAM_ID, name)
            dev, table = host.facts.get(name), host.tables.get(name)
            if dev is None or table is None or not table.length:
                if self.check_mode:
                    self.act(text)
                continue
            if dev['suspended']:
                continue
            stats = Stats(host.dmsetup, name)
            if stats.regions(STATS_PROGRAM_ID):
                continue
            self.act(text)
            if not self.check_mode:
                stats.create(RegionSpec.from_params({'program_id': STATS_PROGRAM_ID}, table.length, name))

    def read_io(self, names):
        """The report's ``io``: {device: the counters of its ``STATS_PROGRAM_ID`` region, summed over its areas
        (``_dm.stats.totals``)} for each of ``names``, None for a device that is not there, is suspended or
        has no such region (in check mode, one that would be made). None without ``stats``."""
        if not self.c.stats:
            return None
        host = self.host
        out = {}
        for name in names:
            out[name] = None
            dev = host.facts.get(name)
            if dev is None or dev['suspended']:
                continue
            stats = Stats(host.dmsetup, name)
            regions = stats.regions(STATS_PROGRAM_ID)
            if regions:
                out[name] = totals(stats.areas(regions[0]))
        return out

    def apply(self, specs):
        """One DmHost batch; every device it changed is listed among the actions, also when it fails midway."""
        try:
            results = self.host.apply(specs)
        except DmError as exc:
            done = exc.details.get('devices', [])
            self.devices.extend(done)
            self.actions.extend('%s device %s' % ('remove' if r['state'] == 'absent' else 'change', r['name'])
                                for r in done if r['changed'])
            raise
        self.devices.extend(results)
        self.applied(results)
        for r in results:
            if r['changed']:
                verb = 'remove' if r['state'] == 'absent' else ('create' if not r['before'].get('exists') else 'change')
                self.act('%s device %s' % (verb, r['name']))
        return results


def record_text(record):
    """A stack record as the text of a diff."""
    return json.dumps(record, indent=2, sort_keys=True) + '\n' if record else ''


class StackRunner(DmRunner):
    """A stack module: the config class checks the parameters, the stack class builds or tears down;
    one call, whose result carries the report, the problems, the actions and the commands."""

    locks = True
    config_class = None
    stack_class = None

    def __init__(self, module):
        super(StackRunner, self).__init__(module)
        self._bins = {}

    def run_tool(self, argv, data=None):
        """Any tool by its name (found in PATH, /usr/sbin or /sbin), argv only, C locale."""
        argv = list(argv)
        if argv[0] not in self._bins:
            self._bins[argv[0]] = self.module.get_bin_path(argv[0], required=True, opt_dirs=['/usr/sbin', '/sbin'])
        argv[0] = self._bins[argv[0]]
        return self.module.run_command(argv, data=data, binary_data=True, environ_update={'LC_ALL': 'C'})

    def stack_kwargs(self):
        """Keyword arguments a stack class takes beyond the common ones."""
        return {}

    def run(self):
        config = self.config_class(self.params)
        stack = self.stack_class(config, self.run_tool, Dmpd(self.module), check_mode=self.check_mode,
                                 host_factory=lambda: self.recovered(DmHost(
                                     self.run_tool, check_mode=self.check_mode, guard=self.guard,
                                     udev_timeout=self.params.get('udev_timeout') or 10)),
                                 **self.stack_kwargs())
        if config.state == 'present':
            require_block_devices(getattr(config, 'given', None) or [])
        try:
            report = stack.present() if config.state == 'present' else stack.absent()
        finally:
            self.result.update(changed=bool(stack.actions), actions=stack.actions, devices=stack.devices,
                               commands=stack.tools.changes)
            for warning in stack.warnings:
                self.module.warn(warning)
        self.result.update(report=report, problems=stack.problems)
        if config.state == 'present':
            after = stack.final
        else:
            # a teardown that stopped on a problem left the stack (and its record) as it was
            after = stack.old if stack.problems else {}
        self.set_diff(record_text(stack.old), record_text(after))
