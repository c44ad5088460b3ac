# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module base: check mode, diff, the result and turning errors into ``fail_json``, once."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import glob
import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import DmpdError
from ansible_collections.sts.devicemapper.plugins.module_utils._host_lock import HostLock
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.resume_guard import pid_alive
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
        """This run's scratch directory (``sts-dm-PID-*`` in the module's tmpdir), made on first use.

        A run killed by SIGKILL leaves its scratch behind (no clean-up runs; with pipelining not even
        Ansible's, whose module tmpdir it is in): the first use here removes, with a warning, every
        such directory of a run that is gone, beside this one or in the other module tmpdirs next to
        this run's (not in check mode)."""
        if self._scratch is None:
            parent = getattr(self.module, 'tmpdir', None)
            if not self.check_mode:
                for path, pid in stale_scratch(parent or tempfile.gettempdir()):
                    shutil.rmtree(path, ignore_errors=True)
                    self.module.warn('removed %s, the scratch directory of an earlier run of this collection '
                                     'that was killed (pid %d)' % (path, pid))
            self._scratch = tempfile.mkdtemp(prefix='sts-dm-%d-' % os.getpid(), dir=parent)
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


SCRATCH_RE = re.compile(r'\Asts-dm-(\d+)-')


def stale_scratch(tmpdir, alive=pid_alive):
    """(path, pid) of the scratch directories of runs that are gone, in ``tmpdir`` or in the
    ``ansible-*`` directories beside it when it is one (each run of a module has a tmpdir of its
    own, ``ansible-moduletmp-*`` or ``ansible-tmp-*``, under one remote_tmp)."""
    found = []
    paths = glob.glob(os.path.join(tmpdir, 'sts-dm-*'))
    if os.path.basename(os.path.abspath(tmpdir)).startswith('ansible-'):
        paths += glob.glob(os.path.join(os.path.dirname(os.path.abspath(tmpdir)), 'ansible-*', 'sts-dm-*'))
    for path in sorted(set(paths)):
        match = SCRATCH_RE.match(os.path.basename(path))
        if match and os.path.isdir(path) and not os.path.islink(path):
            pid = int(match.group(1))
            if pid != os.getpid() and not alive(pid):
                found.append((path, pid))
    return found


def remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
