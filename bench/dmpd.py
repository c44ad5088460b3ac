# -*- coding: utf-8 -*-
"""dmpd suite, controller side: stage the agent and a module bundle, run the agent on
this machine or on a host over SSH, judge the goals and render the page's section.

The agent (dmpd_agent.py) does the measuring on the host it measures, so no SSH time
lands in a figure; see its docstring for what runs.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from bench import _measure

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
AGENT_FILES = ('_measure.py', 'dmpd_agent.py', 'rss_probe.py')
DEFAULT_MAPPINGS = (1000000, 10000000)
OPS = ('check', 'dump', 'restore')
RATIO_GOAL = 1.05
RSS_GOAL_KIB = 64 * 1024
# What each module runs besides the tool the bare command runs: read from _dmpd/ops.py.
EXTRA_WORK = dict(
    check='a `thin_check -V` probe, a superblock read and a scan of the loop devices for holders',
    dump='a `thin_check -V` probe, the dump written beside dest and renamed, a SHA-256 of the whole '
         'dump (and of dest when it exists) to report `changed`',
    restore='`thin_check -V` and `thin_metadata_size`; `thin_restore` into a scratch file beside dest, '
            'renamed; a `thin_check` of what was written. When dest exists (or in diff mode) also a '
            '`thin_dump` of the result and its SHA-256, to compare with a dump of what dest holds',
)
# What the runs measure: every output path is new in every run, for the tool and the module alike.
SCENARIO = ('Each run writes to a path that does not exist yet (removed, untimed, before every run): the '
            'bare tool\'s output is created at the size `thin_metadata_size` gives (thin_restore needs an '
            'existing output), the module creates its own. The modules run without diff and check mode.')
# The lab hosts `make bench` measures besides this machine (--dmpd-lab-hosts): tools 1.x live on
# Debian 13 only; Debian 12 carries the same 0.9.0 as this machine. Until a run is recorded for
# one, the page lists it as not measured yet.
DEFAULT_LAB_HOSTS = 'debian13'
PENDING_TARGETS = (('debian13', 'Debian 13 guest, thin-provisioning-tools 1.x (Rust)'),)


def add_arguments(parser):
    group = parser.add_argument_group('dmpd suite')
    group.add_argument('--mappings', type=int, action='append',
                       help='thin mappings per size, repeatable (default: 1000000 and 10000000)')
    group.add_argument('--ops', default=','.join(OPS), help='comma-separated: check, dump, restore')
    group.add_argument('--python', default='/usr/bin/python3',
                       help='the interpreter that runs the modules on the measured host')
    group.add_argument('--dmpd-lab-hosts', default=DEFAULT_LAB_HOSTS,
                       help='lab inventory group or host pattern measured too, each over SSH after this machine, '
                            'labelled by its distro (default: %s, the guest with tools 1.x; \'\': this machine '
                            'only, no lab); not with --host' % DEFAULT_LAB_HOSTS)
    group.add_argument('--dmpd-inventory', default=os.path.join(REPO, '.lab', 'inventory.yml'),
                       help='the lab inventory --dmpd-lab-hosts is read from (hosts, SSH options)')
    group.add_argument('--host', help='SSH destination to measure instead of this machine and the lab (e.g. any '
                                      'host with the tools)')
    group.add_argument('--ssh', default='ssh -o BatchMode=yes',
                       help='SSH command (with options such as -p PORT -i KEY) for --host')
    group.add_argument('--label', help='name of this run in the results (default: local, or the host)')
    group.add_argument('--remote-cache', default='/var/tmp/sts-dm-bench',
                       help='cache directory on --host for generated metadata')


def _copy_py_tree(src, dest):
    shutil.copytree(src, dest, ignore=lambda d, names: [n for n in names if n == '__pycache__'
                                                        or n.endswith(('.pyc', '.pyo'))])


def stage(dest):
    """The agent and a module bundle (``write_bundle``) in dest/agent and dest/bundle."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.join(dest, 'agent'))
    for name in AGENT_FILES:
        shutil.copy(os.path.join(HERE, name), os.path.join(dest, 'agent', name))
    write_bundle(os.path.join(dest, 'bundle'))


