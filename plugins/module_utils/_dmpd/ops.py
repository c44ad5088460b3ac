# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the dmpd_* modules do: check, dump, restore, repair, info and trim.

Each runner validates its paths before any tool runs, refuses to touch
metadata that an active device uses, builds new metadata in a scratch file
first, and only then replaces the destination (backing up what was there).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import time

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import (
    Dmpd, DmpdError, FAMILIES, tool_for)
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.parsers import (
    THIN_LS_FIELDS, parse_check, parse_metadata_size, parse_thin_delta, parse_thin_ls)
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd import metadata as md
from ansible_collections.sts.devicemapper.plugins.module_utils._module_base import (
    ModuleRunner, remove_quietly)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.resume_guard import pid_alive
from ansible_collections.sts.devicemapper.plugins.module_utils._units import to_sectors

FAMILY_CHOICES = ('auto',) + FAMILIES
LIVE_READ_HINT = ('reading live metadata needs a metadata snapshot: reserve one with the pool message '
                  'reserve_metadata_snap and set metadata_snap=true')
NO_WRITE_HINT = 'metadata that an active device uses is never written; deactivate the device first'

# Argument-spec groups shared by modules, paired with doc fragments of the same name.
FAMILY_SPEC = dict(family=dict(type='str', default='auto', choices=list(FAMILY_CHOICES)))
SAFETY_SPEC = dict(
    force=dict(type='bool', default=False),
    backup=dict(type='bool', default=True),
    backup_dir=dict(type='path'),
)
THIN_OVERRIDES_SPEC = dict(
    transaction_id=dict(type='int'),
    data_block_size=dict(type='raw'),
    nr_data_blocks=dict(type='int'),
)


def resolve_family(wanted, sb, path):
    """The family to use: the one given, or the one the superblock magic names."""
    if wanted and wanted != 'auto':
        return wanted
    if sb.family:
        return sb.family
    raise DmpdError('cannot tell the metadata family of %s: %s; give family (thin, cache or era) '
                    'to run the tools anyway' % (path, sb.describe()), family=None)


def _octal(mode):
    return None if mode is None else '%04o' % mode


def backup_name(backup_dir, dest, suffix):
    stamp = time.strftime('%Y%m%dT%H%M%S')
    base = '%s.%s.%d%s' % (os.path.basename(dest), stamp, os.getpid(), suffix)
    return os.path.join(backup_dir, base)


class DmpdRunner(ModuleRunner):
    """A ModuleRunner with the tools at hand."""

    def side_file(self, dest):
        """The path of this run's file beside dest (``.NAME.sts-dm-PID.tmp``: a dump or a candidate
        built there, renamed onto dest at the end). Such files a killed run of ours left (their pid
        gone) are removed first, with a warning (not in check mode)."""
        parent, base = os.path.split(os.path.abspath(dest))
        pattern = re.compile(r'^\.%s\.sts-dm-(\d+)\.tmp$' % re.escape(base))
        if not self.check_mode:
            try:
                names = os.listdir(parent)
            except OSError:
                names = []
            for name in names:
                match = pattern.match(name)
                if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
                    remove_quietly(os.path.join(parent, name))
                    self.module.warn('removed %s, left beside %s by an earlier run of this collection that was '
                                     'killed (pid %s)' % (os.path.join(parent, name), dest, match.group(1)))
        return os.path.join(parent, '.%s.sts-dm-%d.tmp' % (base, os.getpid()))

    def __init__(self, module):
        super(DmpdRunner, self).__init__(module)
        self.dmpd = Dmpd(module)

    def tool_facts(self):
        self.result['tool_version'] = str(self.dmpd.version)

    def dump_to(self, family, path, out, **options):
        """Dump ``path`` into the file ``out``; the tool writes it, Python never holds it."""
        return self.dmpd.run_ok(tool_for(family, 'dump').name, input=path, output=out, **options)


