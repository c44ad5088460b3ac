# -*- coding: utf-8 -*-
"""Run benchmark suites and write their raw results to bench/results/<suite>.json.

    python -m bench.run [--suite NAME ...] [--rounds N] [suite options]
    python -m bench.run --list
    python -m bench.run --lab-needed [--suite NAME ...]

Without --suite every suite runs; a suite that is not written yet is reported as
pending and nothing is recorded for it. A results file keeps one run per label
(``local``, or the lab host a suite ran on); running again replaces that label's run.
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import time

from bench.suites import BY_NAME

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, 'results')
SCHEMA = 1


def _module(suite):
    return importlib.import_module('bench.' + suite.module)


def parser():
    p = argparse.ArgumentParser(prog='python -m bench.run', description=__doc__.split('\n', maxsplit=1)[0])
    p.add_argument('--suite', action='append', choices=list(BY_NAME), help='suite to run (repeatable; default: all)')
    p.add_argument('--list', action='store_true', help='list the suites and whether they are written')
    p.add_argument('--lab-needed', action='store_true',
                   help='print the selected suites that run on the lab, one a line, and exit')
    p.add_argument('--rounds', type=int, default=5, help='timed rounds per comparison (>= 5)')
    p.add_argument('--cache', default=os.environ.get('STS_DM_BENCH_CACHE', '/var/tmp/sts-dm-bench'),
                   help='generated inputs, kept outside the repository (env STS_DM_BENCH_CACHE)')
    for suite in BY_NAME.values():
        if suite.module:
            _module(suite).add_arguments(p)
    return p


def _git(*args):
    try:
        return subprocess.run(['git', '-C', REPO] + list(args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def record(suite, label, run):
    path = os.path.join(RESULTS, suite.name + '.json')
    results = dict(suite=suite.name, schema=SCHEMA, runs={})
    if os.path.exists(path):
        with open(path) as handle:
            old = json.load(handle)
        if old.get('schema') == SCHEMA:
            results = old
    run['controller'] = dict(commit=_git('describe', '--always', '--dirty', '--abbrev=12'),
                             argv=sys.argv[1:], finished=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
    results['runs'][label] = run
    os.makedirs(RESULTS, exist_ok=True)
    with open(path + '.tmp', 'w') as handle:
        json.dump(results, handle, indent=1, sort_keys=True)
        handle.write('\n')
    os.rename(path + '.tmp', path)
    return path


def main(argv=None):
    opts = parser().parse_args(argv)
    selected = [BY_NAME[n] for n in (opts.suite or list(BY_NAME))]
    if opts.list:
        for s in BY_NAME.values():
            print('%-10s %-8s %-5s %s' % (s.name, 'written' if s.module else 'pending',
                                          'lab' if s.needs_lab else 'local', s.title))
        return 0
    if opts.lab_needed:
        # The hook for mk/bench.mk: a written lab suite among these makes `make bench` start the lab.
        for s in selected:
            if s.module and getattr(_module(s), 'needs_lab', lambda _opts: s.needs_lab)(opts):
                print(s.name)
        return 0
    cache = os.path.realpath(opts.cache)
    if cache == REPO or cache.startswith(REPO + os.sep):
        sys.exit('--cache %s is inside the repository; generated inputs are large and never committed: '
                 'point STS_DM_BENCH_CACHE outside %s' % (opts.cache, REPO))
    if opts.rounds < 5:
        sys.exit('--rounds %d: every figure is the median of at least 5 runs' % opts.rounds)
    for s in selected:
        if not s.module:
            print('bench: %s (%s): PENDING, not written yet%s; nothing measured, nothing recorded'
                  % (s.name, s.title, ', needs the lab' if s.needs_lab else ''))
            continue
        started = time.time()
        print('bench: %s (%s): running' % (s.name, s.title), flush=True)
        for label, run in _module(s).run(opts):
            path = record(s, label, run)
            print('bench: %s: %s written in %.0f s (label %s)' % (s.name, os.path.relpath(path, REPO),
                                                                  time.time() - started, label))
    return 0


if __name__ == '__main__':
    sys.exit(main())
