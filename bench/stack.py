# -*- coding: utf-8 -*-
"""stack suite, thin part: the thin_stack role as shipped against the floor, on the lab guests.

For each stack size (``small``: the lab inventory's thin stack; ``thin20``: 1 pool, 20 thin
volumes, 5 snapshots), on every host of the lab group at once, round after round:

- A, the role: ``ansible-playbook bench/stack_playbooks/thin_stack.yml`` (the role
  sts.devicemapper.thin_stack and nothing else, gather_facts off) four times: the first converge,
  the re-run, the ``--check`` re-run and the teardown (``thin_stack_state: absent``). The callback
  bench/callback_plugins/module_runs.py counts, per host, the task results that ran a module on
  the host and the changed ones, with each task's time;
- B, the floor: the same stack built, then torn down, by a plain bash script of the same
  commands (truncate, losetup, dmsetup create with the tables on stdin, dmsetup message
  create_thin / create_snap with suspend / resume of the origin, mkfs.ext4, mount, the dd
  workload, thin_check through reserve / release_metadata_snap), one SSH session per host and
  phase (``ssh ... bash -s < script``, the inventory's SSH options), both hosts at once.

A and B alternate (A B A B ...), a warm-up round first (kept raw, left out of every figure).
The role and the floor build stacks of their own names (``bench_thin*`` and ``bench_flr*``),
on loop files under /var/tmp/bench_stack, never on the guests' data disks.

Wall times are the controller's: what a user waits for, SSH included on both sides (the role
cannot run without it). Per host, the role's figure is the sum of that host's task times
(callback) and the floor's the SSH session; the script also reports its time inside the guest.
"""

import json
import os
import shlex
import subprocess
import sys
import threading
import time

from bench import _measure

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PLAYBOOK = os.path.join(HERE, 'stack_playbooks', 'thin_stack.yml')
CALLBACKS = os.path.join(HERE, 'callback_plugins')
LABEL = 'thin'
ROLE_PHASES = ('converge', 'rerun', 'check', 'teardown')
FLOOR_PHASES = ('build', 'teardown')
# The floor phase each role phase is compared with (a re-run has no floor: the script has no re-run).
FLOOR_OF = dict(converge='build', teardown='teardown')
PHASE_TITLE = dict(converge='first converge', rerun='re-run', check='--check re-run', teardown='teardown')
SIZES = ('small', 'thin20')
CONVERGE_GOAL = 3.0
RERUN_MODULE_RUNS_GOAL = 3
LOOP_DIR = '/var/tmp/bench_stack'
POOL_MIB = 1024
BLOCK_SECTORS = 128
WORKLOAD_BYTES = 262144
# Measured elsewhere, or not yet: listed on the page as not measured.
PENDING_TARGETS = (
    ('cache', 'cache stack (roles/cache_stack, one dm_cache_stack run): not measured yet, the suite has no '
              'floor script for it yet'),
    ('era', 'era stack (roles/era_stack, one dm_era_stack run): not measured yet, the suite has no floor script '
            'for it yet'),
)
NOT_MEASURED = ('the seed library (sts-libs) building the same stacks in one Python process: not part of this '
                'run, not measured yet')


def add_arguments(parser):
    group = parser.add_argument_group('stack suite')
    group.add_argument('--stack-size', action='append', choices=SIZES,
                       help='stack size to measure, repeatable (default: both); a size not selected keeps the '
                            'run recorded for it before')
    group.add_argument('--stack-inventory', default=os.path.join(REPO, '.lab', 'inventory.yml'),
                       help='the lab inventory (hosts, SSH options)')
    group.add_argument('--stack-hosts', default='lab', help='inventory group or host pattern to measure on')
    group.add_argument('--stack-warmup', type=int, default=1, help='untimed warm-up rounds before the timed ones')


# --- the stacks -----------------------------------------------------------------------------------

