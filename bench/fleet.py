# -*- coding: utf-8 -*-
"""fleet suite: ``playbooks/site.yml`` on one lab host and on two at once.

Round after round, in this order: site.yml limited to the first host (``sts_site_hosts``), then
to the second, then on both at once; each converge is followed by ``playbooks/teardown.yml`` on
the same hosts, so every converge starts from nothing (the roles build their stacks on the
inventory's data disks). The module_runs callback (bench/callback_plugins) keeps every task
result with its start and end, which gives each host's task times: the page lists the ten
costliest tasks of the two-host converge (what profile_tasks shows, per host).

The fleet report site.yml writes goes under the suite's work directory, never into the
repository. A warm-up round runs first and is left out of every figure.
"""

import os
import sys
import time

from bench import _measure
from bench.stack import _distro_hosts, _fmt, _log, host_facts, lab_hosts, run_playbook

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LABEL = 'fleet'
SITE = os.path.join(REPO, 'playbooks', 'site.yml')
TEARDOWN = os.path.join(REPO, 'playbooks', 'teardown.yml')
PHASES = ('converge', 'teardown')
BOTH = 'both'
CONTROLLER = 'localhost'
TOP = 10


def add_arguments(parser):
    group = parser.add_argument_group('fleet suite')
    group.add_argument('--fleet-inventory', default=os.path.join(REPO, '.lab', 'inventory.yml'),
                       help='the lab inventory (two hosts: the suite compares one against both)')
    group.add_argument('--fleet-hosts', default='lab', help='inventory group or host pattern (two hosts)')
    group.add_argument('--fleet-warmup', type=int, default=1, help='untimed warm-up rounds before the timed ones')


def targets(hosts):
    """The host sets of one round: each host alone (sorted), then both at once."""
    return [(h, h) for h in sorted(hosts)] + [(BOTH, ','.join(sorted(hosts)))]


def _phase(inventory, playbook, limit, workdir, tag):
    argv = ['-i', inventory, playbook, '-e', 'sts_site_hosts=%s' % limit,
            '-e', 'sts_report_dir=%s' % os.path.join(workdir, 'report')]
    sample, results = run_playbook(argv, workdir, tag)
    if sample['rc'] != 0:
        raise RuntimeError('fleet: %s failed (rc=%d):\n%s' % (tag, sample['rc'], sample.get('log_tail', '')))
    return sample, results


def task_times(results):
    """{task name: {host: seconds}} of one run's callback records (skipped tasks left out)."""
    out = {}
    for r in results:
        if r['status'] == 'skipped' or r.get('start') is None or r.get('end') is None:
            continue
        took = max(0.0, r['end'] - r['start'])
        per = out.setdefault(r['task'], {})
        per[r['host']] = round(per.get(r['host'], 0.0) + took, 6)
    return out