class CheckRunner(DmpdRunner):
    """dmpd_check: run the family's checker and report its verdict."""

    WRITE_OPTIONS = ('clear_needs_check_flag', 'auto_repair')
    READ_OPTIONS = ('super_block_only', 'skip_mappings', 'skip_hints', 'skip_discards',
                    'ignore_non_fatal_errors', 'metadata_snap')

    def run(self):
        p = self.params
        path = p['path']
        self.result.update(healthy=False, findings=[])
        md.require_existing(path)
        sb = md.require_binary(path)
        writes = [k for k in self.WRITE_OPTIONS if p[k]]
        if writes:
            md.refuse_if_held(path, 'path', '%s would write to it; %s' % (', '.join(writes), NO_WRITE_HINT))
        elif not p['metadata_snap']:
            md.refuse_if_held(path, 'path', LIVE_READ_HINT)
        self.tool_facts()
        try:
            family = resolve_family(p['family'], sb, path)
        except DmpdError as exc:
            # Nothing recognisable where a superblock should be is a failed check, not a usage error.
            self.result.update(family=None, findings=[exc.msg])
            return self.verdict('%s: %s' % (path, sb.describe()))
        self.result.update(family=family, needs_check=sb.needs_check)
        if sb.family and sb.family != family:
            self.result['findings'].append('the superblock magic says %s metadata, not %s'
                                           % (sb.family, family))
        options = dict((k, p[k]) for k in self.READ_OPTIONS + self.WRITE_OPTIONS if p[k])
        checker = tool_for(family, 'check').name
        # Validated with every option, so check mode refuses what the real run would refuse.
        self.dmpd.argv(checker, input=path, **options)
        if self.check_mode:
            for key in writes:
                options.pop(key)
        res = self.dmpd.run(checker, input=path, **options)
        if res.outcome in ('usage', 'unexpected'):
            raise DmpdError('%s did not run the check (rc=%d, %s): %s'
                            % (res.cmd[0], res.rc, res.outcome, res.stderr.strip()), **res.as_dict())
        parsed = parse_check(res.stdout, res.stderr)
        self.result.update(res.as_dict())
        self.result.update(transaction_id=parsed['transaction_id'],
                           metadata_free_blocks=parsed['metadata_free_blocks'],
                           findings=self.result['findings'] + parsed['findings'],
                           healthy=res.ok and sb.family in (None, family))
        if writes:
            self.account_writes(path, sb)
        return self.verdict('%s metadata at %s is damaged' % (family, path))

    def account_writes(self, path, before):
        p = self.params
        if self.check_mode:
            # the checkers clear the flag only when the check passes (0.9: clear_needs_check_flag_on_success)
            would_clear = p['clear_needs_check_flag'] and bool(before.needs_check) and self.result['healthy']
            would_repair = p['auto_repair'] and not self.result['healthy']
            self.result['changed'] = bool(would_clear or would_repair)
            after_flag = False if would_clear else before.needs_check
        else:
            after = md.read_superblock(path)
            self.result['changed'] = after.raw != before.raw
            after_flag = after.needs_check
        self.result['needs_check'] = after_flag
        if self.result['changed']:
            self.set_diff(dict(needs_check=before.needs_check, healthy=self.result['healthy']),
                          dict(needs_check=after_flag, healthy=None if self.check_mode else self.result['healthy']))

    def verdict(self, headline):
        if not self.result['healthy'] and self.params['fail_on_error']:
            findings = self.result['findings'] or ['the checker exited with rc=%s' % self.result.get('rc')]
            raise DmpdError('%s: %s' % (headline, '; '.join(findings[:8])))


