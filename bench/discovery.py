# -*- coding: utf-8 -*-
"""discovery suite: listing N dm devices with their tables and status, ours against the floor
and the seed library, on the lab guests (both at once, one agent per guest).

The controller stages, for each guest, the agent (bench/discovery_agent.py, discovery_seed.py,
_measure.py), a module bundle (the collection's plugins and ansible's module_utils, as the dmpd
suite's) and the seed library installed for the guests with ``pip install --target`` from
requirements/bench-seed.txt (pinned; cached outside the repository, keyed by that file), sends
them over SSH, runs the agents at once and records what they print. The figures are timed on
the guests; SSH is in none of them.
"""

import hashlib
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
LABEL = 'lab'
AGENT_FILES = ('_measure.py', 'discovery_agent.py', 'discovery_seed.py')
SEED_REQUIREMENTS = os.path.join(REPO, 'requirements', 'bench-seed.txt')
REMOTE_ROOT = '/var/tmp/sts-dm-bench/discovery-stage'
DEFAULT_N = (10, 100, 500, 1000)
SEED_MAX = 500
INPROC_GOAL = 1.2
MODULE_GOAL = 2.0
SEED_GOAL = 100.0
SEED_GOAL_N = 500
FLOOR = ('floor_info', 'floor_table', 'floor_status')
SERIES = (('floor', 'the floor: 3 bare dmsetup commands', '#4c72b0', 'o'),
          ('inproc', 'ours: _dm.discovery in process', '#55a868', 's'),
          ('module', 'ours: dm_info as a whole module run', '#dd8452', 'D'),
          ('seed', 'seed library (sts-libs) API', '#c44e52', 'v'),
          ('shell', "seed's per-device shell strings", '#8172b3', '^'))


def add_arguments(parser):
    group = parser.add_argument_group('discovery suite')
    group.add_argument('--discovery-n', type=int, action='append',
                       help='devices per step, repeatable (default: %s); a step not selected keeps the '
                            'figures recorded for it before' % ', '.join(map(str, DEFAULT_N)))
    group.add_argument('--discovery-seed-max', type=int, default=SEED_MAX,
                       help='largest N the seed library is measured at (one listing of 500 takes minutes)')
    group.add_argument('--discovery-seed-warmup', type=int, default=None,
                       help='warm-up rounds at an N where the seed library runs (default: the usual one)')
    group.add_argument('--discovery-inventory', default=os.path.join(REPO, '.lab', 'inventory.yml'),
                       help='the lab inventory (hosts, SSH options)')
    group.add_argument('--discovery-hosts', default='lab', help='inventory group or host pattern to measure on')


# --- staging ---------------------------------------------------------------------------------------

def seed_tree(cache):
    """The seed library and what it needs, ``pip install --target`` from the pinned file, cached."""
    with open(SEED_REQUIREMENTS, 'rb') as handle:
        key = hashlib.sha256(handle.read()).hexdigest()[:16]
    target = os.path.join(cache, 'seed-%s' % key)
    if not os.path.isdir(target):
        tmp = target + '.tmp'
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check', '-q', '--no-compile',
                        '--target', tmp, '-r', SEED_REQUIREMENTS], check=True)
        os.rename(tmp, target)
    return target


def stage(dest, seed):
    from bench.dmpd import write_bundle
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.join(dest, 'agent'))
    for name in AGENT_FILES:
        shutil.copy(os.path.join(HERE, name), os.path.join(dest, 'agent', name))
    write_bundle(os.path.join(dest, 'bundle'))
    shutil.copytree(seed, os.path.join(dest, 'seed'),
                    ignore=lambda d, names: [n for n in names if n == '__pycache__'])


def agent_argv(opts, steps):
    argv = ['python3', REMOTE_ROOT + '/agent/discovery_agent.py', '--bundle', REMOTE_ROOT + '/bundle',
            '--seed', REMOTE_ROOT + '/seed', '--seed-max', str(opts.discovery_seed_max),
            '--rounds', str(opts.rounds)]
    if opts.discovery_seed_warmup is not None:
        argv += ['--seed-warmup', str(opts.discovery_seed_warmup)]
    for n in steps:
        argv += ['--n', str(n)]
    return argv