def run(opts):
    import ansible
    if opts.rounds < 5:
        raise SystemExit('--rounds %d: every figure is the median of at least 5 runs' % opts.rounds)
    workdir = os.path.join(opts.cache, 'fleet')
    os.makedirs(workdir, exist_ok=True)
    hosts = lab_hosts(opts.fleet_inventory, opts.fleet_hosts)
    if len(hosts) != 2:
        raise SystemExit('fleet: expected two hosts in %s, found %s' % (opts.fleet_hosts, ', '.join(sorted(hosts))))
    guests = host_facts(hosts)
    _log('fleet: hosts %s; %d timed + %d warm-up rounds' % (', '.join(sorted(hosts)), opts.rounds, opts.fleet_warmup))
    _log('  clean up what an earlier run may have left')
    _phase(opts.fleet_inventory, TEARDOWN, ','.join(sorted(hosts)), workdir, 'pre-teardown')
    rounds = []
    for index in range(opts.fleet_warmup + opts.rounds):
        row = dict(round=index, warmup=index < opts.fleet_warmup, started=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
        for key, limit in targets(hosts):
            converge, results = _phase(opts.fleet_inventory, SITE, limit, workdir, 'converge-%s' % key)
            converge['tasks'] = task_times(results)
            teardown, _results = _phase(opts.fleet_inventory, TEARDOWN, limit, workdir, 'teardown-%s' % key)
            row[key] = dict(converge=converge, teardown=teardown)
        _log('  round %d%s: %s' % (index, ' (warm-up)' if row['warmup'] else '', '  '.join(
            '%s %.1fs/%.1fs' % (key, row[key]['converge']['wall_s'], row[key]['teardown']['wall_s'])
            for key, _limit in targets(hosts))))
        rounds.append(row)
    for h, after in host_facts(hosts).items():
        guests[h]['loadavg_after'] = after.get('loadavg')
    return [(LABEL, dict(rounds=rounds, hosts=dict((h, dict(distro=hosts[h]['distro'])) for h in hosts),
                         guests=guests, facts=_measure.facts(sys.executable), ansible_core=ansible.__version__,
                         rounds_timed=opts.rounds, warmup=opts.fleet_warmup,
                         order='site.yml then teardown.yml: %s' % ', then '.join(k for k, _l in targets(hosts)),
                         inventory=os.path.relpath(opts.fleet_inventory, REPO),
                         finished=time.strftime('%Y-%m-%dT%H:%M:%S%z')))]


# --- figures --------------------------------------------------------------------------------------

def figures(run):
    """Per target and phase: wall summary; the ratios both / one host, paired round by round."""
    rows = _measure.timed_rounds(run['rounds'])
    hosts = _distro_hosts(run)
    keys = list(hosts) + [BOTH]
    fig = dict(wall={}, ratio={}, module_runs={})
    for key in keys:
        for phase in PHASES:
            fig['wall'][(key, phase)] = _measure.summary(r[key][phase]['wall_s'] for r in rows)
            fig['module_runs'][(key, phase)] = sorted(set(
                h.get('module_runs') for r in rows for h in r[key][phase]['hosts'].values()))
    for h in hosts:
        for phase in PHASES:
            fig['ratio'][(h, phase)] = _measure.summary(r[BOTH][phase]['wall_s'] / r[h][phase]['wall_s'] for r in rows)
    return fig


def columns(run):
    """The hosts of the task table: the two guests, then the controller when a task ran there
    (``localhost``: the fleet report's tasks)."""
    rows = _measure.timed_rounds(run['rounds'])
    hosts = list(_distro_hosts(run))
    if any(CONTROLLER in per for r in rows for per in r[BOTH]['converge']['tasks'].values()):
        hosts.append(CONTROLLER)
    return hosts


def costliest(run, top=TOP):
    """The ``top`` tasks of the two-host converge by their median (over rounds) of the slowest host
    (the controller counted as one): [(task, {host: summary})]."""
    rows = _measure.timed_rounds(run['rounds'])
    hosts = columns(run)
    names = set()
    for r in rows:
        names.update(r[BOTH]['converge']['tasks'])
    out = []
    for name in names:
        # a host the task never ran on (the report's tasks on the guests, the stacks on the controller) has no figure
        ran = [h for h in hosts if any(h in r[BOTH]['converge']['tasks'].get(name, {}) for r in rows)]
        per = dict((h, _measure.summary(r[BOTH]['converge']['tasks'].get(name, {}).get(h, 0.0) for r in rows))
                   for h in ran)
        slowest = _measure.summary(max(r[BOTH]['converge']['tasks'].get(name, {}).values() or [0.0]) for r in rows)
        out.append((slowest['median'], name, per))
    out.sort(key=lambda x: (-x[0], x[1]))
    return [(name, per) for _m, name, per in out[:top]]


def evaluate(run):
    """The suite sets no goal (the issue asks for the ratio and the costliest tasks): no goal rows."""
    return []


def _plot(run, figdir):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig_ = figures(run)
    hosts = _distro_hosts(run)
    keys = list(hosts) + [BOTH]
    labels = ['%s alone' % run['hosts'][h]['distro'] for h in hosts] + ['both at once']
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    width = 0.38
    colors = dict(converge='#dd8452', teardown='#4c72b0')
    for j, phase in enumerate(PHASES):
        stats = [fig_['wall'][(k, phase)] for k in keys]
        xs = [i + (j - 0.5) * width for i in range(len(keys))]
        ax.bar(xs, [s['median'] for s in stats], width, color=colors[phase], label='site.yml' if phase == 'converge'
               else 'teardown.yml', yerr=[[s['median'] - s['min'] for s in stats], [s['max'] - s['median'] for s in stats]],
               capsize=3)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(labels)
    ax.set_ylabel('wall time, s (median, min-max)')
    ax.set_title('site.yml (thin, cache, era stacks) on one lab host and on two')
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = 'fleet-time.png'
    fig.savefig(os.path.join(figdir, name), dpi=90, metadata={'Software': None})
    plt.close(fig)
    return name


def render(results, figdir, figrel):
    run = results['runs'].get(LABEL)
    if not run:
        return []
    fig = figures(run)
    hosts = _distro_hosts(run)
    md = ['| | |', '|---|---|']
    f = run['facts']
    md.append('| controller | %s CPUs, %s, %s, ansible-core %s |'
              % (f['nproc'], f['cpu_model'], f['os'], run['ansible_core']))
    for h in hosts:
        g = run['guests'].get(h, {})
        md.append('| %s | %s, kernel %s, %s vCPUs, thin-provisioning-tools %s; load average %s before, %s after |'
                  % (h, g.get('os'), g.get('kernel'), g.get('nproc'), g.get('tools'), g.get('loadavg'),
                     g.get('loadavg_after')))
    md.append('| rounds | %d timed + %d warm-up (left out), finished %s; order: %s |'
              % (run['rounds_timed'], run['warmup'], run['finished'], run['order']))
    md += ['', 'Wall time of `ansible-playbook` as the controller sees it, seconds, median [min-max]; module runs '
           'per host as the callback counts them (gather_facts included).', '',
           '| hosts | site.yml | module runs per host | teardown.yml | module runs per host | two hosts / this one, site.yml |',
           '|---|---:|---:|---:|---:|---:|']
    for key in list(hosts) + [BOTH]:
        ratio = fig['ratio'].get((key, 'converge'))
        md.append('| %s | %s | %s | %s | %s | %s |' % (
            '%s alone' % run['hosts'][key]['distro'] if key != BOTH else 'both at once',
            _fmt(fig['wall'][(key, 'converge')]), '/'.join(map(str, fig['module_runs'][(key, 'converge')])),
            _fmt(fig['wall'][(key, 'teardown')]), '/'.join(map(str, fig['module_runs'][(key, 'teardown')])),
            '%.2fx [%.2f-%.2f]' % (ratio['median'], ratio['min'], ratio['max']) if ratio else '-'))
    cols = columns(run)
    md += ['', 'The %d costliest tasks of site.yml on both hosts at once (per host: that task\'s time, seconds, '
           'median [min-max] over the timed rounds; *controller*: the tasks that run on the controller, the '
           'fleet report; ordered by the slowest host):' % TOP, '',
           '| task | %s |' % ' | '.join('controller' if h == CONTROLLER else run['hosts'][h]['distro'] for h in cols),
           '|---|' + '---:|' * len(cols)]
    for name, per in costliest(run):
        md.append('| %s | %s |' % (name.replace('|', '\\|'), ' | '.join(_fmt(per[h], 2) if h in per else '-' for h in cols)))
    name = _plot(run, figdir)
    md += ['', '![site.yml and teardown.yml on one host and on two](%s/%s)' % (figrel, name), '']
    return md


def main():
    sys.exit('run the suite with: python -m bench.run --suite fleet')


if __name__ == '__main__':
    main()
