# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only action: run module calls sent over a Unix socket, one after another, over the
task's connection, until told to stop (tests/integration/_harness.py, ModuleServer).

Each request is one JSON line ``{"module": FQCN, "args": {...}, "check": bool, "diff": bool}``
(or ``{"stop": true}``); each answer is one JSON line, the module's result with ``_status``
(ok, failed, skipped, unreachable). The module runs exactly as a task runs it
(``_execute_module``: the AnsiballZ payload over the connection, check and diff mode from the
request); what this saves is the controller's start for every call (an ad-hoc ``ansible`` run
costs this machine ~1.4 s of CPU on top of the module's own run)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket
import traceback

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase


def _plain(value):
    """The result as plain JSON data, Ansible's internal keys left out."""
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items() if not str(k).startswith('_ansible_'))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _as_callback_sees_it(result):
    """(status, result) as a stdout callback sees a task's: ansible-core 2.19+'s unified task
    result, its callback view (error and warning summaries rendered, internal keys dropped, no
    ``failed`` key), with empty warnings and deprecations left out as the task executor does."""
    utr = None
    try:
        from ansible._internal._task import UnifiedTaskResult  # pylint: disable=import-outside-toplevel
    except ImportError:
        UnifiedTaskResult = None  # pylint: disable=invalid-name
    if UnifiedTaskResult is None:
        result = _plain(result)
        result.setdefault('changed', False)
        failed, skipped = result.pop('failed', False), result.get('skipped')
    else:
        utr = UnifiedTaskResult.from_action_result_dict(result)
        failed, skipped = utr.failed, utr.skipped
        result = _plain(utr.as_result_dict(for_callback=True))
    for key in ('warnings', 'deprecations'):
        if not result.get(key, True):
            del result[key]
    return ('failed' if failed else 'skipped' if skipped else 'ok'), result


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = False

    def _call(self, request, task_vars):
        self._task.check_mode = bool(request.get('check'))
        self._task.diff = bool(request.get('diff'))
        try:
            result = self._execute_module(module_name=request['module'], module_args=dict(request.get('args') or {}),
                                          task_vars=task_vars)
        except AnsibleConnectionFailure as error:
            return {'_status': 'unreachable', 'msg': str(error), 'unreachable': True}
        except Exception as error:  # pylint: disable=broad-except
            # the harness reports it as a failed call; the serving goes on
            return {'_status': 'failed', 'failed': True, 'msg': 'sts_it_serve: %s' % error,
                    'exception': traceback.format_exc()}
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        status, result = _as_callback_sees_it(dict(result))
        result['_status'] = status
        return result

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        served = 0
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(self._task.args['socket'])
            stream = conn.makefile('rwb')
            while True:
                line = stream.readline()
                if not line:
                    break
                request = json.loads(line)
                if request.get('stop'):
                    break
                answer = self._call(request, task_vars)
                stream.write(json.dumps(answer, sort_keys=True).encode('utf-8') + b'\n')
                stream.flush()
                served += 1
        return {'changed': False, 'served': served}