def _on_hosts(hosts, work):
    """Run ``work(host)`` for every host at once; the first error is raised after all ended."""
    errors, results = {}, {}

    def one(host):
        try:
            results[host] = work(host)
        except Exception as error:  # pylint: disable=broad-except
            errors[host] = error
    threads = [threading.Thread(target=one, args=(h,)) for h in sorted(hosts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        host = sorted(errors)[0]
        raise RuntimeError('discovery on %s: %s' % (host, errors[host]))
    return results


def _previous():
    path = os.path.join(HERE, 'results', 'discovery.json')
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle).get('runs', {}).get(LABEL) or {}


def run(opts):
    import ansible
    from bench.stack import lab_hosts
    hosts = lab_hosts(opts.discovery_inventory, opts.discovery_hosts)
    steps = sorted(set(opts.discovery_n or DEFAULT_N))
    os.makedirs(opts.cache, exist_ok=True)
    local = tempfile.mkdtemp(prefix='sts-dm-bench-discovery-')
    try:
        stage(local, seed_tree(opts.cache))

        def send(host):
            ssh = hosts[host]['ssh']
            unpack = 'rm -rf %s && mkdir -p %s && tar -C %s -xf -' % ((shlex.quote(REMOTE_ROOT),) * 3)
            tar = subprocess.Popen(['tar', '-C', local, '-cf', '-', '.'], stdout=subprocess.PIPE)
            subprocess.run(ssh + [unpack], stdin=tar.stdout, check=True)
            tar.stdout.close()
            if tar.wait() != 0:
                raise RuntimeError('tar of the stage directory failed')
        _on_hosts(hosts, send)
    finally:
        shutil.rmtree(local, ignore_errors=True)
    argv = agent_argv(opts, steps)
    print('discovery: hosts %s; N %s; seed up to N=%d; %d timed rounds' % (
        ', '.join(sorted(hosts)), ', '.join(map(str, steps)), opts.discovery_seed_max, opts.rounds), flush=True)

    def measure(host):
        proc = subprocess.run(hosts[host]['ssh'] + [' '.join(shlex.quote(a) for a in argv)],
                              stdout=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise RuntimeError('the agent failed (rc %d); its log is above' % proc.returncode)
        result = json.loads(proc.stdout)
        result['distro'] = hosts[host]['distro']
        result['agent_argv'] = argv
        return result
    measured = _on_hosts(hosts, measure)
    previous = _previous().get('hosts', {})
    for host, result in measured.items():
        kept = [dict(s, kept_from=previous[host].get('facts', {}).get('date'))
                for s in previous.get(host, {}).get('steps', []) if s['n'] not in steps]
        result['steps'] = sorted(result['steps'] + kept, key=lambda s: s['n'])
    return [(LABEL, dict(facts=_measure.facts(sys.executable), ansible_core=ansible.__version__,
                         hosts=measured, finished=time.strftime('%Y-%m-%dT%H:%M:%S%z')))]


# --- figures ---------------------------------------------------------------------------------------

def _rows(step):
    return _measure.timed_rounds(step['rounds'])


def _floor(row):
    return sum(row[name]['wall_s'] for name in FLOOR)


def series_value(row, name):
    """One round's time of a series (the floor is the sum of its three commands)."""
    if name == 'floor':
        return _floor(row)
    return row[name]['wall_s'] if name in row else None


def step_figures(step):
    rows = _rows(step)
    out = dict(n=step['n'])
    for name, _title, _color, _marker in SERIES:
        values = [series_value(r, name) for r in rows]
        if values and None not in values:
            out[name] = _measure.summary(values)
    out['pass'] = _measure.summary(r['pass']['wall_s'] for r in rows)
    if all('import' in r for r in rows):
        out['import'] = _measure.summary(r['import']['wall_s'] for r in rows)
    out['parse'] = _measure.summary(r['inproc']['parse_s'] for r in rows)
    out['inproc_ratio'] = _measure.summary(r['inproc']['wall_s'] / _floor(r) for r in rows)
    out['module_ratio'] = _measure.summary(r['module']['wall_s'] / (MODULE_GOAL * _floor(r) + r['pass']['wall_s'])
                                           for r in rows)
    if 'seed' in out:
        out['seed_ratio'] = _measure.summary(r['seed']['wall_s'] / r['module']['wall_s'] for r in rows)
        out['seed_list_ratio'] = _measure.summary(r['seed']['list_s'] / r['module']['wall_s'] for r in rows)
    return out


def evaluate(run):
    rows = []
    for host in sorted(run['hosts']):
        h = run['hosts'][host]
        case = '%s, %s' % (h['distro'], host)
        figs = [step_figures(s) for s in h['steps']]
        if not figs:
            continue
        worst = max(figs, key=lambda f: f['inproc_ratio']['median'])
        met = all(f['inproc_ratio']['median'] <= INPROC_GOAL for f in figs)
        rows.append(dict(goal='in process <= %gx the floor at every N' % INPROC_GOAL, case=case,
                         figure='; '.join('N=%d %.2fx (%.2f-%.2f)' % (f['n'], f['inproc_ratio']['median'],
                                                                      f['inproc_ratio']['min'], f['inproc_ratio']['max'])
                                          for f in figs),
                         met=met, why=None if met else 'N=%d: %.3f s in process vs the floor %.3f s, of which %.3f s '
                                                       'parsing' % (worst['n'], worst['inproc']['median'],
                                                                    worst['floor']['median'], worst['parse']['median'])))
        worst = max(figs, key=lambda f: f['module_ratio']['median'])
        met = all(f['module_ratio']['median'] <= 1.0 for f in figs)
        rows.append(dict(goal='whole dm_info run <= %gx the floor + one bare `python3 -c pass`' % MODULE_GOAL,
                         case=case,
                         figure='; '.join('N=%d %.2f of the bound (%.2f-%.2f)' % (
                             f['n'], f['module_ratio']['median'], f['module_ratio']['min'], f['module_ratio']['max'])
                             for f in figs),
                         met=met, why=None if met else 'N=%d: dm_info %.3f s vs %gx %.3f s + %.3f s%s' % (
                             worst['n'], worst['module']['median'], MODULE_GOAL, worst['floor']['median'],
                             worst['pass']['median'],
                             '; a bare import of ansible.module_utils.basic alone takes %.3f s there' %
                             worst['import']['median'] if 'import' in worst else '')))
        at = [f for f in figs if f['n'] == SEED_GOAL_N and 'seed' in f]
        goal = '>= %dx faster than sts-libs at N=%d' % (SEED_GOAL, SEED_GOAL_N)
        if at:
            f = at[0]
            met = f['seed_ratio']['median'] >= SEED_GOAL and f['seed_list_ratio']['median'] >= SEED_GOAL
            rows.append(dict(goal=goal, case=case,
                             figure='%.0fx (%.0f-%.0f): sts-libs %.1f s as a process (%.1f s of it listing, %.0fx) '
                                    'vs dm_info %.2f s' % (f['seed_ratio']['median'], f['seed_ratio']['min'],
                                                           f['seed_ratio']['max'], f['seed']['median'],
                                                           _measure.summary(r['seed']['list_s']
                                                                            for r in _rows(_step(h, SEED_GOAL_N)))
                                                           ['median'], f['seed_list_ratio']['median'],
                                                           f['module']['median']),
                             met=met, why=None if met else _seed_why(f)))
        else:
            rows.append(dict(goal=goal, case=case, figure='sts-libs not measured at N=%d yet' % SEED_GOAL_N, met=None))
    return rows


def _seed_why(f):
    """Why dm_info is not SEED_GOAL times faster than sts-libs: where its whole module run goes."""
    words = 'below %dx: dm_info %.2f s is a whole module process' % (SEED_GOAL, f['module']['median'])
    parts = []
    if 'import' in f:
        parts.append('a bare import of ansible.module_utils.basic takes %.2f s' % f['import']['median'])
    parts.append('the discovery itself %.2f s in process (sts-libs %.0fx slower than that)'
                 % (f['inproc']['median'], f['seed']['median'] / f['inproc']['median']))
    rest = f['module']['median'] - f['inproc']['median'] - (f['import']['median'] if 'import' in f else 0.0)
    return '%s, of which %s; the other %.2f s go to starting Python, the module around the discovery and its ' \
        'result (not measured apart)' % (words, ' and '.join(parts), rest)


def _step(h, n):
    return [s for s in h['steps'] if s['n'] == n][0]


# --- page ------------------------------------------------------------------------------------------

def _fmt(s, digits=3):
    return '%.*f [%.*f-%.*f]' % (digits, s['median'], digits, s['min'], digits, s['max'])


def _plot(run, figdir):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    hosts = sorted(run['hosts'])
    fig, axes = plt.subplots(1, len(hosts), figsize=(6.4 * len(hosts), 4.8), squeeze=False, sharey=True)
    for ax, host in zip(axes[0], hosts):
        h = run['hosts'][host]
        figs = [step_figures(s) for s in h['steps']]
        for name, title, color, marker in SERIES:
            pts = [(f['n'], f[name]) for f in figs if name in f]
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ax.errorbar(xs, [p[1]['median'] for p in pts],
                        yerr=[[p[1]['median'] - p[1]['min'] for p in pts], [p[1]['max'] - p[1]['median'] for p in pts]],
                        color=color, marker=marker, label=title, capsize=2)
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_xlabel('dm devices of the bench (N)')
        ax.set_title('%s (kernel %s)' % (h['distro'], h['facts']['kernel']))
        ax.grid(True, which='both', alpha=0.3)
    axes[0][0].set_ylabel('seconds to list every device with table and status (median, min-max)')
    axes[0][0].legend(fontsize=7, loc='upper left')
    fig.suptitle('Discovery scaling on the lab guests (software emulation, both guests at once)')
    fig.tight_layout()
    name = 'discovery-scaling.png'
    fig.savefig(os.path.join(figdir, name), dpi=90, metadata={'Software': None})
    plt.close(fig)
    return name


def _facts_rows(run):
    f = run['facts']
    out = ['| | |', '|---|---|',
           '| controller | %s CPUs, %s, %s, ansible-core %s |'
           % (f['nproc'], f['cpu_model'], f['os'], run['ansible_core'])]
    for host in sorted(run['hosts']):
        h = run['hosts'][host]
        g = h['facts']
        dm = h.get('dmsetup_version', {})
        out.append('| %s | %s, kernel %s, %s vCPUs, %.1f GiB, Python %s, dmsetup library %s, driver %s; '
                   '%d other dm devices present; measured %s |'
                   % (host, g.get('os'), g.get('kernel'), g.get('nproc'), (g.get('mem_total_kib') or 0) / 1048576.0,
                      g.get('module_python_version'), dm.get('Library version'), dm.get('Driver version'),
                      h.get('other_devices', 0), g.get('date')))
    return out


def _table(h):
    out = ['| N | floor (3 dmsetup), s | in process, s (parsing) | in process / floor | dm_info module, s | '
           'python3 -c pass, s | import basic, s | dm_info / (2 floor + pass) | sts-libs API, s | seed shell strings, s | '
           'sts-libs / dm_info |',
           '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for step in h['steps']:
        f = step_figures(step)
        r = f['inproc_ratio']
        m = f['module_ratio']
        out.append('| %d%s | %s | %s (%.3f) | %.2fx [%.2f-%.2f] | %s | %s | %s | %.2f [%.2f-%.2f] | %s | %s | %s |' % (
            step['n'], ' (earlier run)' if step.get('kept_from') else '', _fmt(f['floor']), _fmt(f['inproc']),
            f['parse']['median'], r['median'], r['min'], r['max'], _fmt(f['module']), _fmt(f['pass']),
            _fmt(f['import']) if 'import' in f else '-',
            m['median'], m['min'], m['max'], _fmt(f['seed'], 1) if 'seed' in f else '-',
            _fmt(f['shell'], 1) if 'shell' in f else '-',
            '%.0fx [%.0f-%.0f]' % (f['seed_ratio']['median'], f['seed_ratio']['min'], f['seed_ratio']['max'])
            if 'seed' in f else '-'))
    return out


def render(results, figdir, figrel):
    run = results['runs'].get(LABEL)
    if not run:
        return []
    md = ['']
    md += _facts_rows(run)
    md += ['', 'Each guest holds N linear devices of the bench (8 sectors each on one loop device) besides the '
           'ones listed as present; every command lists them all, with table and status, and every listing is '
           'checked for all N before its time is kept. Per N, in one loop, round after round: the three bare '
           'dmsetup commands of `_dm.discovery.DISCOVERY_ARGVS` (the floor is their sum), `_dm.discovery.discover` '
           'in the agent\'s process (*parsing*: its time outside the three commands), `dm_info` as a whole module '
           'process (`python3 -m ...dm_info ARGS.json` on the module bundle, byte-compiled files cached as '
           'they are after the first run), a bare `python3 -c pass` and a bare '
           '`python3 -c \'import ansible.module_utils.basic\'` (*import basic*: what every module pays before '
           'its first line of ours), then up to N=%s the seed library '
           '(sts-libs, pinned in requirements/bench-seed.txt: `DmDevice.get_all()`, `.table` and '
           '`get_status()` of each) and the seed\'s pattern without the library (one `/bin/sh -c` string per '
           'command: `dmsetup ls`, then per device `ls -l /dev/dm-* | grep`, `dmsetup table`, '
           '`dmsetup status`). Seconds, median [min-max] of the timed rounds; ratios are per round.'
           % ', '.join(sorted(set(str(h.get('seed_max')) for h in run['hosts'].values()))), '']
    for host in sorted(run['hosts']):
        h = run['hosts'][host]
        warm = sorted(set((s['n'], s.get('warmup', h.get('warmup'))) for s in h['steps']))
        md += ['### %s (%s)' % (h['distro'], host), '',
               '%d timed rounds per N; warm-up rounds per N: %s.' % (
                   h['rounds'], ', '.join('N=%d %s' % w for w in warm)), '']
        md += _table(h)
        md.append('')
    name = _plot(run, figdir)
    md += ['![Discovery time against N, log-log, per guest](%s/%s)' % (figrel, name), '']
    return md


def main():
    sys.exit('run the suite with: python -m bench.run --suite discovery')


if __name__ == '__main__':
    main()