class DumpRunner(DmpdRunner):
    """dmpd_dump: the tool streams the dump into a scratch file next to dest; it replaces
    dest only when the content differs."""

    def run(self):
        p = self.params
        path, dest = p['path'], p['dest']
        md.require_existing(path)
        sb = md.require_binary(path)
        if not p['metadata_snap']:
            md.refuse_if_held(path, 'path', LIVE_READ_HINT)
        dest_kind = md.path_kind(dest, 'dest')
        if dest_kind == 'block':
            raise DmpdError('dest %s is a block device; a dump is written to a regular file' % dest)
        parent = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(parent):
            raise DmpdError('dest %s: its directory %s does not exist' % (dest, parent))
        if not re.match(r'^0?[0-7]{3}$', p['mode']):
            raise DmpdError('mode %r is not an octal file mode such as 0600' % p['mode'])
        mode = int(p['mode'], 8)
        self.tool_facts()
        family = resolve_family(p['family'], sb, path)
        if p['format'] == 'human_readable' and family != 'thin':
            raise DmpdError('format human_readable exists for thin metadata only; %s holds %s metadata'
                            % (path, family))
        options = dict(repair=p['repair'], metadata_snap=p['metadata_snap'], logical=p['logical'],
                       skip_mappings=p['skip_mappings'], dev_id=p['dev_id'])
        if p['format'] != 'xml':
            options['format'] = p['format']
        tmp = self.side_file(dest)
        try:
            res = self.dump_to(family, path, tmp, **dict((k, v) for k, v in options.items() if v))
            new_digest = md.sha256_file(tmp)
            old_digest = md.sha256_file(dest) if dest_kind == 'file' else None
            self.result.update(path=path, dest=dest, family=family, format=p['format'],
                               cmd=res.cmd, sha256=new_digest, size=os.path.getsize(tmp))
            old_mode = os.stat(dest).st_mode & 0o7777 if dest_kind == 'file' else None
            self.result['changed'] = new_digest != old_digest or old_mode != mode
            if self.result['changed']:
                self.set_diff(dict(path=dest, sha256=old_digest, mode=_octal(old_mode)),
                              dict(path=dest, sha256=new_digest, mode=_octal(mode)))
                if not self.check_mode:
                    if new_digest != old_digest:
                        self.module.atomic_move(tmp, dest, unsafe_writes=False)
                    os.chmod(dest, mode)
        finally:
            remove_quietly(tmp)