def stack_spec(size, name):
    """Volumes and snapshots of one size, named after the stack (sizes in MiB)."""
    if size == 'small':
        volumes = [dict(name=name + '_fs', mib=256, filesystem='ext4', mount='/mnt/%s_fs' % name),
                   dict(name=name + '_raw', mib=128)]
        snapshots = [dict(name=name + '_raw_snap', origin=name + '_raw')]
    elif size == 'thin20':
        volumes = [dict(name=name + '_fs', mib=256, filesystem='ext4', mount='/mnt/%s_fs' % name)]
        volumes += [dict(name='%s_v%02d' % (name, i), mib=64) for i in range(2, 21)]
        snapshots = [dict(name='%s_v%02d_snap' % (name, i), origin='%s_v%02d' % (name, i)) for i in range(2, 7)]
    else:
        raise ValueError('unknown stack size %r' % size)
    return dict(name=name, size=size, volumes=volumes, snapshots=snapshots)


def stack_names(size):
    suffix = '' if size == 'small' else '20'
    return 'bench_thin' + suffix, 'bench_flr' + suffix


def role_vars(spec):
    """The role's variables for one stack: loop backing (the inventory's thin_stack_device is overridden)."""
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


def floor_script(spec, phase, ignore_errors=False):
    """The plain bash script of one floor phase (build or teardown) for one host."""
    s = spec['name']
    d = '%s/%s' % (LOOP_DIR, s)
    q = shlex.quote
    ids = _dev_ids(spec)
    sizes = dict((v['name'], v['mib'] * 2048) for v in spec['volumes'])
    for snap in spec['snapshots']:
        sizes[snap['name']] = sizes[snap['origin']]
    out = ['set -euo pipefail' if not ignore_errors else 'set +e', 't0=$(date +%s.%N)']
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
        out.append('work() { (yes "$(printf \'%%-63.63s\' "sts.devicemapper thin_stack %s $1 sts.devicemapper")" '
                   '|| :) | head -c %d '
                   '| dd of="$2" bs=64k iflag=fullblock oflag=direct conv=notrunc,fsync status=none; '
                   'dd if="$2" bs=64k count=%d iflag=direct status=none | sha256sum; }'
                   % (s, WORKLOAD_BYTES, WORKLOAD_BYTES // 65536))
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
    elif phase == 'teardown':
        quiet = ' 2>/dev/null' if ignore_errors else ''
        for v in spec['volumes']:
            if v.get('mount'):
                if ignore_errors:
                    out.append('mountpoint -q %s && umount %s' % (q(v['mount']), q(v['mount'])))
                else:
                    out.append('umount %s' % q(v['mount']))
                out.append('rmdir %s%s' % (q(v['mount']), quiet))
        names = [t['name'] for t in spec['snapshots']] + [t['name'] for t in spec['volumes']]
        names += ['%s_pool' % s, '%s_data' % s, '%s_meta' % s]
        if ignore_errors:
            out += ['dmsetup info %s >/dev/null 2>&1 && dmsetup remove --retry %s' % (n, n) for n in names]
        else:
            out += ['dmsetup remove --retry %s' % n for n in names]
        out += ['for l in $(losetup -j %s/pool.img | cut -d: -f1); do losetup -d "$l"; done' % q(d),
                'rm -rf %s' % q(d)]
    else:
        raise ValueError(phase)
    out.append('echo "bench_guest=$t0 $(date +%s.%N)"')
    return '\n'.join(out) + '\n'


# --- the hosts ------------------------------------------------------------------------------------

def _env(extra=None):
    env = dict(os.environ)
    venv_bin = os.path.join(REPO, '.venv', 'bin')
    env['PATH'] = venv_bin + os.pathsep + env.get('PATH', '')
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, 'build', 'collections'),
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
    """One ansible-playbook run of the role on every host at once, counted by the callback."""

    def __init__(self, inventory, pattern, vars_path, workdir):
        self.inventory = inventory
        self.pattern = pattern
        self.vars_path = vars_path
        self.workdir = workdir

    def run(self, phase):
        argv = ['-i', self.inventory, PLAYBOOK, '-e', '@' + self.vars_path, '-e', 'bench_hosts=%s' % self.pattern,
                '-e', 'thin_stack_state=%s' % ('absent' if phase == 'teardown' else 'present')]
        if phase == 'check':
            argv.append('--check')
        return run_playbook(argv, self.workdir, phase)[0]


# --- the run --------------------------------------------------------------------------------------

def _log(text):
    print(text, flush=True)


def measure_size(size, opts, hosts, workdir):
    role_name, floor_name = stack_names(size)
    role_spec, floor_spec = stack_spec(size, role_name), stack_spec(size, floor_name)
    vars_path = os.path.join(workdir, 'vars-%s.json' % size)
    with open(vars_path, 'w') as handle:
        json.dump(role_vars(role_spec), handle, indent=1)
    book = Playbook(opts.stack_inventory, opts.stack_hosts, vars_path, workdir)
    scripts = dict((phase, floor_script(floor_spec, phase)) for phase in FLOOR_PHASES)

    # Whatever an interrupted run left: the role's stack through the role, the floor's by its script.
    _log('  %s: clean up what an earlier run may have left' % size)
    pre = book.run('teardown')
    if pre['rc'] != 0:
        raise RuntimeError('stack: the teardown before the rounds failed:\n%s' % pre.get('log_tail'))
    ssh_all(hosts, dict((h, floor_script(floor_spec, 'teardown', ignore_errors=True)) for h in hosts))

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
            wall, samples = ssh_all(hosts, dict((h, scripts[phase]) for h in hosts))
            row['floor'][phase] = dict(wall_s=wall, hosts=samples)
            bad = dict((h, s) for h, s in samples.items() if s['rc'] != 0)
            if bad:
                ssh_all(hosts, dict((h, floor_script(floor_spec, 'teardown', ignore_errors=True)) for h in hosts))
                raise RuntimeError('stack: floor %s failed in round %d: %s' % (phase, index, json.dumps(bad)))
        _log('  %s round %d%s: role %s | floor %s' % (
            size, index, ' (warm-up)' if row['warmup'] else '',
            ' '.join('%s %.1fs' % (p, row['role'][p]['wall_s']) for p in ROLE_PHASES),
            ' '.join('%s %.1fs' % (p, row['floor'][p]['wall_s']) for p in FLOOR_PHASES)))
        rounds.append(row)
        # raw progress outside the repository, for a run that is stopped before it is recorded
        with open(os.path.join(workdir, 'rounds-%s.json' % size), 'w') as handle:
            json.dump(rounds, handle, indent=1, sort_keys=True)
    return dict(size=size, role_stack=role_name, floor_stack=floor_name,
                thins=len(role_spec['volumes']) + len(role_spec['snapshots']),
                volumes=len(role_spec['volumes']), snapshots=len(role_spec['snapshots']),
                role_vars=role_vars(role_spec), floor_scripts=scripts, rounds=rounds,
                finished=time.strftime('%Y-%m-%dT%H:%M:%S%z'))


def _previous():
    path = os.path.join(HERE, 'results', 'stack.json')
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle).get('runs', {}).get(LABEL) or {}


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
    measured = {}
    for size in selected:
        measured[size] = measure_size(size, opts, hosts, workdir)
        measured[size]['guests'] = guests
    for h, after in host_facts(hosts).items():
        guests[h]['loadavg_after'] = after.get('loadavg')
    previous = _previous()
    sizes = []
    for size in SIZES:
        if size in measured:
            sizes.append(measured[size])
        else:
            old = [s for s in previous.get('sizes', []) if s['size'] == size]
            if old:
                sizes.append(dict(old[0], kept_from=previous.get('controller', {}).get('finished')))
    facts = _measure.facts(sys.executable)
    result = dict(sizes=sizes, hosts=dict((h, dict(distro=hosts[h]['distro'])) for h in hosts), guests=guests,
                  facts=facts, ansible_core=ansible.__version__, rounds=opts.rounds, warmup=opts.stack_warmup,
                  order='A: role converge, re-run, --check re-run, teardown / B: floor build, teardown',
                  inventory=os.path.relpath(opts.stack_inventory, REPO), hosts_pattern=opts.stack_hosts)
    return LABEL, result


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