def write_bundle(bundle):
    """What a module needs on a host without Ansible, in ``bundle``: the controller's
    ansible/module_utils with the same package stubs AnsiballZ writes, and the collection's
    plugins as ansible_collections (``python3 MODULE.py ARGS.json`` with PYTHONPATH=bundle)."""
    import ansible
    import ansible.module_utils
    _copy_py_tree(os.path.dirname(ansible.module_utils.__file__), os.path.join(bundle, 'ansible', 'module_utils'))
    stub = 'from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n'
    with open(os.path.join(bundle, 'ansible', '__init__.py'), 'w') as handle:
        handle.write(stub + '__version__ = %r\n' % ansible.__version__)
    with open(os.path.join(bundle, 'ansible', 'module_utils', '__init__.py'), 'w') as handle:
        handle.write(stub)
    collection = os.path.join(bundle, 'ansible_collections', 'sts', 'devicemapper', 'plugins')
    for sub in ('modules', 'module_utils'):
        _copy_py_tree(os.path.join(REPO, 'plugins', sub), os.path.join(collection, sub))


def _agent_args(opts, root, cache):
    args = ['--bundle', root + '/bundle', '--cache', cache, '--ops', opts.ops, '--rounds', str(opts.rounds),
            '--python', opts.python]
    for n in opts.mappings or DEFAULT_MAPPINGS:
        args += ['--mappings', str(n)]
    return args


def needs_lab(opts):
    """Whether this run measures lab guests (``make bench`` brings the lab up for it)."""
    return not opts.host and bool(opts.dmpd_lab_hosts)


def lab_targets(hosts):
    """[(label, host, ssh argv)] from ``stack.lab_hosts``: a host is labelled by its distro, or by its
    own name when the pattern matched more than one host of that distro."""
    distros = [h['distro'] for h in hosts.values()]
    return [(h['distro'] if distros.count(h['distro']) == 1 else name, name, h['ssh'])
            for name, h in sorted(hosts.items())]


def run(opts):
    """Run the agent on every target, yielding (label, run) for bench/results/dmpd.json as each ends
    (run.py records it before the next starts): --host alone, or this machine and then each host of
    --dmpd-lab-hosts. The lab's hosts are looked up first, so a missing lab fails before any work."""
    if opts.host:
        yield _run_remote(opts, opts.label or opts.host, opts.host, shlex.split(opts.ssh) + [opts.host])
        return
    targets = []
    if needs_lab(opts):
        from bench.stack import lab_hosts
        if not os.path.exists(opts.dmpd_inventory):
            raise SystemExit("dmpd: --dmpd-lab-hosts %s needs the lab, and its inventory %s does not exist: "
                             "make lab-up first, or pass --dmpd-lab-hosts '' to measure this machine only"
                             % (opts.dmpd_lab_hosts, opts.dmpd_inventory))
        targets = lab_targets(lab_hosts(opts.dmpd_inventory, opts.dmpd_lab_hosts))
    yield _run_local(opts, opts.label or 'local')
    for label, host, ssh in targets:
        print('bench: dmpd: measuring %s (%s)' % (host, label), flush=True)
        yield _run_remote(opts, label, host, ssh)


def _run_local(opts, label):
    root = os.path.join(opts.cache, 'stage')
    stage(root)
    argv = [opts.python, os.path.join(root, 'agent', 'dmpd_agent.py')] + _agent_args(opts, root, opts.cache)
    out = subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout
    return _result(out, label, None, argv)