class InstallRunner(DmpdRunner):
    """Shared by dmpd_restore and dmpd_repair: build new metadata in a scratch file,
    compare it with what dest holds, refuse or back up, then replace dest."""

    role_src = 'src'

    def build_candidate(self, family, out):
        raise NotImplementedError

    def source_family(self):
        raise NotImplementedError

    def needed_size(self, family):
        raise NotImplementedError

    def overrides(self, family):
        p = self.params
        thin_only = dict(transaction_id=p.get('transaction_id'), nr_data_blocks=p.get('nr_data_blocks'),
                         data_block_size=(to_sectors(p['data_block_size'], 'data_block_size')
                                          if p.get('data_block_size') is not None else None))
        given = sorted(k for k, v in thin_only.items() if v is not None)
        if given and family != 'thin':
            raise DmpdError('%s apply to thin metadata only; %s is %s metadata'
                            % (', '.join(given), self.params[self.role_src], family))
        return dict((k, v) for k, v in thin_only.items() if v is not None)

    def run(self):
        p = self.params
        src, dest = p[self.role_src], p['dest']
        md.require_existing(src, self.role_src)
        dest_kind = md.path_kind(dest, 'dest')
        if dest_kind != 'missing' and os.path.realpath(src) == os.path.realpath(dest):
            raise DmpdError('dest %s is the same as %s; write the new metadata to another device or file'
                            % (dest, self.role_src))
        if dest_kind == 'missing':
            parent = os.path.dirname(os.path.abspath(dest))
            if not os.path.isdir(parent):
                raise DmpdError('dest %s: its directory %s does not exist' % (dest, parent))
        else:
            md.refuse_if_held(dest, 'dest', NO_WRITE_HINT)
        family = self.source_family()
        self.tool_facts()
        self.result.update(dest=dest, family=family, backup_file=None)
        self.result[self.role_src] = src

        scratch = self.scratch()
        size = max(self.needed_size(family), md.MIN_METADATA_BYTES,
                   md.device_size(dest) if dest_kind == 'file' else 0)
        if dest_kind == 'block':
            # Built and compared in scratch space first; the device is written only at the end.
            candidate = os.path.join(scratch, 'candidate.bin')
            size = min(size, md.device_size(dest))
        else:
            # Built beside dest so that replacing dest is one rename.
            candidate = self.side_file(dest)
        try:
            self.install(family, dest, dest_kind, candidate, size, scratch)
        finally:
            if dest_kind != 'block':
                remove_quietly(candidate)

    def install(self, family, dest, dest_kind, candidate, size, scratch):
        p = self.params
        # A new file is the owner's alone; an existing one keeps its mode.
        mode = os.stat(dest).st_mode & 0o7777 if dest_kind == 'file' else 0o600
        md.create_sparse(candidate, size, mode)
        res = self.build_candidate(family, candidate)
        self.result['cmd'] = res.cmd
        new_digest = None
        # The dump's digest tells the candidate from what dest holds; with no dest it only feeds
        # the diff, and a dump costs a third of the restore itself.
        if dest_kind != 'missing' or self.module._diff:
            new_dump = os.path.join(scratch, 'new.xml')
            self.dump_to(family, candidate, new_dump)
            new_digest = md.sha256_file(new_dump)

        before = dict(exists=dest_kind != 'missing', holds=None, dump_sha256=None)
        if dest_kind != 'missing':
            old_sb = md.read_superblock(dest)
            before['holds'] = old_sb.describe()
            old_dump = None
            if old_sb.family:
                old_dump = os.path.join(scratch, 'old.xml')
                try:
                    self.dump_to(old_sb.family, dest, old_dump)
                    before['dump_sha256'] = md.sha256_file(old_dump)
                except DmpdError:
                    old_dump = None
                    before['holds'] = 'damaged %s metadata' % old_sb.family
            if old_sb.family == family and before['dump_sha256'] == new_digest:
                self.result.update(changed=False, msg='%s already holds this metadata' % dest)
                return
            if old_sb.family or not md.is_empty(dest, dest_kind):
                if not p['force']:
                    raise DmpdError('dest %s holds %s that differs from what %s would write; refused '
                                    'so nothing is lost: set force=true to replace it (a backup is '
                                    'written first unless backup=false)'
                                    % (dest, before['holds'], self.module._name.split('.')[-1]))
                if p['backup']:
                    self.result['backup_file'] = self.backup(dest, old_sb, old_dump)
        self.set_diff(before, dict(exists=True, holds='%s metadata' % family, dump_sha256=new_digest))
        self.result['changed'] = True
        if self.check_mode:
            return
        # The candidate is checked before dest is touched: metadata that does not pass the
        # checker never replaces what dest holds.
        try:
            self.verify_written(family, candidate, 'the metadata built for %s in %s' % (dest, candidate))
        except DmpdError:
            self.result['changed'] = False
            raise
        if dest_kind == 'block':
            self.build_candidate(family, dest)
            # a device is written in place, not renamed: what it holds now is checked too
            self.verify_written(family, dest, 'the metadata written to %s' % dest)
        else:
            self.module.atomic_move(candidate, dest, unsafe_writes=False)
            os.chmod(dest, mode)

    def verify_written(self, family, path, what):
        verify = self.dmpd.run(tool_for(family, 'check').name, input=path)
        if not verify.ok:
            raise DmpdError('%s does not pass %s: %s' % (what, verify.cmd[0], verify.stderr.strip()),
                            **verify.as_dict())

    def backup(self, dest, old_sb, old_dump):
        """Keep what dest held: its XML dump when readable, else a sparse raw copy. Mode 0600."""
        backup_dir = self.params['backup_dir'] or os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(backup_dir):
            raise DmpdError('backup_dir %s does not exist; create it or choose another' % backup_dir)
        if old_dump is None and old_sb.family:
            # damaged metadata: salvaged by a repairing dump when it can be (into scratch: read only
            # of dest, so check mode tries it too and names the backup the run would write)
            salvaged = os.path.join(self.scratch(), 'salvaged.xml')
            try:
                self.dump_to(old_sb.family, dest, salvaged, repair=True)
                old_dump = salvaged
            except DmpdError:
                old_dump = None
        if self.check_mode:
            return backup_name(backup_dir, dest, '.xml' if old_dump else '.bin')
        if old_dump:
            target = backup_name(backup_dir, dest, '.xml')
            os.chmod(old_dump, 0o600)
            self.module.atomic_move(old_dump, target, unsafe_writes=False)
            os.chmod(target, 0o600)
            return target
        target = backup_name(backup_dir, dest, '.bin')
        cmd = ['cp', '--sparse=always', dest, target]
        rc, out, err = self.module.run_command(cmd)
        if rc != 0:
            remove_quietly(target)
            raise DmpdError('cannot back up %s to %s: %s' % (dest, target, (err or out).strip()),
                            cmd=cmd, rc=rc)
        os.chmod(target, 0o600)
        return target