def evaluate(run):
    """Goal rows: goal, case, figure text, met (None: not measured), and why when not met."""
    rows = []
    hosts = _distro_hosts(run)
    by_size = dict((s['size'], s) for s in run['sizes'])
    for size in run['sizes']:
        case = 'thin, %s (%d thins)' % (size['size'], size['thins'])
        fig = phase_figures(size, hosts)
        r = fig['ratio']['converge']
        per = ', '.join('%s %.2fx' % (run['hosts'][h]['distro'], r['hosts'][h]['median']) for h in hosts)
        met = r['all']['median'] <= CONVERGE_GOAL
        rows.append(dict(goal='first converge <= %gx the floor' % CONVERGE_GOAL, case=case,
                         figure='%.2fx (%.2f-%.2f); playbook %.1f s vs script %.1f s (both hosts at once); per host: %s'
                                % (r['all']['median'], r['all']['min'], r['all']['max'],
                                   fig['role']['converge']['wall']['median'], fig['floor']['build']['wall']['median'],
                                   per),
                         met=met, why=None if met else _why_converge(fig, hosts)))
        runs = _module_runs(size, 'rerun')
        changed = sorted(set(h.get('changed') for r0 in _rounds(size) for h in r0['role']['rerun']['hosts'].values()))
        met = changed == [0] and bool(runs) and max(runs) <= RERUN_MODULE_RUNS_GOAL
        rows.append(dict(goal='re-run: zero changes in <= %d module runs' % RERUN_MODULE_RUNS_GOAL, case=case,
                         figure='changed %s, module runs %s per host (every timed round)'
                                % ('/'.join(map(str, changed)), '/'.join(map(str, runs))),
                         met=met, why=None if met else 'changed %s, module runs %s' % (changed, runs)))
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