def _run_remote(opts, label, host, ssh):
    """Stage the agent and bundle on host over ssh (argv ending with the destination), run it there."""
    local = tempfile.mkdtemp(prefix='sts-dm-bench-stage-')
    try:
        stage(local)
        root = opts.remote_cache + '/stage'
        unpack = 'rm -rf %s && mkdir -p %s && tar -C %s -xf -' % ((shlex.quote(root),) * 3)
        tar = subprocess.Popen(['tar', '-C', local, '-cf', '-', '.'], stdout=subprocess.PIPE)
        subprocess.run(ssh + [unpack], stdin=tar.stdout, check=True)
        tar.stdout.close()
        if tar.wait() != 0:
            raise SystemExit('dmpd: tar of the stage directory failed')
    finally:
        shutil.rmtree(local, ignore_errors=True)
    argv = [opts.python, root + '/agent/dmpd_agent.py'] + _agent_args(opts, root, opts.remote_cache)
    out = subprocess.run(ssh + [' '.join(shlex.quote(a) for a in argv)], stdout=subprocess.PIPE, check=True).stdout
    return _result(out, label, host, argv)


def _result(out, label, host, argv):
    import json
    result = json.loads(out)
    result['target'] = dict(label=label, host=host, agent_argv=argv)
    return label, result


# --- goals -------------------------------------------------------------------------------------

def _mib(kib):
    return kib / 1024.0


def _cpu(sample):
    return sample['user_s'] + sample['sys_s']


def case_figures(case):
    """Statistics of one (size, operation): every figure over the timed rounds only."""
    rounds = _measure.timed_rounds(case['rounds'])
    fig = dict((name, _measure.summary(r[name]['wall_s'] for r in rounds)) for name in ('tool', 'module', 'import'))
    fig['floor'] = _measure.summary(r['tool']['wall_s'] + r['import']['wall_s'] for r in rounds)
    # Each ratio pairs the three commands of one round, measured next to each other.
    fig['ratio'] = _measure.summary(r['module']['wall_s'] / (r['tool']['wall_s'] + r['import']['wall_s'])
                                    for r in rounds)
    # CPU time of each process and the children it waited for: steadier than wall time when other
    # work shares the machine, so shown next to it (the goals are on wall time).
    fig['cpu_ratio'] = _measure.summary(_cpu(r['module']) / (_cpu(r['tool']) + _cpu(r['import'])) for r in rounds)
    fig['extra'] = _measure.summary(r['module']['wall_s'] - r['tool']['wall_s'] - r['import']['wall_s']
                                    for r in rounds)
    fig['module_self_hwm_kib'] = _measure.summary(r['module']['self_hwm_kib'] for r in rounds)
    fig['module_tree_maxrss_kib'] = _measure.summary(r['module']['tree_maxrss_kib'] for r in rounds)
    fig['tool_maxrss_kib'] = _measure.summary(r['tool']['tree_maxrss_kib'] for r in rounds)
    fig['import_maxrss_kib'] = _measure.summary(r['import']['tree_maxrss_kib'] for r in rounds)
    return fig


def _why_slow(size, case, fig):
    """Why a module run exceeds the goal, from the figures of the same run."""
    why = 'extra %.3f s: %s' % (fig['extra']['median'], EXTRA_WORK[case['op']])
    if case['op'] == 'restore':
        checks = [c for c in size['cases'] if c['op'] == 'check']
        if checks:
            check = case_figures(checks[0])['tool']['median']
            why = ('extra %.3f s; the module verifies what it wrote with thin_check, and a bare thin_check of '
                   'this metadata took %.3f s in this run: less that, the module run would be %.2fx'
                   % (fig['extra']['median'], check, (fig['module']['median'] - check) / fig['floor']['median']))
    return why