def metadata_size(dmpd, family, **spec):
    """Estimated metadata size (bytes and sectors) from the installed tool, either generation."""
    if family == 'thin':
        block = to_sectors(spec['block_size'], 'block_size')
        if block % 128 or not 128 <= block <= 2097152:
            raise DmpdError('block_size %r is %d sectors; a thin pool block is a multiple of 128 sectors '
                            '(64 KiB) from 128 to 2097152 (1 GiB)' % (spec['block_size'], block))
        pool = to_sectors(spec['pool_size'], 'pool_size')
        if pool < block:
            raise DmpdError('pool_size %r is %d sectors; expected at least one pool block (%d sectors)'
                            % (spec['pool_size'], pool, block))
        res = dmpd.run_ok('thin_metadata_size', block_size='%ds' % block, pool_size='%ds' % pool,
                          max_thins=spec['max_thins'], unit='b', numeric_only=True)
        return parse_metadata_size(res.stdout, 'b')
    if family == 'cache':
        options = dict(max_hint_width=spec.get('max_hint_width'))
        if spec.get('nr_blocks') is not None:
            options['nr_blocks'] = spec['nr_blocks']
        else:
            options['block_size'] = to_sectors(spec['block_size'], 'block_size')
            options['device_size'] = to_sectors(spec['device_size'], 'device_size')
        res = dmpd.run_ok('cache_metadata_size', **options)
        return parse_metadata_size(res.stdout, 's')
    raise DmpdError('no metadata size tool exists for %s metadata; thin and cache have one' % family)


class RestoreRunner(InstallRunner):
    """dmpd_restore: XML dump -> binary metadata."""

    def source_family(self):
        family, self.xml_attrs = md.xml_superblock(self.params['src'])
        wanted = self.params['family']
        if wanted != 'auto' and wanted != family:
            raise DmpdError('src %s is a %s metadata dump, not %s' % (self.params['src'], family, wanted))
        return family

    def needed_size(self, family):
        attrs = self.xml_attrs
        try:
            if family == 'thin':
                block = self.params.get('data_block_size') or int(attrs['data_block_size'])
                nr_blocks = self.params.get('nr_data_blocks') or int(attrs['nr_data_blocks'])
                return metadata_size(self.dmpd, 'thin', block_size=block,
                                     pool_size=to_sectors(block) * nr_blocks, max_thins=1000)['bytes']
            if family == 'cache':
                return metadata_size(self.dmpd, 'cache', nr_blocks=int(attrs['nr_cache_blocks']))['bytes']
            # era: one bit per block per era in the writesets plus the era array; generous.
            return int(attrs['nr_blocks']) * 8
        except (KeyError, ValueError, DmpdError):
            # An estimate is only a size hint; the restore itself says what is wrong.
            return md.MIN_METADATA_BYTES

    def build_candidate(self, family, out):
        p = self.params
        options = self.overrides(family)
        if family == 'cache':
            options.update(metadata_version=p['metadata_version'],
                           omit_clean_shutdown=p['omit_clean_shutdown'])
        elif p['metadata_version'] is not None or p['omit_clean_shutdown']:
            raise DmpdError('metadata_version and omit_clean_shutdown apply to cache metadata only; '
                            'src %s is %s metadata' % (p['src'], family))
        tool = tool_for(family, 'restore').name
        return self.dmpd.run_ok(tool, what='%s of src %s' % (tool, p['src']), input=p['src'], output=out, **options)


class RepairRunner(InstallRunner):
    """dmpd_repair: damaged binary metadata -> a repaired binary copy."""

    def source_family(self):
        src = self.params['src']
        sb = md.require_binary(src, 'src')
        md.refuse_if_held(src, 'src', LIVE_READ_HINT.replace('reading', 'repairing'))
        return resolve_family(self.params['family'], sb, src)

    def needed_size(self, family):
        return md.device_size(self.params['src'])

    def build_candidate(self, family, out):
        tool = tool_for(family, 'repair').name
        return self.dmpd.run_ok(tool, what='%s of src %s' % (tool, self.params['src']), input=self.params['src'],
                                output=out, **self.overrides(family))


