"""Run the dmpd modules for real on a test host and read their JSON results.

By default the host is this machine (connection local). To run the same tests on
other hosts, e.g. the lab guests:

    STS_DM_INVENTORY=.lab/inventory.yml STS_DM_HOSTS=debian13-1 pytest tests/integration/dmpd

Every module call goes through Ansible (the shared harness in tests/integration/_harness.py:
the collection's modules through its module server, one task's module run per call, builtins
as ad-hoc ``ansible`` runs); the collection must be installed where that ansible finds it
(``make install``). The work directory and its files are set up over the shared SSH connection.
"""

import os

import pytest

from _harness import REPO, ModuleFailed, TargetHost as _HarnessHost  # noqa: F401 pylint: disable=unused-import

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(REPO, 'tests', 'data', 'dmpd')
FORGE = os.path.join(HERE, 'files', 'forge.py')
UPSTREAM_DIR = os.environ.get(
    'STS_DM_UPSTREAM_DATA',
    os.path.normpath(os.path.join(REPO, '..', 'shared', 'testdata', 'upstream-thin-metadata')))


class TargetHost(_HarnessHost):
    """The shared harness (tests/integration/_harness.py) plus the dmpd helpers."""

    def __init__(self, pattern, inventory):
        super(TargetHost, self).__init__(pattern, inventory)
        self.generation = None

    def forge(self, *args):
        self.script(FORGE, *args)


@pytest.fixture(scope='session')
def host():
    """The test host with a fresh work directory holding the sample and upstream metadata."""
    target = TargetHost(os.environ.get('STS_DM_HOSTS', 'localhost'), os.environ.get('STS_DM_INVENTORY'))
    target.workdir = target.mkdtemp('sts-dm-it-')
    try:
        version = target.module('sts.devicemapper.dmpd_info')
        target.generation = version['tool_generation']
        target.tool_version = version['tool_version']
        for name in ('thin-small.xml', 'cache-small.xml', 'era-small.xml'):
            target.put(os.path.join(DATA, name), name)
        tarball = target.put(os.path.join(UPSTREAM_DIR, 'unpacked-bin.tgz'), 'unpacked-bin.tgz')
        target.run(['tar', '-xzf', tarball, '-C', target.workdir])
        target.remove(tarball)
        yield target
    finally:
        target.close()
        target.remove(target.workdir)


@pytest.fixture
def scratch(host, request):
    """A per-test directory on the host, removed afterwards."""
    path = host.path(request.node.name.replace('[', '-').replace(']', '').replace('/', '-'))
    host.mkdir(path)
    yield path
    host.remove(path)