def evaluate(run):
    """Goal rows: goal, case, figure text, met, and why when not met."""
    rows = []
    for size in run['sizes']:
        for case in size['cases']:
            fig = case_figures(case)
            where = 'dmpd_%s, %s mappings' % (case['op'], '{:,}'.format(size['mappings']))
            r = fig['ratio']
            met = r['median'] <= RATIO_GOAL
            rows.append(dict(goal='module <= (tool + import basic) x %.2f' % RATIO_GOAL, case=where,
                             figure='%.2fx (%.2f-%.2f); module %.3f s vs %.3f + %.3f s'
                                    % (r['median'], r['min'], r['max'], fig['module']['median'],
                                       fig['tool']['median'], fig['import']['median']),
                             met=met, why=None if met else _why_slow(size, case, fig)))
            h = fig['module_self_hwm_kib']
            rows.append(dict(goal='module peak RSS < 64 MiB', case=where,
                             figure='%.1f MiB (max of %d runs; median %.1f)' % (_mib(h['max']), h['n'],
                                                                                _mib(h['median'])),
                             met=h['max'] < RSS_GOAL_KIB))
    # the goals hold "at both sizes": a default size this run did not measure is said, not dropped
    measured = set(size['mappings'] for size in run['sizes'])
    for mappings in DEFAULT_MAPPINGS:
        if mappings not in measured:
            where = '%s mappings' % '{:,}'.format(mappings)
            rows += [dict(goal=goal, case=where, figure='not measured in this run (--mappings %d)' % mappings, met=None)
                     for goal in ('module <= (tool + import basic) x %.2f' % RATIO_GOAL, 'module peak RSS < 64 MiB')]
    return rows


# --- page ----------------------------------------------------------------------------------------

def _fmt_s(s):
    return '%.3f [%.3f-%.3f]' % (s['median'], s['min'], s['max'])


