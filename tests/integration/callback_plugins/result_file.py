# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only stdout callback: writes each host's raw task result (diff included) as JSON
into the directory named by STS_DM_RESULT_DIR.

Ad-hoc (``ansible``): one file per host, HOST.json, the result of the one task.
Playbooks (``ansible-playbook`` with STS_DM_RESULT_MODE=playbook): every task result is
appended as one JSON line to HOST.jsonl (with the task name), and the recap goes to
_stats.json ({host: {ok, changed, failures, ...}})."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: result_file
type: stdout
short_description: write raw task results as JSON files (tests only)
description:
  - Writes each host's task result, diff included, to STS_DM_RESULT_DIR/HOST.json.
  - With STS_DM_RESULT_MODE=playbook, appends every task result to STS_DM_RESULT_DIR/HOST.jsonl
    and writes the play recap to STS_DM_RESULT_DIR/_stats.json.
'''

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'result_file'

    def _playbook(self):
        return os.environ.get('STS_DM_RESULT_MODE') == 'playbook'

    def _write(self, result, status):
        data = dict(getattr(result, 'result', None) or result._result)
        data['_status'] = status
        host = result._host.get_name()
        directory = os.environ['STS_DM_RESULT_DIR']
        if self._playbook():
            data['_task'] = result._task.get_name()
            with open(os.path.join(directory, host + '.jsonl'), 'a') as handle:
                handle.write(json.dumps(data, default=str) + '\n')
            return
        with open(os.path.join(directory, host + '.json'), 'w') as handle:
            json.dump(data, handle, default=str)

    def v2_runner_on_ok(self, result):
        self._write(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, 'failed')

    def v2_runner_on_unreachable(self, result):
        self._write(result, 'unreachable')

    def v2_runner_on_skipped(self, result):
        self._write(result, 'skipped')

    def v2_playbook_on_stats(self, stats):
        if not self._playbook():
            return
        recap = dict((host, stats.summarize(host)) for host in sorted(stats.processed))
        with open(os.path.join(os.environ['STS_DM_RESULT_DIR'], '_stats.json'), 'w') as handle:
            json.dump(recap, handle)
