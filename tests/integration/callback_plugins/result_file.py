# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only stdout callback: writes each host's raw task result (diff included) as JSON
into the directory named by STS_DM_RESULT_DIR, one file per host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: result_file
type: stdout
short_description: write raw task results as JSON files (tests only)
description: Writes each host's task result, diff included, to STS_DM_RESULT_DIR/HOST.json.
'''

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'result_file'

    def _write(self, result, status):
        data = dict(getattr(result, 'result', None) or result._result)
        data['_status'] = status
        host = result._host.get_name()
        with open(os.path.join(os.environ['STS_DM_RESULT_DIR'], host + '.json'), 'w') as handle:
            json.dump(data, handle, default=str)

    def v2_runner_on_ok(self, result):
        self._write(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, 'failed')

    def v2_runner_on_unreachable(self, result):
        self._write(result, 'unreachable')

    def v2_runner_on_skipped(self, result):
        self._write(result, 'skipped')