def _why_converge(fig, hosts):
    f = fig['role']['converge']
    parts = []
    for h in hosts:
        floor = fig['floor']['build']['hosts'][h]
        parts.append('%s: the dm_thin_stack task %.1f s of %.1f s task time, the script %.1f s (%.1f s inside '
                     'the guest)' % (h, f['hosts'][h]['module']['median'], f['hosts'][h]['task']['median'],
                                     floor['ssh']['median'], floor['guest']['median']))
    return '; '.join(parts)


# --- page -----------------------------------------------------------------------------------------

def _n(count, what):
    return '%d %s%s' % (count, what, '' if count == 1 else 's')


def _fmt(s, digits=1):
    return '%.*f [%.*f-%.*f]' % (digits, s['median'], digits, s['min'], digits, s['max'])


def _plot(run, figdir):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    hosts = _distro_hosts(run)
    sizes = run['sizes']
    fig, axes = plt.subplots(1, len(sizes), figsize=(6.4 * len(sizes), 4.6), squeeze=False)
    role_colors = ('#dd8452', '#c44e52')
    floor_colors = ('#4c72b0', '#55a868')
    for ax, size in zip(axes[0], sizes):
        f = phase_figures(size, hosts)
        n = 2 * len(hosts) + 1
        width = 0.8 / n
        series = [('role playbook, both hosts', '#8c8c8c',
                   [f['role'][p]['wall'] for p in ROLE_PHASES])]
        for k, h in enumerate(hosts):
            series.append(('role, %s (task time)' % run['hosts'][h]['distro'], role_colors[k % 2],
                           [f['role'][p]['hosts'][h]['task'] for p in ROLE_PHASES]))
        for k, h in enumerate(hosts):
            series.append(('floor script, %s (ssh session)' % run['hosts'][h]['distro'], floor_colors[k % 2],
                           [f['floor'][FLOOR_OF[p]]['hosts'][h]['ssh'] if p in FLOOR_OF else None
                            for p in ROLE_PHASES]))
        for j, (label, color, stats) in enumerate(series):
            xs = [i + (j - (n - 1) / 2.0) * width for i, s in enumerate(stats) if s is not None]
            vals = [s for s in stats if s is not None]
            ax.bar(xs, [s['median'] for s in vals], width, color=color, label=label,
                   yerr=[[s['median'] - s['min'] for s in vals], [s['max'] - s['median'] for s in vals]], capsize=2)
        ax.set_xticks(range(len(ROLE_PHASES)))
        ax.set_xticklabels([PHASE_TITLE[p] for p in ROLE_PHASES])
        ax.set_ylabel('wall time, s (median, min-max)')
        ax.set_title('%s: %s, %s' % (size['size'], _n(size['volumes'], 'volume'), _n(size['snapshots'], 'snapshot')))
        ax.grid(axis='y', alpha=0.3)
    axes[0][0].legend(fontsize=7, loc='upper right')
    fig.suptitle('thin_stack role against the plain script (lab guests, software emulation)')
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
    out = ['| phase | role playbook, s | %s | floor script, s | %s | role / floor per round |'
           % (' | '.join('role %s: task time, s; module runs; changed' % run['hosts'][h]['distro'] for h in hosts),
              ' | '.join('floor %s: ssh session (inside the guest), s' % run['hosts'][h]['distro'] for h in hosts)),
           '|---|---:|' + '---:|' * len(hosts) + '---:|' + '---:|' * len(hosts) + '---:|']
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
        out.append('| %s | %s | %s | %s | %s |' % (PHASE_TITLE[p], _fmt(role['wall']), ' | '.join(cells),
                                                   ' | '.join(floor), ratio))
    return out


