# -*- coding: utf-8 -*-
"""Timing helpers shared by the suites' agents: stdlib only, Python >= 3.9.

An agent runs on the host it measures (this machine or a lab guest), so that
no transport time lands in a figure. Every command runs as its own process;
its wall time comes from ``time.perf_counter`` around fork/exec and ``os.wait4``,
which also gives that process's CPU times and ``ru_maxrss``.

Commands being compared run alternately in one loop (A B C A B C ...), each
round after an untimed ``prepare`` step, so a drift of the machine (page cache,
another job) hits every command alike.
"""

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time


class Command(object):
    """One measured command: a name, an argv, an environment, and an untimed
    ``prepare`` callable run before every repetition (e.g. remove an output).
    ``stdout_file``: where the command's standard output goes (default: discarded),
    for an agent that checks what the command printed after it is timed."""

    def __init__(self, name, argv, env=None, prepare=None, rss_file=None, stdout_file=None):
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.prepare = prepare
        self.rss_file = rss_file
        self.stdout_file = stdout_file


def run_once(cmd, cwd=None):
    """Run ``cmd`` once; wall, user and sys seconds, ru_maxrss (KiB), rc, and the
    probe's VmHWM when the command writes one to ``cmd.rss_file``."""
    if cmd.prepare:
        cmd.prepare()
    if cmd.rss_file:
        _unlink(cmd.rss_file)
    devnull = os.open(os.devnull, os.O_RDWR)
    stdout_file = getattr(cmd, 'stdout_file', None)
    out = os.open(stdout_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if stdout_file else devnull
    errfile = os.path.join(cwd or '.', '.stderr.%d' % os.getpid())
    err = os.open(errfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd.argv, stdin=devnull, stdout=out, stderr=err,
                                env=cmd.env, cwd=cwd, close_fds=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        os.close(devnull)
        os.close(err)
        if stdout_file:
            os.close(out)
    with open(errfile, 'rb') as handle:
        stderr = handle.read()[-2000:].decode('utf-8', 'replace')
    _unlink(errfile)
    sample = dict(wall_s=round(wall, 6), user_s=round(usage.ru_utime, 6), sys_s=round(usage.ru_stime, 6),
                  tree_maxrss_kib=usage.ru_maxrss, rc=proc.returncode)
    if cmd.rss_file:
        sample['self_hwm_kib'] = _read_int(cmd.rss_file)
    if proc.returncode != 0:
        sample['stderr_tail'] = stderr
    return sample


def alternate(commands, rounds, warmup=1, cwd=None, log=None):
    """Run every command once per round, in the given order, ``warmup + rounds`` times.

    Returns the rounds as a list of {name: sample}; warm-up rounds carry ``warmup: True``
    and are kept in the raw results but left out of every statistic."""
    out = []
    for index in range(warmup + rounds):
        row = dict(round=index, warmup=index < warmup)
        for cmd in commands:
            sample = run_once(cmd, cwd=cwd)
            row[cmd.name] = sample
            if sample['rc'] != 0:
                raise RuntimeError('%s failed (rc=%d): %s\n%s' % (cmd.name, sample['rc'], ' '.join(cmd.argv),
                                                                  sample.get('stderr_tail', '')))
        if log:
            log('  round %d%s: %s' % (index, ' (warm-up)' if row['warmup'] else '',
                                      '  '.join('%s %.3fs' % (c.name, row[c.name]['wall_s']) for c in commands)))
        out.append(row)
    return out


def summary(values):
    """Median, min and max of a list of numbers (the page's one statistic)."""
    values = list(values)
    return dict(median=statistics.median(values), min=min(values), max=max(values), n=len(values))


def timed_rounds(rounds):
    return [r for r in rounds if not r.get('warmup')]


def facts(python):
    """Where the figures come from: machine, kernel, OS, the Python that runs the modules, date."""
    cpu_model = None
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    cpu_model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = None
    try:
        with open('/proc/meminfo') as handle:
            mem_kib = int(re.search(r'MemTotal:\s+(\d+)', handle.read()).group(1))
    except (OSError, AttributeError):
        pass
    os_name = None
    try:
        with open('/etc/os-release') as handle:
            os_name = re.search(r'^PRETTY_NAME="?([^"\n]*)', handle.read(), re.M).group(1)
    except (OSError, AttributeError):
        pass
    py = subprocess.run([python, '-c', 'import sys, platform; print(sys.executable); '
                         'print(platform.python_version())'], stdout=subprocess.PIPE,
                        universal_newlines=True, check=True).stdout.split('\n')
    return dict(
        nproc=os.cpu_count(),
        usable_cpus=len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None,
        cpu_model=cpu_model,
        mem_total_kib=mem_kib,
        kernel=platform.release(),
        os=os_name,
        module_python=py[0],
        module_python_version=py[1],
        agent_python_version=platform.python_version(),
        date=time.strftime('%Y-%m-%dT%H:%M:%S%z'),
    )


def emit(obj, path):
    """Write the agent's JSON result to ``path``, or to stdout when ``path`` is ``-``."""
    text = json.dumps(obj, indent=1, sort_keys=True)
    if path == '-':
        sys.stdout.write(text + '\n')
    else:
        with open(path, 'w') as handle:
            handle.write(text + '\n')


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _read_int(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None