def _plot(runs, figdir):
    """Three PNGs for every run: times, ratios, peak RSS. Returns {label: [(title, file)]}."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    made = {}
    for label, run in runs:
        files = []
        sizes = run['sizes']
        colors = dict(tool='#4c72b0', floor='#8c8c8c', module='#dd8452')
        names = dict(tool='bare tool', floor='bare tool + import basic', module='module run')

        fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 4.2), squeeze=False)
        for ax, size in zip(axes[0], sizes):
            ops = [c['op'] for c in size['cases']]
            figs = [case_figures(c) for c in size['cases']]
            width = 0.26
            for k, name in enumerate(('tool', 'floor', 'module')):
                xs = [i + (k - 1) * width for i in range(len(ops))]
                med = [f[name]['median'] for f in figs]
                err = [[f[name]['median'] - f[name]['min'] for f in figs],
                       [f[name]['max'] - f[name]['median'] for f in figs]]
                ax.bar(xs, med, width, yerr=err, capsize=3, color=colors[name], label=names[name])
            ax.set_xticks(range(len(ops)))
            ax.set_xticklabels(['dmpd_%s' % op for op in ops])
            ax.set_ylabel('wall time, s (median, min-max)')
            ax.set_title('{:,} mappings'.format(size['mappings']))
            ax.grid(axis='y', alpha=0.3)
        axes[0][0].legend(loc='upper left', fontsize=8)
        fig.suptitle('dmpd modules against the bare tools (%s, tools %s)' % (label, run['tools_version']))
        fig.tight_layout()
        name = 'dmpd-%s-time.png' % label
        fig.savefig(os.path.join(figdir, name), dpi=90, metadata={'Software': None})
        plt.close(fig)
        files.append(('Wall time per operation', name))

        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        markers = ('o', 's', '^', 'D')
        for j, size in enumerate(sizes):
            figs = [case_figures(c) for c in size['cases']]
            xs = [i + (j - (len(sizes) - 1) / 2.0) * 0.18 for i in range(len(figs))]
            med = [f['ratio']['median'] for f in figs]
            err = [[f['ratio']['median'] - f['ratio']['min'] for f in figs],
                   [f['ratio']['max'] - f['ratio']['median'] for f in figs]]
            ax.errorbar(xs, med, yerr=err, fmt=markers[j % len(markers)], capsize=4,
                        label='{:,} mappings'.format(size['mappings']))
        ax.axhline(RATIO_GOAL, color='#c44e52', linestyle='--', label='goal %.2fx' % RATIO_GOAL)
        ax.set_xticks(range(len(sizes[0]['cases'])))
        ax.set_xticklabels(['dmpd_%s' % c['op'] for c in sizes[0]['cases']])
        ax.set_ylabel('module / (tool + import basic), per round')
        ax.set_title('Overhead ratio (%s, tools %s)' % (label, run['tools_version']))
        ax.grid(axis='y', alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        name = 'dmpd-%s-ratio.png' % label
        fig.savefig(os.path.join(figdir, name), dpi=90, metadata={'Software': None})
        plt.close(fig)
        files.append(('Ratio module / (tool + import basic)', name))

        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        palette = ('#4c72b0', '#dd8452', '#55a868', '#8172b3')
        for j, size in enumerate(sizes):
            figs = [case_figures(c) for c in size['cases']]
            xs = [i + (j - (len(sizes) - 1) / 2.0) * 0.18 for i in range(len(figs))]
            color = palette[j % len(palette)]
            ax.plot(xs, [_mib(f['module_self_hwm_kib']['max']) for f in figs], markers[j % len(markers)],
                    color=color, label='module process, {:,} mappings'.format(size['mappings']))
            ax.plot(xs, [_mib(f['tool_maxrss_kib']['max']) for f in figs], markers[j % len(markers)],
                    color=color, mfc='none', label='bare tool, {:,} mappings'.format(size['mappings']))
        ax.axhline(_mib(RSS_GOAL_KIB), color='#c44e52', linestyle='--', label='goal: module < 64 MiB')
        ax.set_ylim(0, max([_mib(RSS_GOAL_KIB)] + [max(line.get_ydata()) for line in ax.get_lines()]) * 1.15)
        ax.set_xticks(range(len(sizes[0]['cases'])))
        ax.set_xticklabels(['dmpd_%s' % c['op'] for c in sizes[0]['cases']])
        ax.set_ylabel('peak RSS, MiB (max of the runs)')
        ax.set_title('Peak resident memory (%s)' % label)
        ax.grid(axis='y', alpha=0.3, which='both')
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = 'dmpd-%s-rss.png' % label
        fig.savefig(os.path.join(figdir, name), dpi=90, metadata={'Software': None})
        plt.close(fig)
        files.append(('Peak RSS', name))
        made[label] = files
    return made


def _facts_table(run):
    f = run['facts']
    mem = '%.1f GiB' % (f['mem_total_kib'] / 1024.0 / 1024.0) if f.get('mem_total_kib') else '?'
    rows = [
        ('machine', '%s CPUs (nproc %s), %s, %s RAM' % (f['nproc'], f.get('usable_cpus'), f['cpu_model'], mem)),
        ('OS, kernel', '%s, %s' % (f['os'], f['kernel'])),
        ('thin-provisioning-tools', run['tools_version']),
        ('module Python', '%s (%s)' % (f['module_python_version'], f['module_python'])),
        ('ansible-core module_utils', run['ansible_core']),
        ('date', f['date']),
        ('load average (1 min)', '%.1f-%.1f while the cases ran (%s CPUs); other work on the machine '
                                 'shares the CPUs with every command alike' % _load_range(run, f['nproc'])),
        ('rounds', '%d timed + %d warm-up (left out), order %s' % (run['rounds'], run['warmup'],
                                                                   ' / '.join(run['order']))),
    ]
    out = ['| | |', '|---|---|']
    out += ['| %s | %s |' % row for row in rows]
    return out


def _load_range(run, nproc):
    loads = [point[0] for size in run['sizes'] for case in size['cases'] for point in case.get('loadavg', ())]
    return (min(loads), max(loads), nproc) if loads else (float('nan'), float('nan'), nproc)


def _shape_table(run):
    out = ['| mappings | single_mapping | range_mapping | devices (one a snapshot) | blocks shared by the snapshot '
           '| XML dump | binary metadata (thin_metadata_size; allocated) |',
           '|---:|---:|---:|---:|---:|---:|---:|']
    for size in run['sizes']:
        s = size['shape']
        out.append('| {:,} | {:,} | {:,} | {} | {:,} | {:.0f} MiB | {:.0f} MiB; {:.0f} MiB |'.format(
            size['mappings'], s['single_mapping'], s['range_mapping'], s['devices'], s['shared_blocks'],
            s['xml_bytes'] / 2.0 ** 20, s['metadata_bytes'] / 2.0 ** 20, s['metadata_allocated_bytes'] / 2.0 ** 20))
    return out


def _times_table(run):
    out = ['| operation | mappings | bare tool, s | import basic, s | module run, s | ratio per round '
           '| extra, s | CPU-time ratio | load avg | goal <= %.2fx |' % RATIO_GOAL,
           '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    for size in run['sizes']:
        for case in size['cases']:
            f = case_figures(case)
            r = f['ratio']
            c = f['cpu_ratio']
            load = '-'.join('%.1f' % point[0] for point in case.get('loadavg', ()))
            out.append('| dmpd_%s | {:,} | %s | %s | %s | %.2fx [%.2f-%.2f] | %.3f | %.2fx [%.2f-%.2f] | %s | %s |'
                       .format(size['mappings'])
                       % (case['op'], _fmt_s(f['tool']), _fmt_s(f['import']), _fmt_s(f['module']),
                          r['median'], r['min'], r['max'], f['extra']['median'], c['median'], c['min'], c['max'],
                          load, 'met' if r['median'] <= RATIO_GOAL else '**not met**'))
    return out


def _rss_table(run):
    out = ['| operation | mappings | module process (VmHWM) | module + its largest child (wait4) '
           '| bare tool (wait4) | import basic | goal < 64 MiB |',
           '|---|---:|---:|---:|---:|---:|---|']
    for size in run['sizes']:
        for case in size['cases']:
            f = case_figures(case)
            cells = ['%.1f' % _mib(f[k]['max']) for k in ('module_self_hwm_kib', 'module_tree_maxrss_kib',
                                                          'tool_maxrss_kib', 'import_maxrss_kib')]
            out.append('| dmpd_%s | {:,} | %s MiB | %s MiB | %s MiB | %s MiB | %s |'.format(size['mappings'])
                       % ((case['op'],) + tuple(cells)
                          + ('met' if f['module_self_hwm_kib']['max'] < RSS_GOAL_KIB else '**not met**',)))
    return out


def render(results, figdir, figrel):
    runs = sorted(results['runs'].items())
    plots = _plot(runs, figdir)
    md = []
    for label, run in runs:
        md += ['', '### %s: thin-provisioning-tools %s' % (label, run['tools_version']), '']
        md += _facts_table(run)
        md += ['', 'Generated metadata (cached outside the repository, keyed by size; the shape is described '
               'in `bench/dmpd_agent.py`):', '']
        md += _shape_table(run)
        md += ['', 'Wall time, median [min-max] of the timed rounds. *ratio per round* is module / (tool + '
               'import) of the three commands of one round; *extra* is module - tool - import; the '
               '*CPU-time ratio* is the same ratio of user + system time (each process with the children '
               'it waited for); *load avg* is the 1-minute load average when the case started and ended.', '']
        md += _times_table(run)
        md += ['', 'Peak resident memory, the largest of the timed rounds. The module process\'s own peak '
               'is its VmHWM, written at exit by `bench/rss_probe.py`, which starts the module as '
               '`python3 -m` does; `os.wait4` of the module gives the larger of its own peak and that of '
               'the tool it waited for, shown for comparison.', '']
        md += _rss_table(run)
        md += ['', SCENARIO + ' What a module run does besides the tool (from '
               '`plugins/module_utils/_dmpd/ops.py`): it starts Python, imports `ansible.module_utils.basic` '
               'and our module_utils, parses its arguments, and:', '']
        md += ['- `dmpd_%s`: %s.' % (op, EXTRA_WORK[op]) for op in OPS]
        md.append('')
        for title, name in plots[label]:
            md.append('![%s, %s](%s/%s)' % (title, label, figrel, name))
        md.append('')
    for target, what in PENDING_TARGETS:
        if target not in results['runs']:
            md += ['### %s: not measured yet' % target, '',
                   '%s needs the lab: `make bench BENCH_SUITES=dmpd` measures it after this machine '
                   '(`--dmpd-lab-hosts %s`).' % (what, target), '']
    return md


def main():
    sys.exit('run the suite with: python -m bench.run --suite dmpd')


if __name__ == '__main__':
    main()
