# -*- coding: utf-8 -*-
"""stack suite: the stack roles as shipped against the floor (and the seed library), on the lab guests.

The stacks ("sizes", ``--stack-size``): ``small``, the lab inventory's thin stack; ``thin20``,
1 pool, 20 thin volumes, 5 snapshots; ``cache``, the cache_stack role's stack (one
dm_cache_stack run: carve-outs, writethrough smq cache, 4 MiB of known data, cache_check of the
live metadata); ``era``, the era_stack role's (one dm_era_stack run: carve-outs, the read-only
metadata view, era device, 4 MiB of known data, era_check / era_invalidate / era_dump through a
metadata snapshot). For each, on every host of the lab group at once, round after round:

- A, the role: ``ansible-playbook bench/stack_playbooks/<kind>_stack.yml`` (the role and nothing
  else, gather_facts off) four times: the first converge, the re-run, the ``--check`` re-run and
  the teardown (``<kind>_stack_state: absent``). The callback bench/callback_plugins/module_runs.py
  counts, per host, the task results that ran a module on the host and the changed ones, with each
  task's time;
- B, the floor: the same stack built, then torn down, by a plain bash script of the same
  commands the module runs (truncate, losetup, dmsetup create with the tables on stdin, for thin
  dmsetup message create_thin / create_snap with suspend / resume of the origin, mkfs.ext4, mount;
  the dd workload; the checks the way the module runs them: thin_check through reserve /
  release_metadata_snap, cache_check of a read-only view of the metadata with the cache suspended,
  era_check of the view and era_invalidate / era_dump while a metadata snapshot is held; the cache's
  teardown through the cleaner policy, then cache_check and the known data read back from the
  origin), one SSH session per host and phase (``ssh ... bash -s < script``, the inventory's SSH
  options), both hosts at once;
- C (thin stacks only, ``--stack-seed``, on by default): the same thin stack built, then torn down,
  with the seed library's API (sts-libs, requirements/bench-seed.txt: ``LoopDevice``,
  ``LinearDevice``, ``ThinPoolDevice.create_thin`` / ``create_snapshot``, ``mkfs`` / ``mount``,
  ``thin_check``) in one Python process per host and phase (bench/stack_seed.py, staged on the
  guests once before the rounds).

A, B (and C) alternate (A B C A B C ...), a warm-up round first (kept raw, left out of every figure).
The role, the floor and the seed build stacks of their own names (``bench_thin*``, ``bench_cache``,
``bench_era``; ``bench_flr*``; ``bench_seed*``), on loop files under /var/tmp/bench_stack, never on
the guests' data disks.

Wall times are the controller's: what a user waits for, SSH included on every side (the role
cannot run without it). Per host, the role's figure is the sum of that host's task times
(callback) and the floor's the SSH session; the script also reports its time inside the guest.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from bench import _measure

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLAYBOOK_DIR = os.path.join(HERE, 'stack_playbooks')
PLAYBOOK = os.path.join(PLAYBOOK_DIR, 'thin_stack.yml')
CALLBACKS = os.path.join(HERE, 'callback_plugins')
# The run's label in bench/results/stack.json: one run holds every stack kind, measured on the lab guests.
LABEL = 'lab'
ROLE_PHASES = ('converge', 'rerun', 'check', 'teardown')
FLOOR_PHASES = ('build', 'teardown')
# The floor phase each role phase is compared with (a re-run has no floor: the script has no re-run).
FLOOR_OF = dict(converge='build', teardown='teardown')
PHASE_TITLE = dict(converge='first converge', rerun='re-run', check='--check re-run', teardown='teardown')
SIZES = ('small', 'thin20', 'cache', 'era')
KIND_OF = dict(small='thin', thin20='thin', cache='cache', era='era')
KINDS = ('thin', 'cache', 'era')
CONVERGE_GOAL = 3.0
RERUN_MODULE_RUNS_GOAL = 3
LOOP_DIR = '/var/tmp/bench_stack'
POOL_MIB = 1024
BLOCK_SECTORS = 128
WORKLOAD_BYTES = 262144
# the cache and era stacks: the roles' defaults (loop file, carve-outs, block size, mode, policy, since_era)
# with the lab inventory's known data on
LOOP_MIB = 256
METADATA_MIB = 8
CACHE_MIB = 64
KNOWN_DATA_BYTES = 4 * 1048576
KNOWN_LINE = 4096
CLEAN_POLLS = 150
# Where the seed library and bench/stack_seed.py are staged on the guests (removed after the run).
SEED_ROOT = '/var/tmp/sts-dm-bench-stack-seed'
# Measured elsewhere, or not yet: listed on the page as not measured (render.py reads it).
PENDING_TARGETS = ()
NOT_MEASURED = ('the seed library (sts-libs 1.23.0) building the cache and era stacks: not measured. It has a '
                'cache target (`sts.dm.CacheDevice.from_block_devices`) but no era target (only the era tools, '
                '`sts.dmpd.EraCheck` / `EraDump`), and the suite runs it on the thin stacks only')
SEED_NOT_RUN = ('the seed library (sts-libs) building the thin stacks in one Python process: not part of this '
                'run (`--stack-seed`)')


def add_arguments(parser):
    group = parser.add_argument_group('stack suite')
    group.add_argument('--stack-size', action='append', choices=SIZES,
                       help='stack to measure, repeatable (default: all): small and thin20 (thin stacks), cache, '
                            'era; a stack not selected keeps the run recorded for it before')
    group.add_argument('--stack-inventory', default=os.path.join(REPO, '.lab', 'inventory.yml'),
                       help='the lab inventory (hosts, SSH options)')
    group.add_argument('--stack-hosts', default='lab', help='inventory group or host pattern to measure on')
    group.add_argument('--stack-warmup', type=int, default=1, help='untimed warm-up rounds before the timed ones')
    group.add_argument('--stack-seed', action=argparse.BooleanOptionalAction, default=True,
                       help='measure the seed library (sts-libs) building the thin stacks too, as a third command '
                            'of every round (default: on; --no-stack-seed leaves it out)')


# --- the stacks -----------------------------------------------------------------------------------

def kind_of(size):
    """The kind of a measured size (a result of an earlier run may lack the key: thin)."""
    return size.get('kind') or KIND_OF.get(size['size'], 'thin')


def stack_spec(size, name):
    """What one stack is: for thin its volumes and snapshots (sizes in MiB), for cache and era the
    loop file, carve-outs, block size and known data."""
    if size == 'small':
        volumes = [dict(name=name + '_fs', mib=256, filesystem='ext4', mount='/mnt/%s_fs' % name),
                   dict(name=name + '_raw', mib=128)]
        snapshots = [dict(name=name + '_raw_snap', origin=name + '_raw')]
    elif size == 'thin20':
        volumes = [dict(name=name + '_fs', mib=256, filesystem='ext4', mount='/mnt/%s_fs' % name)]
        volumes += [dict(name='%s_v%02d' % (name, i), mib=64) for i in range(2, 21)]
        snapshots = [dict(name='%s_v%02d_snap' % (name, i), origin='%s_v%02d' % (name, i)) for i in range(2, 7)]
    elif size == 'cache':
        return dict(name=name, size=size, kind='cache', loop_mib=LOOP_MIB, metadata_mib=METADATA_MIB,
                    cache_mib=CACHE_MIB, block_sectors=BLOCK_SECTORS, mode='writethrough', policy='smq',
                    workload_bytes=KNOWN_DATA_BYTES)
    elif size == 'era':
        return dict(name=name, size=size, kind='era', loop_mib=LOOP_MIB, metadata_mib=METADATA_MIB,
                    block_sectors=BLOCK_SECTORS, since_era=1, workload_bytes=KNOWN_DATA_BYTES)
    else:
        raise ValueError('unknown stack size %r' % size)
    return dict(name=name, size=size, kind='thin', volumes=volumes, snapshots=snapshots)


def stack_names(size):
    """(the role's stack name, the floor's, the seed library's)."""
    if size in ('cache', 'era'):
        return 'bench_' + size, 'bench_flr' + size, 'bench_seed' + size
    suffix = '' if size == 'small' else '20'
    return 'bench_thin' + suffix, 'bench_flr' + suffix, 'bench_seed' + suffix


def role_vars(spec):
    """The role's variables for one stack: loop backing under LOOP_DIR (the inventory's disks are overridden)."""
    kind = spec.get('kind', 'thin')
    if kind == 'cache':
        return dict(cache_stack_name=spec['name'], cache_stack_device=None, cache_stack_origin_device=None,
                    cache_stack_cache_device=None, cache_stack_metadata_device=None, cache_stack_loop_dir=LOOP_DIR,
                    cache_stack_loop_size='%dMiB' % spec['loop_mib'],
                    cache_stack_metadata_size='%dMiB' % spec['metadata_mib'],
                    cache_stack_cache_size='%dMiB' % spec['cache_mib'],
                    cache_stack_block_size='%dKiB' % (spec['block_sectors'] // 2), cache_stack_mode=spec['mode'],
                    cache_stack_policy=spec['policy'], cache_stack_policy_args={}, cache_stack_workload=True,
                    cache_stack_workload_size='%dMiB' % (spec['workload_bytes'] // 1048576), cache_stack_verify=True)
    if kind == 'era':
        return dict(era_stack_name=spec['name'], era_stack_device=None, era_stack_origin_device=None,
                    era_stack_metadata_device=None, era_stack_loop_dir=LOOP_DIR,
                    era_stack_loop_size='%dMiB' % spec['loop_mib'],
                    era_stack_metadata_size='%dMiB' % spec['metadata_mib'],
                    era_stack_block_size='%dKiB' % (spec['block_sectors'] // 2), era_stack_since_era=spec['since_era'],
                    era_stack_workload=True, era_stack_workload_size='%dMiB' % (spec['workload_bytes'] // 1048576),
                    era_stack_verify=True)
    vols = []
    for v in spec['volumes']:
        item = dict(name=v['name'], size='%dM' % v['mib'])
        if v.get('filesystem'):
            item.update(filesystem=v['filesystem'], mount=v['mount'])
        vols.append(item)
    return dict(thin_stack_name=spec['name'], thin_stack_device=None, thin_stack_metadata_device=None,
                thin_stack_data_device=None, thin_stack_loop_dir=LOOP_DIR, thin_stack_loop_size='%dM' % POOL_MIB,
                thin_stack_volumes=vols,
                thin_stack_snapshots=[dict(name=s['name'], origin=s['origin']) for s in spec['snapshots']],
                thin_stack_workload=True)


def _dev_ids(spec):
    return dict((t['name'], i + 1) for i, t in enumerate(spec['volumes'] + spec['snapshots']))


def thin_sizes(spec):
    """Sectors of every thin volume and snapshot (a snapshot has its origin's size)."""
    sizes = dict((v['name'], v['mib'] * 2048) for v in spec['volumes'])
    for snap in spec['snapshots']:
        sizes[snap['name']] = sizes[snap['origin']]
    return sizes


def device_names(spec):
    """The stack's dm devices in the order they are created (teardown removes them in reverse)."""
    s = spec['name']
    kind = spec.get('kind', 'thin')
    if kind == 'cache':
        return [s + '_cmeta', s + '_cdata', s + '_corig', s]
    if kind == 'era':
        return [s + '_emeta', s + '_eorig', s + '_emeta_ro', s]
    return [s + '_meta', s + '_data', s + '_pool'] + [v['name'] for v in spec['volumes']] + \
        [t['name'] for t in spec['snapshots']]


def floor_script(spec, phase, ignore_errors=False):
    """The plain bash script of one floor phase (build or teardown) for one host. ``ignore_errors``:
    a teardown that removes whatever of the stack is there (before the rounds, after a failure)."""
    if phase not in FLOOR_PHASES:
        raise ValueError(phase)
    kind = spec.get('kind', 'thin')
    out = ['set -euo pipefail' if not ignore_errors else 'set +e', 't0=$(date +%s.%N)']
    if ignore_errors and phase == 'teardown':
        out += _cleanup(spec)
    else:
        out += dict(thin=_thin_floor, cache=_cache_floor, era=_era_floor)[kind](spec, phase)
    out.append('echo "bench_guest=$t0 $(date +%s.%N)"')
    return '\n'.join(out) + '\n'


def _cleanup(spec):
    """Every mount, device (in reverse order), loop device and file of the stack, whichever are there."""
    q = shlex.quote
    d = '%s/%s' % (LOOP_DIR, spec['name'])
    out = []
    for v in spec.get('volumes', []):
        if v.get('mount'):
            out += ['mountpoint -q %s && umount %s' % (q(v['mount']), q(v['mount'])),
                    'rmdir %s 2>/dev/null' % q(v['mount'])]
    names = list(reversed(device_names(spec)))
    if spec.get('kind') == 'cache':
        names.insert(1, spec['name'] + '_cmeta_check')
    out += ['dmsetup info %s >/dev/null 2>&1 && dmsetup remove --retry %s' % (n, n) for n in names]
    # every loop device on a file of the stack's directory (the seed library names its file after the loop device)
    out += ['for l in $(losetup --list --noheadings --output NAME,BACK-FILE | awk -v d=%s \'index($2, d) == 1 '
            '{print $1}\'); do losetup -d "$l"; done' % q(d + '/'),
            'rm -rf %s' % q(d), 'true']
    return out


def _thin_floor(spec, phase):
    s = spec['name']
    d = '%s/%s' % (LOOP_DIR, s)
    q = shlex.quote
    ids = _dev_ids(spec)
    sizes = thin_sizes(spec)
    out = []
    if phase == 'build':
        data = POOL_MIB * 2048
        nthins = len(ids)
        out += [
            'mkdir -p %s' % q(d),
            'meta=$(thin_metadata_size -b %ds -s %ds -m %d -u s -n)' % (BLOCK_SECTORS, data, nthins),
            'meta=$(( (${meta%%.*} + 7) / 8 * 8 )); [ "$meta" -ge 4096 ] || meta=4096',
            'truncate -s $(( (meta + %d) * 512 )) %s/pool.img' % (data, q(d)),
            'loop=$(losetup --find --show %s/pool.img)' % q(d),
            'echo "0 $meta linear $loop 0" | dmsetup create %s_meta' % s,
            'echo "0 %d linear $loop $meta" | dmsetup create %s_data' % (data, s),
            'echo "0 %d thin-pool /dev/mapper/%s_meta /dev/mapper/%s_data %d 0" | dmsetup create %s_pool'
            % (data, s, s, BLOCK_SECTORS, s),
        ]
        for v in spec['volumes']:
            out += ['dmsetup message %s_pool 0 "create_thin %d"' % (s, ids[v['name']]),
                    'echo "0 %d thin /dev/mapper/%s_pool %d" | dmsetup create %s'
                    % (sizes[v['name']], s, ids[v['name']], v['name'])]
        for v in spec['volumes']:
            if v.get('filesystem'):
                out += ['mkfs.%s -q /dev/mapper/%s' % (v['filesystem'], v['name']),
                        'mkdir -p %s' % q(v['mount']),
                        'mount -t %s /dev/mapper/%s %s' % (v['filesystem'], v['name'], q(v['mount']))]
        out.append(thin_work_function(s))
        for v in spec['volumes']:
            target = '%s/%s_workload.bin' % (v['mount'], s) if v.get('filesystem') else '/dev/mapper/' + v['name']
            out.append('work %s %s >/dev/null' % (v['name'], q(target)))
        for snap in spec['snapshots']:
            out += ['dmsetup suspend %s' % snap['origin'],
                    'dmsetup message %s_pool 0 "create_snap %d %d"' % (s, ids[snap['name']], ids[snap['origin']]),
                    'dmsetup resume %s' % snap['origin'],
                    'echo "0 %d thin /dev/mapper/%s_pool %d" | dmsetup create %s'
                    % (sizes[snap['name']], s, ids[snap['name']], snap['name'])]
        out += ['dmsetup message %s_pool 0 reserve_metadata_snap' % s,
                'thin_check --metadata-snap /dev/mapper/%s_meta >/dev/null' % s,
                'dmsetup message %s_pool 0 release_metadata_snap' % s,
                'dmsetup status >/dev/null']
    else:
        for v in spec['volumes']:
            if v.get('mount'):
                out += ['umount %s' % q(v['mount']), 'rmdir %s' % q(v['mount'])]
        out += ['dmsetup remove --retry %s' % n for n in reversed(device_names(spec))]
        out += ['for l in $(losetup -j %s/pool.img | cut -d: -f1); do losetup -d "$l"; done' % q(d),
                'rm -rf %s' % q(d)]
    return out


def thin_work_function(stack):
    """The thin stack's workload as a shell function: ``work VOLUME TARGET`` writes the volume's 256 KiB
    pattern with direct I/O and prints the sha256 of what it reads back."""
    return ('work() { (yes "$(printf \'%%-63.63s\' "sts.devicemapper thin_stack %s $1 sts.devicemapper")" '
            '|| :) | head -c %d '
            '| dd of="$2" bs=64k iflag=fullblock oflag=direct conv=notrunc,fsync status=none; '
            'dd if="$2" bs=64k count=%d iflag=direct status=none | sha256sum; }'
            % (stack, WORKLOAD_BYTES, WORKLOAD_BYTES // 65536))


def _known_data_functions(spec):
    """The cache and era modules' known data (4 KiB lines naming the stack and their number, the same
    bytes as their ``known_data``), its sha256 in $want, and a direct-I/O read-back of its length."""
    blocks = spec['workload_bytes'] // KNOWN_LINE
    return ["known() { printf '%%-4095s\\n' \"%s known data, 4 KiB block \"{0..%d}; }" % (spec['name'], blocks - 1),
            'readback() { dd if="$1" bs=64k count=%d iflag=direct status=none | sha256sum; }'
            % (spec['workload_bytes'] // 65536)]


def _workload(device):
    """Compared first (the module reads before it writes), written, read back and compared."""
    return ['[ "$(readback %s)" = "$want" ] || '
            'known | dd of=%s bs=64k iflag=fullblock oflag=direct conv=fsync status=none' % (device, device),
            '[ "$(readback %s)" = "$want" ]' % device]


def _carve(spec):
    """Sparse loop file, loop device and the linear carve-outs (metadata first), as the modules carve them."""
    d = '%s/%s' % (LOOP_DIR, spec['name'])
    q = shlex.quote
    meta = spec['metadata_mib'] * 2048
    out = ['mkdir -p %s' % q(d),
           'truncate -s %d %s/backing.img' % (spec['loop_mib'] * 1048576, q(d)),
           'loop=$(losetup --find --show %s/backing.img)' % q(d)]
    if spec['kind'] == 'cache':
        cache = spec['cache_mib'] * 2048
        origin = spec['loop_mib'] * 2048 - meta - cache
        names = device_names(spec)
        out += ['echo "0 %d linear $loop 0" | dmsetup create %s' % (meta, names[0]),
                'echo "0 %d linear $loop %d" | dmsetup create %s' % (cache, meta, names[1]),
                'echo "0 %d linear $loop %d" | dmsetup create %s' % (origin, meta + cache, names[2])]
    else:
        names = device_names(spec)
        out += ['echo "0 %d linear $loop 0" | dmsetup create %s' % (meta, names[0]),
                'echo "0 %d linear $loop %d" | dmsetup create %s' % (spec['loop_mib'] * 2048 - meta, meta, names[1])]
    return out


def cache_table(spec, policy):
    s = spec['name']
    origin = (spec['loop_mib'] - spec['metadata_mib'] - spec['cache_mib']) * 2048
    return '0 %d cache /dev/mapper/%s_cmeta /dev/mapper/%s_cdata /dev/mapper/%s_corig %d 1 %s %s 0' % (
        origin, s, s, s, spec['block_sectors'], spec['mode'], policy)


def _cache_floor(spec, phase):
    """dm_cache_stack's commands: carve-outs, the cache, the known data through it, the status, and
    cache_check of a read-only linear view of the metadata with the cache suspended (resumed, the view
    removed, whatever the check says). Teardown: the cleaner policy swapped in, the dirty blocks waited
    for, the cache removed, cache_check of its metadata, the known data read back from the origin, then
    the carve-outs in reverse order, the loop device and the directory."""
    s = spec['name']
    d = '%s/%s' % (LOOP_DIR, s)
    q = shlex.quote
    out = _known_data_functions(spec)
    if phase == 'build':
        out += _carve(spec)
        out += ['echo "%s" | dmsetup create %s' % (cache_table(spec, spec['policy']), s),
                'want=$(known | sha256sum)', 'echo "$want" >%s/workload.sha256' % q(d)]
        out += _workload('/dev/mapper/' + s)
        out += ['dmsetup status %s >/dev/null' % s,
                'dmsetup suspend %s' % s,
                'rc=0',
                'echo "0 %d linear /dev/mapper/%s_cmeta 0" | dmsetup create --readonly %s_cmeta_check || rc=$?'
                % (spec['metadata_mib'] * 2048, s, s),
                '[ $rc -ne 0 ] || cache_check /dev/mapper/%s_cmeta_check >/dev/null || rc=$?' % s,
                'dmsetup resume %s' % s,
                'dmsetup remove --retry %s_cmeta_check' % s,
                '[ $rc -eq 0 ]',
                'dmsetup status >/dev/null']
    else:
        out += ['want=$(cat %s/workload.sha256)' % q(d),
                'echo "%s" | dmsetup reload %s' % (cache_table(spec, 'cleaner'), s),
                'dmsetup resume %s' % s,
                'n=0; until [ "$(dmsetup status %s | awk \'{print $14}\')" = 0 ]; do n=$((n + 1)); [ $n -le %d ]; '
                'sleep 2; done' % (s, CLEAN_POLLS),
                'dmsetup remove --retry %s' % s,
                'cache_check /dev/mapper/%s_cmeta >/dev/null' % s,
                '[ "$(readback /dev/mapper/%s_corig)" = "$want" ]' % s]
        out += ['dmsetup remove --retry %s' % n for n in reversed(device_names(spec)[:-1])]
        out += ['for l in $(losetup -j %s/backing.img | cut -d: -f1); do losetup -d "$l"; done' % q(d),
                'rm -rf %s' % q(d)]
    return out


def _era_floor(spec, phase):
    """dm_era_stack's commands: carve-outs, the read-only view of the metadata, the era device, the known
    data; then, through a metadata snapshot (the era device is never suspended), era_check of the view,
    era_invalidate --written-since of the snapshot (0.9 takes the bare flag, 1.x the held root) and
    era_dump --logical of the view, the snapshot dropped whatever they say. Teardown: the era device and
    the view removed, era_check of the metadata, the carve-outs in reverse order, the loop device and
    the directory."""
    s = spec['name']
    d = '%s/%s' % (LOOP_DIR, s)
    q = shlex.quote
    meta = spec['metadata_mib'] * 2048
    origin = spec['loop_mib'] * 2048 - meta
    out = []
    if phase == 'build':
        out += _known_data_functions(spec)
        out += _carve(spec)
        out += ['echo "0 %d linear /dev/mapper/%s_emeta 0" | dmsetup create --readonly %s_emeta_ro' % (meta, s, s),
                'echo "0 %d era /dev/mapper/%s_emeta /dev/mapper/%s_eorig %d" | dmsetup create %s'
                % (origin, s, s, spec['block_sectors'], s),
                'want=$(known | sha256sum)']
        out += _workload('/dev/mapper/' + s)
        out += ['dmsetup message %s 0 take_metadata_snap' % s,
                'rc=0',
                'root=$(dmsetup status %s | awk \'{print $7}\')' % s,
                'era_check /dev/mapper/%s_emeta_ro >/dev/null || rc=$?' % s,
                'case "$(era_check -V)" in 0.*) snap=--metadata-snapshot ;; *) snap=--metadata-snapshot=$root ;; esac',
                'era_invalidate --written-since %d "$snap" /dev/mapper/%s_emeta >/dev/null || rc=$?'
                % (spec['since_era'], s),
                'era_dump --logical -o %s/era_dump.xml /dev/mapper/%s_emeta_ro || rc=$?' % (q(d), s),
                'rm -f %s/era_dump.xml' % q(d),
                'dmsetup message %s 0 drop_metadata_snap' % s,
                '[ $rc -eq 0 ]',
                'dmsetup status >/dev/null']
    else:
        names = list(reversed(device_names(spec)))
        out += ['dmsetup remove --retry %s' % n for n in names[:2]]
        out.append('era_check /dev/mapper/%s_emeta >/dev/null' % s)
        out += ['dmsetup remove --retry %s' % n for n in names[2:]]
        out += ['for l in $(losetup -j %s/backing.img | cut -d: -f1); do losetup -d "$l"; done' % q(d),
                'rm -rf %s' % q(d)]
    return out


def seed_spec(spec):
    """What bench/stack_seed.py builds (a thin spec with its pool sizes), as JSON on its command line."""
    return dict(spec, loop_dir=LOOP_DIR, pool_sectors=POOL_MIB * 2048, block_sectors=BLOCK_SECTORS,
                workload_bytes=WORKLOAD_BYTES, dev_ids=_dev_ids(spec), sectors=thin_sizes(spec),
                devices=device_names(spec), work=thin_work_function(spec['name']))


def seed_script(spec, phase):
    """One seed phase as a bash script over SSH: the guest's python3 runs bench/stack_seed.py with the
    seed library on its path; timed inside the guest like the floor's scripts."""
    return '\n'.join([
        'set -euo pipefail', 't0=$(date +%s.%N)',
        'PYTHONPATH=%s/seed python3 %s/stack_seed.py %s %s' % (SEED_ROOT, SEED_ROOT, phase,
                                                               shlex.quote(json.dumps(seed_spec(spec), sort_keys=True))),
        'echo "bench_guest=$t0 $(date +%s.%N)"']) + '\n'


# --- the hosts ------------------------------------------------------------------------------------

def _env(extra=None):
    """The environment of ansible runs: the repository's ansible.cfg, the collection installed in
    build/collections (``make install``; env STS_BENCH_COLLECTIONS names another collections path),
    the module_runs callback."""
    env = dict(os.environ)
    venv_bin = os.path.join(REPO, '.venv', 'bin')
    env['PATH'] = venv_bin + os.pathsep + env.get('PATH', '')
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=os.environ.get('STS_BENCH_COLLECTIONS') or os.path.join(REPO, 'build',
                                                                                                'collections'),
               ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED='module_runs',
               ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')
    env.update(extra or {})
    return env


def lab_hosts(inventory, pattern):
    """{host: ssh argv (without the remote command)} from the inventory's host variables."""
    env = _env()
    out = subprocess.run(['ansible-inventory', '-i', inventory, '--list'], stdout=subprocess.PIPE, env=env,
                         universal_newlines=True, check=True).stdout
    inv = json.loads(out)
    names = subprocess.run(['ansible', '-i', inventory, pattern, '--list-hosts'], stdout=subprocess.PIPE, env=env,
                           universal_newlines=True, check=True).stdout.split('\n')[1:]
    hosts = {}
    for name in (n.strip() for n in names):
        if not name:
            continue
        hv = inv['_meta']['hostvars'][name]
        argv = ['ssh'] + shlex.split(hv.get('ansible_ssh_common_args') or '')
        argv += shlex.split(hv.get('ansible_ssh_args') or '')
        argv += ['-o', 'BatchMode=yes', '-o', 'ControlPath=/tmp/sts-bench-stack-%C']
        if hv.get('ansible_ssh_private_key_file'):
            argv += ['-i', hv['ansible_ssh_private_key_file']]
        if hv.get('ansible_port'):
            argv += ['-p', str(hv['ansible_port'])]
        argv += ['-l', hv.get('ansible_user') or 'root', hv.get('ansible_host') or name]
        hosts[name] = dict(ssh=argv, distro=hv.get('lab_distro') or name)
    if not hosts:
        raise SystemExit('stack: no host matches %s in %s' % (pattern, inventory))
    return hosts


def ssh_all(hosts, scripts, keep_stdout=False):
    """Send each host its script on one SSH session (``bash -s``), all hosts at once.
    Returns (wall_s of the slowest, {host: sample})."""
    samples = {}

    def one(host):
        started = time.perf_counter()
        proc = subprocess.run(hosts[host]['ssh'] + ['bash -s'], input=scripts[host], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, check=False)
        wall = time.perf_counter() - started
        sample = dict(wall_s=round(wall, 6), rc=proc.returncode)
        for line in proc.stdout.splitlines():
            if line.startswith('bench_guest='):
                try:
                    t0, t1 = (float(x) for x in line.split('=', 1)[1].split())
                    sample['guest_s'] = round(t1 - t0, 6)
                except ValueError:
                    pass
        if proc.returncode != 0:
            sample['stderr_tail'] = proc.stderr[-2000:]
        if keep_stdout:
            sample['stdout'] = proc.stdout
        samples[host] = sample

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(h,)) for h in sorted(hosts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(time.perf_counter() - started, 6), samples


FACTS_SCRIPT = r'''. /etc/os-release; echo "os=$PRETTY_NAME"; echo "kernel=$(uname -r)"; echo "nproc=$(nproc)"
echo "mem_kib=$(awk '/MemTotal/ {print $2}' /proc/meminfo)"; echo "tools=$(thin_check -V 2>&1 | head -1)"
echo "python=$(python3 -c 'import platform; print(platform.python_version())')"
echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
'''


def host_facts(hosts):
    _wall, samples = ssh_all(hosts, dict((h, FACTS_SCRIPT) for h in hosts), keep_stdout=True)
    out = {}
    for h in hosts:
        if samples[h]['rc'] != 0:
            raise SystemExit('stack: %s unreachable: %s' % (h, samples[h].get('stderr_tail')))
        out[h] = dict(line.split('=', 1) for line in samples[h]['stdout'].splitlines() if '=' in line)
        out[h]['distro'] = hosts[h]['distro']
    return out


def run_playbook(argv, workdir, tag, env=None):
    """One ansible-playbook run (``argv`` after the program name), counted by the module_runs
    callback: wall time, rc, per-host counts and task times; with ``keep_results`` the callback's
    per-task records too. The log goes to ``workdir/ansible-TAG.log``."""
    out = os.path.join(workdir, 'module_runs-%s.json' % tag)
    log = os.path.join(workdir, 'ansible-%s.log' % tag)
    if os.path.exists(out):
        os.unlink(out)
    with open(log, 'w') as handle:
        started = time.perf_counter()
        proc = subprocess.run(['ansible-playbook'] + list(argv), stdout=handle, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=_env(dict(env or {}, STS_BENCH_MODULE_RUNS=out)),
                              cwd=REPO, check=False)
        wall = time.perf_counter() - started
    sample = dict(wall_s=round(wall, 6), rc=proc.returncode, hosts={})
    counted = dict(results=[])
    if os.path.exists(out):
        with open(out) as handle:
            counted = json.load(handle)
        for host, h in counted['hosts'].items():
            sample['hosts'][host] = dict((k, h[k]) for k in ('module_runs', 'changed', 'results', 'failed',
                                                             'skipped', 'task_s', 'module_s', 'module_actions'))
    if proc.returncode != 0:
        with open(log) as handle:
            sample['log_tail'] = handle.read()[-3000:]
    return sample, counted['results']


class Playbook(object):
    """One ansible-playbook run of a stack role on every host at once, counted by the callback."""

    def __init__(self, inventory, pattern, vars_path, workdir, kind='thin'):
        self.inventory = inventory
        self.pattern = pattern
        self.vars_path = vars_path
        self.workdir = workdir
        self.kind = kind

    def argv(self, phase):
        argv = ['-i', self.inventory, os.path.join(PLAYBOOK_DIR, '%s_stack.yml' % self.kind),
                '-e', '@' + self.vars_path, '-e', 'bench_hosts=%s' % self.pattern,
                '-e', '%s_stack_state=%s' % (self.kind, 'absent' if phase == 'teardown' else 'present')]
        if phase == 'check':
            argv.append('--check')
        return argv

    def run(self, phase):
        return run_playbook(self.argv(phase), self.workdir, '%s-%s' % (self.kind, phase))[0]


# --- the run --------------------------------------------------------------------------------------

def _log(text):
    print(text, flush=True)


def stage_seed(hosts, cache):
    """The seed library (pip install --target, cached: bench.discovery.seed_tree) and stack_seed.py
    copied to SEED_ROOT on every host, before the rounds (untimed)."""
    from bench.discovery import seed_tree
    seed = seed_tree(cache)
    local = tempfile.mkdtemp(prefix='sts-dm-bench-stack-seed-')
    try:
        shutil.copytree(seed, os.path.join(local, 'seed'),
                        ignore=lambda d, names: [n for n in names if n == '__pycache__'])
        shutil.copy(os.path.join(HERE, 'stack_seed.py'), os.path.join(local, 'stack_seed.py'))
        for host in sorted(hosts):
            unpack = 'rm -rf %s && mkdir -p %s && tar -C %s -xf -' % ((shlex.quote(SEED_ROOT),) * 3)
            tar = subprocess.Popen(['tar', '-C', local, '-cf', '-', '.'], stdout=subprocess.PIPE)
            subprocess.run(hosts[host]['ssh'] + [unpack], stdin=tar.stdout, check=True)
            tar.stdout.close()
            if tar.wait() != 0:
                raise RuntimeError('tar of the seed stage directory failed')
    finally:
        shutil.rmtree(local, ignore_errors=True)


def unstage_seed(hosts):
    ssh_all(hosts, dict((h, 'rm -rf %s\n' % shlex.quote(SEED_ROOT)) for h in hosts))


def _script_phase(hosts, scripts, cleanup, what, index):
    """One floor or seed phase on every host at once; a failure cleans up (``cleanup``: host -> script)
    and raises."""
    wall, samples = ssh_all(hosts, scripts)
    bad = dict((h, s) for h, s in samples.items() if s['rc'] != 0)
    if bad:
        ssh_all(hosts, cleanup)
        raise RuntimeError('stack: %s failed in round %d: %s' % (what, index, json.dumps(bad)))
    return dict(wall_s=wall, hosts=samples)


def measure_size(size, opts, hosts, workdir, seed=False):
    kind = KIND_OF[size]
    role_name, floor_name, seed_name = stack_names(size)
    role_spec, floor_spec = stack_spec(size, role_name), stack_spec(size, floor_name)
    seed_spec_ = stack_spec(size, seed_name) if seed else None
    vars_path = os.path.join(workdir, 'vars-%s.json' % size)
    with open(vars_path, 'w') as handle:
        json.dump(role_vars(role_spec), handle, indent=1)
    book = Playbook(opts.stack_inventory, opts.stack_hosts, vars_path, workdir, kind)
    scripts = dict((phase, floor_script(floor_spec, phase)) for phase in FLOOR_PHASES)
    seed_scripts = dict((phase, seed_script(seed_spec_, phase)) for phase in FLOOR_PHASES) if seed else {}
    cleanup = dict((h, floor_script(floor_spec, 'teardown', ignore_errors=True)) for h in hosts)
    seed_cleanup = dict((h, floor_script(seed_spec_, 'teardown', ignore_errors=True)) for h in hosts) if seed else {}

    # Whatever an interrupted run left: the role's stack through the role, the floor's and the seed's by script.
    _log('  %s: clean up what an earlier run may have left' % size)
    pre = book.run('teardown')
    if pre['rc'] != 0:
        raise RuntimeError('stack: the teardown before the rounds failed:\n%s' % pre.get('log_tail'))
    ssh_all(hosts, cleanup)
    if seed:
        ssh_all(hosts, seed_cleanup)

    rounds = []
    for index in range(opts.stack_warmup + opts.rounds):
        row = dict(round=index, warmup=index < opts.stack_warmup, role={}, floor={},
                   started=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
        for phase in ROLE_PHASES:
            sample = book.run(phase)
            row['role'][phase] = sample
            if sample['rc'] != 0:
                rounds.append(row)
                raise RuntimeError('stack: role %s failed (rc=%d) in round %d:\n%s'
                                   % (phase, sample['rc'], index, sample.get('log_tail', '')))
        for phase in FLOOR_PHASES:
            row['floor'][phase] = _script_phase(hosts, dict((h, scripts[phase]) for h in hosts), cleanup,
                                                'floor %s' % phase, index)
        if seed:
            row['seed'] = {}
            for phase in FLOOR_PHASES:
                row['seed'][phase] = _script_phase(hosts, dict((h, seed_scripts[phase]) for h in hosts), seed_cleanup,
                                                   'seed %s' % phase, index)
        _log('  %s round %d%s: role %s | floor %s%s' % (
            size, index, ' (warm-up)' if row['warmup'] else '',
            ' '.join('%s %.1fs' % (p, row['role'][p]['wall_s']) for p in ROLE_PHASES),
            ' '.join('%s %.1fs' % (p, row['floor'][p]['wall_s']) for p in FLOOR_PHASES),
            ' | seed %s' % ' '.join('%s %.1fs' % (p, row['seed'][p]['wall_s']) for p in FLOOR_PHASES) if seed else ''))
        rounds.append(row)
        # raw progress outside the repository, for a run that is stopped before it is recorded
        with open(os.path.join(workdir, 'rounds-%s.json' % size), 'w') as handle:
            json.dump(rounds, handle, indent=1, sort_keys=True)
    out = dict(size=size, kind=kind, role_stack=role_name, floor_stack=floor_name, role_vars=role_vars(role_spec),
               floor_scripts=scripts, rounds=rounds, finished=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
    if kind == 'thin':
        out.update(thins=len(role_spec['volumes']) + len(role_spec['snapshots']),
                   volumes=len(role_spec['volumes']), snapshots=len(role_spec['snapshots']))
    if seed:
        out.update(seed_stack=seed_name, seed_scripts=seed_scripts)
    return out


def _previous():
    path = os.path.join(HERE, 'results', 'stack.json')
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle).get('runs', {}).get(LABEL) or {}


def merge_sizes(measured, previous):
    """The sizes of this run in SIZES order: the measured ones, and for a size not measured now the
    one an earlier run recorded (marked ``kept_from``), so a run of one stack keeps the others'."""
    sizes = []
    for size in SIZES:
        if size in measured:
            sizes.append(measured[size])
        else:
            old = [s for s in previous.get('sizes', []) if s['size'] == size]
            if old:
                sizes.append(dict(old[0], kept_from=old[0].get('kept_from') or
                                  previous.get('controller', {}).get('finished')))
    return sizes


def run(opts):
    import ansible
    if opts.rounds < 5:
        raise SystemExit('--rounds %d: every figure is the median of at least 5 runs' % opts.rounds)
    workdir = os.path.join(opts.cache, 'stack')
    os.makedirs(workdir, exist_ok=True)
    hosts = lab_hosts(opts.stack_inventory, opts.stack_hosts)
    selected = opts.stack_size or list(SIZES)
    _log('stack: hosts %s; sizes %s; %d timed + %d warm-up rounds' % (', '.join(sorted(hosts)), ', '.join(selected),
                                                                      opts.rounds, opts.stack_warmup))
    guests = host_facts(hosts)
    seed = opts.stack_seed and any(KIND_OF[size] == 'thin' for size in selected)
    measured = {}
    try:
        if seed:
            _log('stack: staging the seed library on the guests (%s)' % SEED_ROOT)
            stage_seed(hosts, opts.cache)
        for size in selected:
            measured[size] = measure_size(size, opts, hosts, workdir, seed=seed and KIND_OF[size] == 'thin')
            measured[size]['guests'] = guests
    finally:
        if seed:
            unstage_seed(hosts)
    for h, after in host_facts(hosts).items():
        guests[h]['loadavg_after'] = after.get('loadavg')
    sizes = merge_sizes(measured, _previous())
    facts = _measure.facts(sys.executable)
    result = dict(sizes=sizes, hosts=dict((h, dict(distro=hosts[h]['distro'])) for h in hosts), guests=guests,
                  facts=facts, ansible_core=ansible.__version__, rounds=opts.rounds, warmup=opts.stack_warmup,
                  order='A: role converge, re-run, --check re-run, teardown / B: floor build, teardown%s'
                  % (' / C (thin stacks): seed library build, teardown' if seed else ''),
                  inventory=os.path.relpath(opts.stack_inventory, REPO), hosts_pattern=opts.stack_hosts)
    return [(LABEL, result)]


# --- figures and goals ----------------------------------------------------------------------------

def _rounds(size):
    return _measure.timed_rounds(size['rounds'])


def _distro_hosts(run):
    return sorted(run['hosts'], key=lambda h: run['hosts'][h]['distro'])


def phase_figures(size, hosts):
    """Statistics over the timed rounds: role and floor wall, per host task / ssh time, counts."""
    rows = _rounds(size)
    fig = dict(role={}, floor={}, ratio={})
    for phase in ROLE_PHASES:
        f = dict(wall=_measure.summary(r['role'][phase]['wall_s'] for r in rows), hosts={})
        for h in hosts:
            per = [r['role'][phase]['hosts'].get(h, {}) for r in rows]
            f['hosts'][h] = dict(task=_measure.summary(p.get('task_s', 0.0) for p in per),
                                 module=_measure.summary(p.get('module_s', 0.0) for p in per),
                                 module_runs=sorted(set(p.get('module_runs') for p in per)),
                                 changed=sorted(set(p.get('changed') for p in per)))
        fig['role'][phase] = f
    for phase in FLOOR_PHASES:
        f = dict(wall=_measure.summary(r['floor'][phase]['wall_s'] for r in rows), hosts={})
        for h in hosts:
            f['hosts'][h] = dict(ssh=_measure.summary(r['floor'][phase]['hosts'][h]['wall_s'] for r in rows),
                                 guest=_measure.summary(r['floor'][phase]['hosts'][h].get('guest_s', 0.0)
                                                        for r in rows))
        fig['floor'][phase] = f
    if all(r.get('seed') for r in rows) and rows:
        fig['seed'], fig['seed_ratio'] = {}, {}
        for phase in FLOOR_PHASES:
            f = dict(wall=_measure.summary(r['seed'][phase]['wall_s'] for r in rows), hosts={})
            for h in hosts:
                f['hosts'][h] = dict(ssh=_measure.summary(r['seed'][phase]['hosts'][h]['wall_s'] for r in rows),
                                     guest=_measure.summary(r['seed'][phase]['hosts'][h].get('guest_s', 0.0)
                                                            for r in rows))
            fig['seed'][phase] = f
            # the seed library against the floor, paired round by round
            fig['seed_ratio'][phase] = _measure.summary(r['seed'][phase]['wall_s'] / r['floor'][phase]['wall_s']
                                                        for r in rows)
    for phase, floor in FLOOR_OF.items():
        # paired round by round: the role's playbook against the floor's slowest host of the same round
        fig['ratio'][phase] = dict(
            all=_measure.summary(r['role'][phase]['wall_s'] / r['floor'][floor]['wall_s'] for r in rows),
            hosts=dict((h, _measure.summary(r['role'][phase]['hosts'][h]['task_s']
                                            / r['floor'][floor]['hosts'][h]['wall_s'] for r in rows))
                       for h in hosts))
    return fig


def _module_runs(size, phase):
    """The module runs per host of one phase over the timed rounds: a sorted list of the values seen."""
    return sorted(set(h.get('module_runs') for r in _rounds(size) for h in r['role'][phase]['hosts'].values()))


def case_of(size):
    """The goal table's case of one measured stack."""
    kind = kind_of(size)
    if kind == 'thin':
        return 'thin, %s (%d thins)' % (size['size'], size['thins'])
    if kind == 'cache':
        return 'cache (one dm_cache_stack run: 3 carve-outs, writethrough smq, 4 MiB known data, cache_check)'
    return 'era (one dm_era_stack run: 2 carve-outs and a view, 4 MiB known data, era_check, era_invalidate, era_dump)'


def evaluate(run):
    """Goal rows: goal, case, figure text, met (None: not measured), and why when not met."""
    rows = []
    hosts = _distro_hosts(run)
    by_size = dict((s['size'], s) for s in run['sizes'])
    converge_goal = 'first converge <= %gx the floor' % CONVERGE_GOAL
    rerun_goal = 're-run: zero changes in <= %d module runs' % RERUN_MODULE_RUNS_GOAL
    for size in run['sizes']:
        case = case_of(size)
        fig = phase_figures(size, hosts)
        r = fig['ratio']['converge']
        per = ', '.join('%s %.2fx' % (run['hosts'][h]['distro'], r['hosts'][h]['median']) for h in hosts)
        met = r['all']['median'] <= CONVERGE_GOAL
        rows.append(dict(goal=converge_goal, case=case,
                         figure='%.2fx (%.2f-%.2f); playbook %.1f s vs script %.1f s (both hosts at once); per host: %s'
                                % (r['all']['median'], r['all']['min'], r['all']['max'],
                                   fig['role']['converge']['wall']['median'], fig['floor']['build']['wall']['median'],
                                   per),
                         met=met, why=None if met else _why_converge(fig, hosts, kind_of(size))))
        runs = _module_runs(size, 'rerun')
        changed = sorted(set(h.get('changed') for r0 in _rounds(size) for h in r0['role']['rerun']['hosts'].values()))
        met = changed == [0] and bool(runs) and max(runs) <= RERUN_MODULE_RUNS_GOAL
        rows.append(dict(goal=rerun_goal, case=case,
                         figure='changed %s, module runs %s per host (every timed round)'
                                % ('/'.join(map(str, changed)), '/'.join(map(str, runs))),
                         met=met, why=None if met else 'changed %s, module runs %s' % (changed, runs)))
    for size in SIZES:
        if size not in by_size and KIND_OF[size] != 'thin':
            case = '%s stack (roles/%s_stack, one dm_%s_stack run)' % (size, size, size)
            rows += [dict(goal=g, case=case, figure='not measured yet (`--stack-size %s`)' % size, met=None)
                     for g in (converge_goal, rerun_goal)]
    small, big = by_size.get('small'), by_size.get('thin20')
    goal = 'module runs per host the same for the small stack and 20 thins'
    if small and big:
        pairs = [(p, _module_runs(small, p), _module_runs(big, p)) for p in ROLE_PHASES]
        met = all(a == b and len(a) == 1 for _p, a, b in pairs)
        rows.append(dict(goal=goal, case='thin, small (%d thins) vs thin20 (%d thins)' % (small['thins'], big['thins']),
                         figure='; '.join('%s %s vs %s' % (PHASE_TITLE[p], '/'.join(map(str, a)), '/'.join(map(str, b)))
                                          for p, a, b in pairs),
                         met=met, why=None if met else 'the counts differ or vary between rounds'))
    else:
        missing = 'thin20' if small else 'small'
        rows.append(dict(goal=goal, case='thin, small vs thin20', figure='%s not measured yet' % missing, met=None))
    return rows


def _why_converge(fig, hosts, kind='thin'):
    f = fig['role']['converge']
    parts = []
    for h in hosts:
        floor = fig['floor']['build']['hosts'][h]
        parts.append('%s: the dm_%s_stack task %.1f s of %.1f s task time, the script %.1f s (%.1f s inside '
                     'the guest)' % (h, kind, f['hosts'][h]['module']['median'], f['hosts'][h]['task']['median'],
                                     floor['ssh']['median'], floor['guest']['median']))
    return '; '.join(parts)


# --- page -----------------------------------------------------------------------------------------

def _n(count, what):
    return '%d %s%s' % (count, what, '' if count == 1 else 's')


def _fmt(s, digits=1):
    return '%.*f [%.*f-%.*f]' % (digits, s['median'], digits, s['min'], digits, s['max'])


def size_title(size):
    """A measured stack in a few words (plot titles, table headings)."""
    kind = kind_of(size)
    if kind == 'thin':
        return '%s: %s, %s' % (size['size'], _n(size['volumes'], 'volume'), _n(size['snapshots'], 'snapshot'))
    if kind == 'cache':
        return 'cache: dm-cache, writethrough smq, 4 MiB known data'
    return 'era: dm-era, 4 MiB known data, read through a metadata snapshot'


def _plot(run, figdir):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    hosts = _distro_hosts(run)
    sizes = run['sizes']
    ncols = min(2, len(sizes))
    nrows = (len(sizes) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.8 * ncols, 4.6 * nrows), squeeze=False)
    role_colors = ('#dd8452', '#c44e52')
    floor_colors = ('#4c72b0', '#55a868')
    seed_colors = ('#8172b3', '#937860')
    flat = [ax for row in axes for ax in row]
    for ax, size in zip(flat, sizes):
        f = phase_figures(size, hosts)
        series = [('role playbook, both hosts', '#8c8c8c',
                   [f['role'][p]['wall'] for p in ROLE_PHASES])]
        for k, h in enumerate(hosts):
            series.append(('role, %s (task time)' % run['hosts'][h]['distro'], role_colors[k % 2],
                           [f['role'][p]['hosts'][h]['task'] for p in ROLE_PHASES]))
        for k, h in enumerate(hosts):
            series.append(('floor script, %s (ssh session)' % run['hosts'][h]['distro'], floor_colors[k % 2],
                           [f['floor'][FLOOR_OF[p]]['hosts'][h]['ssh'] if p in FLOOR_OF else None
                            for p in ROLE_PHASES]))
        if 'seed' in f:
            for k, h in enumerate(hosts):
                series.append(('seed library, %s (ssh session)' % run['hosts'][h]['distro'], seed_colors[k % 2],
                               [f['seed'][FLOOR_OF[p]]['hosts'][h]['ssh'] if p in FLOOR_OF else None
                                for p in ROLE_PHASES]))
        n = len(series)
        width = 0.8 / n
        for j, (label, color, stats) in enumerate(series):
            xs = [i + (j - (n - 1) / 2.0) * width for i, s in enumerate(stats) if s is not None]
            vals = [s for s in stats if s is not None]
            ax.bar(xs, [s['median'] for s in vals], width, color=color, label=label,
                   yerr=[[s['median'] - s['min'] for s in vals], [s['max'] - s['median'] for s in vals]], capsize=2)
        ax.set_xticks(range(len(ROLE_PHASES)))
        ax.set_xticklabels([PHASE_TITLE[p] for p in ROLE_PHASES])
        ax.set_ylabel('wall time, s (median, min-max)')
        ax.set_title(size_title(size), fontsize=10)
        ax.grid(axis='y', alpha=0.3)
        ax.legend(fontsize=6, loc='best')
    for ax in flat[len(sizes):]:
        ax.axis('off')
    fig.suptitle('stack roles against the plain script (lab guests, software emulation)')
    fig.tight_layout()
    name = 'stack-thin-time.png'
    fig.savefig(os.path.join(figdir, name), dpi=90, metadata={'Software': None})
    plt.close(fig)
    return name


def _facts_rows(run):
    f = run['facts']
    rows = [('controller', '%s CPUs, %s, %s, Python %s, ansible-core %s'
             % (f['nproc'], f['cpu_model'], f['os'], f['agent_python_version'], run['ansible_core']))]
    for h in _distro_hosts(run):
        g = run['guests'].get(h, {})
        rows.append((h, '%s, kernel %s, %s vCPUs, %.1f GiB, thin-provisioning-tools %s, Python %s'
                     % (g.get('os'), g.get('kernel'), g.get('nproc'), int(g.get('mem_kib') or 0) / 1048576.0,
                        g.get('tools'), g.get('python'))))
    rows.append(('rounds', '%d timed + %d warm-up (left out) per size, order %s'
                 % (run['rounds'], run['warmup'], run['order'])))
    for size in run['sizes']:
        load = '; '.join('%s load average %s before, %s after' % (
            run['hosts'][h]['distro'], size.get('guests', {}).get(h, {}).get('loadavg'),
            size.get('guests', {}).get(h, {}).get('loadavg_after')) for h in _distro_hosts(run))
        rows.append(('%s measured' % size['size'], 'finished %s%s; %s (the guests are shared: other work on them '
                     'lands in the figures of both sides)' % (size['finished'], ' (by an earlier run of the suite)'
                                                              if size.get('kept_from') else '', load)))
    out = ['| | |', '|---|---|']
    out += ['| %s | %s |' % r for r in rows]
    return out


def _size_table(run, size):
    hosts = _distro_hosts(run)
    f = phase_figures(size, hosts)
    seed = 'seed' in f
    out = ['| phase | role playbook, s | %s | floor script, s | %s | role / floor per round |%s'
           % (' | '.join('role %s: task time, s; module runs; changed' % run['hosts'][h]['distro'] for h in hosts),
              ' | '.join('floor %s: ssh session (inside the guest), s' % run['hosts'][h]['distro'] for h in hosts),
              ' seed library, s | %s | seed / floor per round |'
              % ' | '.join('seed %s: ssh session (inside the guest), s' % run['hosts'][h]['distro'] for h in hosts)
              if seed else ''),
           '|---|---:|' + '---:|' * len(hosts) + '---:|' + '---:|' * len(hosts) + '---:|'
           + (('---:|' * (len(hosts) + 2)) if seed else '')]
    for p in ROLE_PHASES:
        role = f['role'][p]
        cells = ['%s; %s; %s' % (_fmt(role['hosts'][h]['task']), '/'.join(map(str, role['hosts'][h]['module_runs'])),
                                 '/'.join(map(str, role['hosts'][h]['changed']))) for h in hosts]
        if p in FLOOR_OF:
            fl = f['floor'][FLOOR_OF[p]]
            floor = [_fmt(fl['wall'])] + ['%s (%s)' % (_fmt(fl['hosts'][h]['ssh']), _fmt(fl['hosts'][h]['guest']))
                                          for h in hosts]
            r = f['ratio'][p]
            per = ', '.join('%s %.2fx' % (run['hosts'][h]['distro'], r['hosts'][h]['median']) for h in hosts)
            ratio = '%.2fx [%.2f-%.2f]; %s' % (r['all']['median'], r['all']['min'], r['all']['max'], per)
        else:
            floor = ['-'] * (1 + len(hosts))
            ratio = '-'
        extra = ''
        if seed and p in FLOOR_OF:
            sd = f['seed'][FLOOR_OF[p]]
            sr = f['seed_ratio'][FLOOR_OF[p]]
            extra = ' %s | %s | %.2fx [%.2f-%.2f] |' % (
                _fmt(sd['wall']), ' | '.join('%s (%s)' % (_fmt(sd['hosts'][h]['ssh']), _fmt(sd['hosts'][h]['guest']))
                                             for h in hosts), sr['median'], sr['min'], sr['max'])
        elif seed:
            extra = ' - |' + ' - |' * len(hosts) + ' - |'
        out.append('| %s | %s | %s | %s | %s |%s' % (PHASE_TITLE[p], _fmt(role['wall']), ' | '.join(cells),
                                                     ' | '.join(floor), ratio, extra))
    return out


def _stack_line(size):
    """One line of the page's list of stacks: what the role's variables asked for."""
    v = size['role_vars']
    kind = kind_of(size)
    if kind == 'thin':
        return '- `%s` (thin_stack, loop file of %d MiB, pool block 64 KiB, workload on): %s; snapshots %s.' % (
            size['size'], POOL_MIB,
            ', '.join('%s %s%s' % (x['name'], x['size'], ' %s on %s' % (x['filesystem'], x['mount'])
                                   if x.get('filesystem') else '') for x in v['thin_stack_volumes']),
            ', '.join('%s of %s' % (s['name'], s['origin']) for s in v['thin_stack_snapshots']))
    if kind == 'cache':
        return ('- `cache` (cache_stack): loop file of %s carved into metadata %s, cache %s and the rest as origin; '
                'block %s, %s, %s; known data %s; cache_check of the live metadata (through a read-only view, the '
                'cache suspended); teardown through the cleaner policy.'
                % (v['cache_stack_loop_size'], v['cache_stack_metadata_size'], v['cache_stack_cache_size'],
                   v['cache_stack_block_size'], v['cache_stack_mode'], v['cache_stack_policy'],
                   v['cache_stack_workload_size']))
    return ('- `era` (era_stack): loop file of %s carved into metadata %s and the rest as origin, a read-only view '
            'of the metadata; block %s; known data %s; era_check, era_invalidate --written-since %s and era_dump '
            'while a metadata snapshot is held; era_check of the metadata after teardown.'
            % (v['era_stack_loop_size'], v['era_stack_metadata_size'], v['era_stack_block_size'],
               v['era_stack_workload_size'], v['era_stack_since_era']))


def render(results, figdir, figrel):
    md = []
    run = results['runs'].get(LABEL)
    seeded = False
    if run:
        name = _plot(run, figdir)
        md += ['', '### The stack roles (one dm_*_stack run each) against the plain script', '']
        md += _facts_rows(run)
        md += ['', 'The stacks (on loop files under %s, on both guests at once):' % LOOP_DIR, '']
        md += [_stack_line(size) for size in run['sizes']]
        md += ['', 'Wall time in seconds, median [min-max] of the timed rounds. *role playbook*: '
               '`ansible-playbook bench/stack_playbooks/<kind>_stack.yml` on both hosts at once, as the '
               'controller sees it (start-up, inventory, SSH included). Per host, the role\'s *task time* '
               'is the sum of that host\'s task times and *module runs* the task results that ran a module '
               'on the host (bench/callback_plugins/module_runs.py: not set_fact, assert, '
               'validate_argument_spec, include_*, meta ...); a / between counts means they varied between '
               'rounds. *floor script*: the same commands as one bash script over one SSH session per host '
               '(both hosts at once; the slowest one), with the time the script measured inside the guest in '
               'brackets. *role / floor* pairs the two of one round: the playbook against the script on both '
               'hosts, then per host the task time against its SSH session. A re-run has no floor: the script '
               'only builds. *seed library* (thin stacks): bench/stack_seed.py building and tearing down the same '
               'stack with the sts-libs API in one Python process per host (over one SSH session, like the '
               'script).', '']
        for size in run['sizes']:
            seeded = seeded or 'seed' in phase_figures(size, _distro_hosts(run))
            md += ['#### %s' % size_title(size), '']
            md += _size_table(run, size)
            md.append('')
        md += ['![Wall time per phase, role against the plain script, per distro](%s/%s)' % (figrel, name), '']
        missing = [s for s in SIZES if s not in [x['size'] for x in run['sizes']]]
        if missing:
            md += ['Not measured yet: the %s stack%s (`python -m bench.run --suite stack --stack-size %s`).'
                   % (', '.join(missing), 's' if len(missing) > 1 else '', missing[0]), '']
    md += ['### Not measured yet', '']
    md += ['- %s.' % what for label, what in PENDING_TARGETS if label not in results['runs']]
    if not seeded:
        md.append('- %s.' % SEED_NOT_RUN)
    md += ['- %s.' % NOT_MEASURED, '']
    return md


def main():
    sys.exit('run the suite with: python -m bench.run --suite stack')


if __name__ == '__main__':
    main()
