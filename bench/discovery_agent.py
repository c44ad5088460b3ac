# -*- coding: utf-8 -*-
"""discovery suite, the part that runs on the measured guest: stdlib only, Python >= 3.9.

    python3 discovery_agent.py --bundle DIR [--seed DIR] [--n N ...] [--seed-max 500]
                               [--rounds 5] [--warmup 1] [--python /usr/bin/python3] [--out FILE|-]

For each N (ascending) it makes the guest hold N linear devices of its own (``bench_disc_*``,
8 sectors each on one loop device; created with ``dmsetup create --concise``, only those
missing from the previous N), then runs, alternately in one loop:
  floor_info, floor_table, floor_status
          the three bare dmsetup commands discovery needs (``_dm.discovery.DISCOVERY_ARGVS``),
          each its own process; the floor is their sum;
  inproc  ``_dm.discovery.discover`` called in this process (the same three commands through
          subprocess, then the parsing): its own time, and the part of it spent in the commands;
  module  ``dm_info`` with no options (every device, table and status) as a whole process, the
          module file with its JSON arguments file (``python3 -m ...dm_info ARGS.json``);
  pass    a bare ``python3 -c pass``;
  import  a bare ``python3 -c 'import ansible.module_utils.basic'`` (what any module pays first);
  seed    (N <= --seed-max) the seed library listing every device with its table and status
          through its API (discovery_seed.py api), as its own process;
  shell   (N <= --seed-max) the seed's per-device shell strings (discovery_seed.py shell).
Every listing is checked: ours and the seed's must each see all N devices of ours, with a table
and a status, or the run fails. The devices are removed at the end, and whatever a killed
earlier run left (by name prefix and loop file) before the start.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import _measure

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = 'bench_disc_'
WORK = '/var/tmp/bench_discovery'
SECTORS = 8
MODULE = 'ansible_collections.sts.devicemapper.plugins.modules.dm_info'
DISCOVERY = 'ansible_collections.sts.devicemapper.plugins.module_utils._dm.discovery'
IMPORT_BASIC = 'import ansible.module_utils.basic'


def log(msg):
    sys.stderr.write('[discovery %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def sh(argv, check=True):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed (rc %d): %s' % (' '.join(argv), proc.returncode, proc.stderr.strip()))
    return proc


def our_devices():
    out = sh(['dmsetup', 'ls']).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.startswith(PREFIX))


def all_devices():
    out = sh(['dmsetup', 'ls']).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip() and not line.startswith('No devices')]


def remove_ours():
    names = our_devices()
    for start in range(0, len(names), 200):
        sh(['dmsetup', 'remove', '--retry'] + names[start:start + 200])
    sh(['udevadm', 'settle'], check=False)
    image = os.path.join(WORK, 'backing.img')
    for line in sh(['losetup', '-j', image], check=False).stdout.splitlines():
        sh(['losetup', '-d', line.split(':', 1)[0]], check=False)
    return len(names)


def backing():
    os.makedirs(WORK, exist_ok=True)
    image = os.path.join(WORK, 'backing.img')
    with open(image, 'wb') as handle:
        handle.truncate(16 * 1024 * 1024)
    return sh(['losetup', '--find', '--show', image]).stdout.strip()


def grow_to(count, loop):
    """Create the devices of ours missing for ``count``, in batches of one ``dmsetup create --concise``."""
    have = set(our_devices())
    want = ['%s%04d' % (PREFIX, i) for i in range(count)]
    missing = [n for n in want if n not in have]
    span = 16 * 1024 * 2 // SECTORS
    for start in range(0, len(missing), 100):
        spec = ';'.join('%s,,,rw,0 %d linear %s %d' % (n, SECTORS, loop, (int(n[len(PREFIX):]) % span) * SECTORS)
                        for n in missing[start:start + 100])
        sh(['dmsetup', 'create', '--concise', spec])
    sh(['udevadm', 'settle'], check=False)
    now = our_devices()
    if now != sorted(want):
        raise RuntimeError('expected %d devices of ours, the kernel lists %d' % (count, len(now)))


class InProcess(object):
    """``_dm.discovery.discover`` in this process, timed with the share spent in the commands."""

    name = 'inproc'
    argv = ['(in process) _dm.discovery.discover']

    def __init__(self, bundle):
        sys.path.insert(0, bundle)
        __import__(DISCOVERY)
        self.discovery = sys.modules[DISCOVERY]
        self.commands_s = 0.0

    def _run(self, argv):
        started = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              check=False)
        self.commands_s += time.perf_counter() - started
        return proc.returncode, proc.stdout, proc.stderr

    def __call__(self):
        self.commands_s = 0.0
        started = time.perf_counter()
        facts, _tables = self.discovery.discover(self._run)
        wall = time.perf_counter() - started
        ours = [n for n in facts if n.startswith(PREFIX)]
        full = sum(1 for n in ours if facts[n].get('table') and facts[n].get('status'))
        return dict(wall_s=round(wall, 6), commands_s=round(self.commands_s, 6),
                    parse_s=round(wall - self.commands_s, 6), rc=0, devices=len(facts), ours=len(ours),
                    complete=full)


def module_command(work, python, env):
    args_file = os.path.join(work, 'dm_info.args.json')
    with open(args_file, 'w') as handle:
        json.dump(dict(ANSIBLE_MODULE_ARGS=dict(_ansible_remote_tmp=os.path.join(work, 'remote_tmp'))), handle)
    out = os.path.join(work, 'dm_info.out.json')
    cmd = _measure.Command('module', [python, '-m', MODULE, args_file], env=env, stdout_file=out)
    cmd.out = out
    return cmd


def seed_command(mode, seed, work, python):
    out = os.path.join(work, 'seed-%s.json' % mode)
    env = dict(os.environ, PYTHONPATH=seed, LC_ALL='C')
    cmd = _measure.Command('seed' if mode == 'api' else 'shell',
                           [python, os.path.join(HERE, 'discovery_seed.py'), mode, out, PREFIX], env=env)
    cmd.out = out
    return cmd


def _verify(cmd, sample, count):
    """The listing of one run must hold all ``count`` devices of ours with a table and a status."""
    if cmd.name == 'module':
        with open(cmd.out) as handle:
            result = json.load(handle)
        devices = result.get('devices') or {}
        ours = [n for n in devices if n.startswith(PREFIX)]
        sample.update(devices=len(devices), ours=len(ours),
                      complete=sum(1 for n in ours if devices[n].get('table') and devices[n].get('status')))
    elif cmd.name in ('seed', 'shell'):
        with open(cmd.out) as handle:
            listed = json.load(handle)
        sample.update(devices=listed['devices'], ours=listed['ours'], complete=min(listed['tables'],
                                                                                   listed['statuses']),
                      import_s=listed['import_s'], list_s=listed['list_s'])
    if 'ours' in sample and (sample['ours'] != count or sample['complete'] < count):
        raise RuntimeError('%s listed %s of our %d devices, %s with table and status'
                           % (cmd.name, sample['ours'], count, sample['complete']))


def measure(commands, count, rounds, warmup, cwd):
    out = []
    for index in range(warmup + rounds):
        row = dict(round=index, warmup=index < warmup)
        for cmd in commands:
            if isinstance(cmd, InProcess):
                sample = cmd()
            else:
                sample = _measure.run_once(cmd, cwd=cwd)
                if sample['rc'] != 0:
                    raise RuntimeError('%s failed (rc=%d): %s\n%s' % (cmd.name, sample['rc'], ' '.join(cmd.argv),
                                                                      sample.get('stderr_tail', '')))
            _verify(cmd, sample, count)
            row[cmd.name] = sample
        log('  N=%d round %d%s: %s' % (count, index, ' (warm-up)' if row['warmup'] else '',
                                       '  '.join('%s %.3fs' % (c.name, row[c.name]['wall_s']) for c in commands)))
        out.append(row)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--bundle', required=True, help='directory with ansible/module_utils and ansible_collections')
    parser.add_argument('--seed', help='directory holding the seed library (pip install --target)')
    parser.add_argument('--n', type=int, action='append', help='devices per step (repeat; ascending)')
    parser.add_argument('--seed-max', type=int, default=500, help='largest N the seed library is measured at')
    parser.add_argument('--seed-warmup', type=int, default=None,
                        help='warm-up rounds at an N where the seed runs (default: --warmup)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--python', default='/usr/bin/python3', help='the interpreter that runs the modules')
    parser.add_argument('--out', default='-')
    opts = parser.parse_args()
    if opts.rounds < 5:
        parser.error('--rounds %d: every figure is the median of at least 5 runs' % opts.rounds)
    steps = sorted(set(opts.n or [10, 100, 500, 1000]))
    bundle = os.path.abspath(opts.bundle)
    env = dict(os.environ, PYTHONPATH=bundle, LC_ALL='C')
    env.pop('PYTHONDONTWRITEBYTECODE', None)
    left = remove_ours()
    if left:
        log('removed %d devices an earlier run left' % left)
    others = all_devices()
    work = os.path.join(WORK, 'work')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, 'remote_tmp'))
    version = sh(['dmsetup', 'version']).stdout
    versions = dict(re.findall(r'^(\w[\w ]*?):\s+(\S+)', version, re.M))
    run = dict(facts=_measure.facts(opts.python), dmsetup_version=versions,
               rounds=opts.rounds, warmup=opts.warmup, seed_max=opts.seed_max if opts.seed else None,
               other_devices=len(others), sectors_per_device=SECTORS, steps=[])
    inproc = InProcess(bundle)
    floor = [_measure.Command('floor_' + argv[1], list(argv), env=env) for argv in inproc.discovery.DISCOVERY_ARGVS]
    loop = backing()
    try:
        for count in steps:
            started = time.perf_counter()
            grow_to(count, loop)
            created_s = time.perf_counter() - started
            commands = floor + [inproc, module_command(work, opts.python, env),
                                _measure.Command('pass', [opts.python, '-c', 'pass'], env=env),
                                _measure.Command('import', [opts.python, '-c', IMPORT_BASIC], env=env)]
            warmup = opts.warmup
            if opts.seed and count <= opts.seed_max:
                commands += [seed_command('api', opts.seed, work, opts.python),
                             seed_command('shell', opts.seed, work, opts.python)]
                if opts.seed_warmup is not None:
                    warmup = opts.seed_warmup
            log('N=%d (%d devices in all; %d created in %.1f s): %d+%d rounds of %s'
                % (count, count + len(others), count, created_s, warmup, opts.rounds,
                   ' / '.join(c.name for c in commands)))
            load_before = os.getloadavg()
            rounds = measure(commands, count, opts.rounds, warmup, work)
            run['steps'].append(dict(n=count, devices=count + len(others), warmup=warmup,
                                     commands=dict((c.name, c.argv) for c in commands), rounds=rounds,
                                     loadavg=[load_before, os.getloadavg()], created_s=round(created_s, 3)))
    finally:
        removed = remove_ours()
        log('removed our %d devices' % removed)
        shutil.rmtree(WORK, ignore_errors=True)
    _measure.emit(run, opts.out)


if __name__ == '__main__':
    main()