class InfoRunner(DmpdRunner):
    """dmpd_info: read-only facts: versions, thin_ls rows, thin_delta ranges, metadata sizes."""

    def run(self):
        p = self.params
        version = self.dmpd.version
        self.result.update(tool_version=str(version), tool_generation=version.generation)
        path = p['path']
        if path:
            md.require_existing(path)
            sb = md.require_binary(path)
            self.result.update(family=sb.family, needs_check=sb.needs_check)
            wants_tools = p['thin_ls'] or p['thin_delta']
            if wants_tools and not p['metadata_snap']:
                md.refuse_if_held(path, 'path', LIVE_READ_HINT)
            if wants_tools and sb.family != 'thin':
                raise DmpdError('thin_ls and thin_delta read thin metadata; %s holds %s'
                                % (path, sb.describe()))
        elif p['thin_ls'] or p['thin_delta']:
            raise DmpdError('thin_ls and thin_delta need path, the thin metadata to read')
        if p['thin_ls']:
            fields = [f.upper() for f in p['thin_ls_fields']]
            unknown = [f for f in fields if f not in THIN_LS_FIELDS]
            if unknown:
                raise DmpdError('thin_ls_fields: %s not known; expected some of %s'
                                % (', '.join(unknown), ', '.join(THIN_LS_FIELDS)))
            res = self.dmpd.run_ok('thin_ls', input=path, no_headers=True, format=','.join(fields),
                                   metadata_snap=p['metadata_snap'])
            self.result['thin_ls'] = parse_thin_ls(res.stdout, fields)
        if p['thin_delta']:
            delta = p['thin_delta']
            res = self.dmpd.run_ok('thin_delta', what='thin_delta of dev_ids %s and %s in %s'
                                   % (delta['thin1'], delta['thin2'], path),
                                   input=path, thin1=delta['thin1'], thin2=delta['thin2'],
                                   metadata_snap=p['metadata_snap'])
            self.result['thin_delta'] = parse_thin_delta(res.stdout)
        if p['metadata_size']:
            spec = dict((k, v) for k, v in p['metadata_size'].items() if v is not None)
            family = spec.pop('family')
            needed = dict(thin=('block_size', 'pool_size', 'max_thins'))
            missing = [k for k in needed.get(family, ()) if k not in spec]
            if family == 'cache' and 'nr_blocks' not in spec:
                missing = [k for k in ('block_size', 'device_size') if k not in spec]
            if missing:
                raise DmpdError('metadata_size for %s metadata needs %s' % (family, ', '.join(missing)))
            self.result['metadata_size'] = metadata_size(self.dmpd, family, **spec)


class TrimRunner(DmpdRunner):
    """dmpd_trim: discard the data blocks the thin metadata says are free."""

    def run(self):
        p = self.params
        meta, data = p['metadata_dev'], p['data_dev']
        md.require_existing(meta, 'metadata_dev')
        sb = md.require_binary(meta, 'metadata_dev')
        if sb.family != 'thin':
            raise DmpdError('metadata_dev %s holds %s; thin_trim needs thin pool metadata'
                            % (meta, sb.describe()))
        if md.require_existing(data, 'data_dev') != 'block':
            raise DmpdError('data_dev %s is a regular file; thin_trim discards blocks of a block device '
                            '(attach the file to a loop device)' % data)
        for path, role in ((meta, 'metadata_dev'), (data, 'data_dev')):
            md.refuse_if_held(path, role, 'thin_trim needs the pool deactivated')
        self.tool_facts()
        self.result.update(metadata_dev=meta, data_dev=data, changed=True)
        argv = self.dmpd.argv('thin_trim', metadata_dev=meta, data_dev=data)
        self.result['cmd'] = argv
        if self.check_mode:
            return
        res = self.dmpd.run_ok('thin_trim', metadata_dev=meta, data_dev=data)
        self.result.update(res.as_dict())
