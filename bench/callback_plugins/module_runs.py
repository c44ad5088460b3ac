# -*- coding: utf-8 -*-
"""Count, per host, the task results that ran a module on the host (bench suite `stack`).

Enabled by bench/stack.py with ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=module_runs; writes one JSON document to the path in
STS_BENCH_MODULE_RUNS (nothing without it). A task result counts as a module run when its
action runs on the host: not one of the controller-side actions in CONTROLLER_ACTIONS
(set_fact, assert, debug, include_*/import_*, meta, validate_argument_spec ...), and not skipped.
Every result is kept with its start and end times, so the suite can also sum each host's
task time.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
    name: module_runs
    type: aggregate
    short_description: count the module runs on each host (bench suite stack)
    description:
      - Writes per-host task results, module-run and changed counts as JSON to $STS_BENCH_MODULE_RUNS.
    requirements:
      - enabled in ANSIBLE_CALLBACKS_ENABLED
'''

# Actions ansible runs on the controller alone: no module is sent to the host.
CONTROLLER_ACTIONS = frozenset((
    'set_fact', 'assert', 'debug', 'fail', 'meta', 'validate_argument_spec', 'add_host', 'group_by',
    'set_stats', 'pause', 'include_vars', 'include_tasks', 'import_tasks', 'include_role', 'import_role',
    'import_playbook', 'include', 'noop',
))


def short_action(action):
    """`ansible.builtin.set_fact` -> `set_fact`; `sts.devicemapper.dm_thin_stack` -> `dm_thin_stack`."""
    return (action or '').rsplit('.', 1)[-1]


def runs_module(action):
    """True when a task of this action runs a module on the host."""
    name = short_action(action)
    if not name:
        return False
    if name.startswith(('include_', 'import_')):
        return False
    return name not in CONTROLLER_ACTIONS


def summarize(results):
    """Per-host figures from result records {host, action, status, changed, start, end}:
    module_runs, changed, results, failed, task_s (sum of the host's task times), module_s."""
    hosts = {}
    for r in results:
        h = hosts.setdefault(r['host'], dict(module_runs=0, changed=0, results=0, failed=0, skipped=0,
                                             task_s=0.0, module_s=0.0, module_actions=[]))
        h['results'] += 1
        if r['status'] == 'skipped':
            h['skipped'] += 1
            continue
        if r['status'] in ('failed', 'unreachable'):
            h['failed'] += 1
        if r.get('changed'):
            h['changed'] += 1
        start, end = r.get('start'), r.get('end')
        took = max(0.0, end - start) if start is not None and end is not None else 0.0
        h['task_s'] += took
        if runs_module(r['action']):
            h['module_runs'] += 1
            h['module_s'] += took
            h['module_actions'].append(short_action(r['action']))
    for h in hosts.values():
        h['task_s'] = round(h['task_s'], 6)
        h['module_s'] = round(h['module_s'], 6)
    return hosts


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'module_runs'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = os.environ.get('STS_BENCH_MODULE_RUNS')
        self._started = {}
        self._results = []

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = time.time()

    def _add(self, result, status):
        host = result._host.get_name()
        task = result._task
        self._results.append(dict(
            host=host, task=task.get_name(), action=task.action, status=status,
            changed=bool(result._result.get('changed')) and status != 'skipped',
            start=self._started.pop((host, task._uuid), None), end=time.time()))

    def v2_runner_on_ok(self, result):
        self._add(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._add(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._add(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        if not self._path:
            return
        with open(self._path + '.tmp', 'w') as handle:
            json.dump(dict(results=self._results, hosts=summarize(self._results)), handle, indent=1, sort_keys=True)
        os.rename(self._path + '.tmp', self._path)
