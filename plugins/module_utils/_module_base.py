# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module base: check mode, diff, the result and turning errors into ``fail_json``, once."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sts.devicemapper.plugins.module_utils._dm_targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd_tools import DmpdError
from ansible_collections.sts.devicemapper.plugins.module_utils._host_lock import HostLock
from ansible_collections.sts.devicemapper.plugins.module_utils._units import SizeError


class ModuleRunner(object):
    """Base of every module's logic.

    A subclass implements ``run()``, reads ``self.params``, sets keys of
    ``self.result`` and calls ``self.set_diff()``; it raises DmpdError or DmError to fail.
    Scratch files go in ``self.scratch()``, removed whatever happens.
    A runner with ``locks = True`` changes dm state: its module gets the ``lock_timeout`` option
    (doc fragment ``sts.devicemapper.dm.LOCK``) and its run, unless in check mode, holds the
    host's lock (_host_lock).
    """

    locks = False
    LOCK_TIMEOUT = 300

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.result = dict(changed=False)
        self._scratch = None

    def run(self):
        raise NotImplementedError

    def lock(self):
        """The host lock around ``run()``; nothing for a runner that changes no dm state, or in check mode."""
        if not self.locks or self.check_mode:
            return contextlib.nullcontext()
        return HostLock(self.params['lock_timeout'], owner=getattr(self.module, '_name', ''))

    def set_diff(self, before, after):
        if self.module._diff:
            self.result['diff'] = dict(before=before, after=after)

    def scratch(self):
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix='sts-dm-', dir=getattr(self.module, 'tmpdir', None))
        return self._scratch

    def cleanup(self):
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    @classmethod
    def execute(cls, argument_spec, **module_kwargs):
        """Build the AnsibleModule, run, and exit or fail with the collected result."""
        module_kwargs.setdefault('supports_check_mode', True)
        if cls.locks:
            argument_spec = dict(argument_spec, lock_timeout=dict(type='int', default=cls.LOCK_TIMEOUT))
        module = AnsibleModule(argument_spec=argument_spec, **module_kwargs)
        runner = cls(module)
        try:
            with runner.lock():
                runner.run()
        except (DmpdError, DmError) as exc:
            runner.cleanup()
            result = dict(runner.result)
            result.update(exc.details)
            module.fail_json(msg=exc.msg, **result)
        except SizeError as exc:
            runner.cleanup()
            module.fail_json(msg=str(exc), **runner.result)
        runner.cleanup()
        # Say so explicitly: a result carrying a tool's non-zero rc (dmpd_check with
        # fail_on_error=false) would otherwise be taken for a failure.
        runner.result['failed'] = False
        module.exit_json(**runner.result)


def remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
