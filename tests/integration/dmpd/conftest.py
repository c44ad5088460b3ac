"""Run the dmpd modules for real on a test host and read their JSON results.

By default the host is this machine (connection local). To run the same tests on
other hosts, e.g. the lab guests:

    STS_DM_INVENTORY=.lab/inventory.yml STS_DM_HOSTS=debian13-1 pytest tests/integration/dmpd

Every module call goes through the ``ansible`` command line with ``--tree``, the
way a user runs ``ansible -m sts.devicemapper.dmpd_check`` across a fleet; the
collection must be installed where that ansible finds it (``make install``).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
DATA = os.path.join(REPO, 'tests', 'data', 'dmpd')
FORGE = os.path.join(HERE, 'files', 'forge.py')
UPSTREAM_DIR = os.environ.get(
    'STS_DM_UPSTREAM_DATA',
    os.path.normpath(os.path.join(REPO, '..', 'shared', 'testdata', 'upstream-thin-metadata')))


def _ansible_bin():
    local = os.path.join(os.path.dirname(sys.executable), 'ansible')
    return os.environ.get('STS_DM_ANSIBLE', local if os.path.exists(local) else 'ansible')


class ModuleFailed(AssertionError):
    """A module call that was expected to succeed failed; carries the result."""


class TargetHost(object):
    """One managed host, driven through ad-hoc ``ansible`` calls."""

    def __init__(self, pattern, inventory):
        self.pattern = pattern
        self.inventory = inventory
        self.workdir = None
        self.generation = None

    def _argv(self, module, args, check, diff):
        argv = [_ansible_bin(), self.pattern, '-m', module] + (['-a', json.dumps(args)] if args else [])
        if self.inventory:
            argv += ['-i', self.inventory]
        else:
            argv += ['-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=/usr/bin/python3']
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        return argv

    def module(self, name, check=False, diff=False, expect_failure=False, **args):
        """Run a module once; return its result dict.

        The test fails when the module's success or failure is not what ``expect_failure``
        says (None accepts either)."""
        module = name if '.' in name else 'sts.devicemapper.' + name
        out = tempfile.mkdtemp(prefix='sts-dm-result-')
        try:
            env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_PIPELINING='True',
                       ANSIBLE_NOCOLOR='1', ANSIBLE_DEPRECATION_WARNINGS='False',
                       ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK='result_file',
                       ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'),
                       STS_DM_RESULT_DIR=out)
            proc = subprocess.run(self._argv(module, args, check, diff), capture_output=True,
                                  text=True, env=env, timeout=900, check=False)
            files = os.listdir(out)
            if len(files) != 1:
                raise AssertionError('expected one host result from %s, got %s\nstdout: %s\nstderr: %s'
                                     % (module, files, proc.stdout, proc.stderr))
            with open(os.path.join(out, files[0])) as handle:
                result = json.load(handle)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        status = result.pop('_status')
        if status == 'unreachable':
            raise AssertionError('%s is unreachable: %s' % (self.pattern, result.get('msg')))
        failed = status == 'failed'
        if expect_failure is not None and failed != expect_failure:
            raise ModuleFailed('%s %s: expected %s, got %s' % (
                module, json.dumps(args), 'failure' if expect_failure else 'success',
                json.dumps(result, indent=1, sort_keys=True)[:4000]))
        return result

    def command(self, *argv, **kwargs):
        """Run argv on the host (never through a shell); returns the command module's result."""
        return self.module('ansible.builtin.command', expect_failure=kwargs.get('expect_failure', False),
                           argv=list(argv))

    def rc(self, *argv):
        """Exit code of argv on the host, whatever it is."""
        result = self.module('ansible.builtin.command', expect_failure=None, argv=list(argv))
        return result['rc']

    def put(self, local, name):
        """Copy a local file into the work directory; returns its path there."""
        remote = self.path(name)
        self.module('ansible.builtin.copy', src=local, dest=remote, mode='0600')
        return remote

    def path(self, name):
        return os.path.join(self.workdir, name)

    def forge(self, *args):
        self.module('ansible.builtin.script', expect_failure=False,
                    cmd='%s %s' % (FORGE, ' '.join(args)), executable='python3')

    def sha256(self, path):
        stat = self.module('ansible.builtin.stat', path=path, checksum_algorithm='sha256')['stat']
        return stat.get('checksum') if stat['exists'] else None

    def exists(self, path):
        return self.module('ansible.builtin.stat', path=path)['stat']['exists']


@pytest.fixture(scope='session')
def host():
    """The test host with a fresh work directory holding the sample and upstream metadata."""
    target = TargetHost(os.environ.get('STS_DM_HOSTS', 'localhost'), os.environ.get('STS_DM_INVENTORY'))
    target.workdir = target.module('ansible.builtin.tempfile', state='directory', prefix='sts-dm-it-')['path']
    try:
        version = target.module('sts.devicemapper.dmpd_info')
        target.generation = version['tool_generation']
        target.tool_version = version['tool_version']
        for name in ('thin-small.xml', 'cache-small.xml', 'era-small.xml'):
            target.put(os.path.join(DATA, name), name)
        target.module('ansible.builtin.unarchive', src=os.path.join(UPSTREAM_DIR, 'unpacked-bin.tgz'),
                      dest=target.workdir)
        yield target
    finally:
        target.module('ansible.builtin.file', path=target.workdir, state='absent')


@pytest.fixture
def scratch(host, request):
    """A per-test directory on the host, removed afterwards."""
    path = host.path(request.node.name.replace('[', '-').replace(']', '').replace('/', '-'))
    host.module('ansible.builtin.file', path=path, state='directory', mode='0700')
    yield path
    host.module('ansible.builtin.file', path=path, state='absent')