def render(results, figdir, figrel):
    md = []
    run = results['runs'].get(LABEL)
    if run:
        name = _plot(run, figdir)
        md += ['', '### thin: the thin_stack role (one dm_thin_stack run) against the plain script', '']
        md += _facts_rows(run)
        md += ['', 'The stacks (loop file of %d MiB, pool block 64 KiB, workload on, on both guests at once):'
               % POOL_MIB, '']
        for size in run['sizes']:
            v = size['role_vars']
            md.append('- `%s`: %s; snapshots %s.' % (
                size['size'], ', '.join('%s %s%s' % (x['name'], x['size'], ' %s on %s' % (x['filesystem'], x['mount'])
                                                     if x.get('filesystem') else '') for x in v['thin_stack_volumes']),
                ', '.join('%s of %s' % (s['name'], s['origin']) for s in v['thin_stack_snapshots'])))
        md += ['', 'Wall time in seconds, median [min-max] of the timed rounds. *role playbook*: '
               '`ansible-playbook bench/stack_playbooks/thin_stack.yml` on both hosts at once, as the '
               'controller sees it (start-up, inventory, SSH included). Per host, the role\'s *task time* '
               'is the sum of that host\'s task times and *module runs* the task results that ran a module '
               'on the host (bench/callback_plugins/module_runs.py: not set_fact, assert, '
               'validate_argument_spec, include_*, meta ...); a / between counts means they varied between '
               'rounds. *floor script*: the same commands as one bash script over one SSH session per host '
               '(both hosts at once; the slowest one), with the time the script measured inside the guest in '
               'brackets. *role / floor* pairs the two of one round: the playbook against the script on both '
               'hosts, then per host the task time against its SSH session. A re-run has no floor: the script '
               'only builds.', '']
        for size in run['sizes']:
            md += ['#### %s: %s, %s' % (size['size'], _n(size['volumes'], 'volume'), _n(size['snapshots'], 'snapshot')),
                   '']
            md += _size_table(run, size)
            md.append('')
        md += ['![Wall time per phase, role against the plain script, per distro](%s/%s)' % (figrel, name), '']
        missing = [s for s in SIZES if s not in [x['size'] for x in run['sizes']]]
        if missing:
            md += ['Not measured yet: the %s stack (`python -m bench.run --suite stack --stack-size %s`).'
                   % (', '.join(missing), missing[0]), '']
    md += ['### Not measured yet', '']
    md += ['- %s.' % what for label, what in PENDING_TARGETS if label not in results['runs']]
    md += ['- %s.' % NOT_MEASURED, '']
    return md


def main():
    sys.exit('run the suite with: python -m bench.run --suite stack')


if __name__ == '__main__':
    main()
