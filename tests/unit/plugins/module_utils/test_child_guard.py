# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dmpd tool dies with the module process that ran it (Dmpd.guard: setpriv --pdeathsig KILL).

Real processes: a module stand-in (a child Python running Dmpd with a real run_command) starts a
stand-in tool that would write for a minute, and is SIGKILLed; the tool must be gone at once.
Skipped where this machine's setpriv lacks --pdeathsig (util-linux < 2.33)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(sys.modules[Dmpd.__module__].__file__),
                                           '..', '..', '..', '..', '..'))

TOOL = textwrap.dedent('''\
    #!/bin/sh
    [ "$1" = -V ] && { echo 0.9.0; exit 0; }
    echo $$ > "$STS_TOOL_PID"
    exec sleep 60
''')

MODULE = textwrap.dedent('''\
    import os, shutil, subprocess, sys
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.tools import Dmpd
    class Module(object):
        def get_bin_path(self, name, opt_dirs=None):
            found = os.path.join(sys.argv[2], name)
            return found if os.path.exists(found) else shutil.which(name)
        def run_command(self, argv, data=None, binary_data=False):
            proc = subprocess.run(argv, input=data, capture_output=True)
            return proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    dmpd = Dmpd(Module())
    print('guard', ' '.join(dmpd.guard), flush=True)
    dmpd.run('thin_restore', input='a.xml', output='b.meta')
''')


def _pdeathsig():
    setpriv = shutil.which('setpriv')
    return setpriv and subprocess.run([setpriv, '--pdeathsig', 'KILL', '--', 'true'], check=False).returncode == 0


@pytest.mark.skipif(not _pdeathsig(), reason='no setpriv with --pdeathsig on this machine')
def test_a_tool_dies_with_the_module_that_was_killed(tmp_path):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    for name in ('thin_check', 'thin_restore'):
        (bindir / name).write_text(TOOL)
        (bindir / name).chmod(0o755)
    pid_file = tmp_path / 'tool.pid'
    module = subprocess.Popen([sys.executable, '-c', MODULE, COLLECTIONS, str(bindir)], stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, STS_TOOL_PID=str(pid_file)))
    try:
        assert module.stdout.readline().split()[1:] == [shutil.which('setpriv'), '--pdeathsig', 'KILL', '--']
        deadline = time.monotonic() + 20
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, 'the stand-in tool never started'
            time.sleep(0.05)
        tool = int(pid_file.read_text())
        os.kill(tool, 0)  # running
    finally:
        module.send_signal(signal.SIGKILL)
        module.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(tool, 0)
        except OSError:
            break
        # reap it if it became our child's orphan: a zombie still answers kill 0
        with open('/proc/%d/stat' % tool) as handle:
            if handle.read().split(') ')[1].startswith('Z'):
                break
        time.sleep(0.05)
    else:
        os.kill(tool, signal.SIGKILL)
        raise AssertionError('the tool (pid %d) outlived the killed module by 5 s' % tool)


def test_no_guard_where_setpriv_is_missing_or_lacks_the_option():
    class Module(object):
        def __init__(self, path, rc):
            self.path, self.rc, self.calls = path, rc, []

        def get_bin_path(self, name, opt_dirs=None):
            return self.path if name == 'setpriv' else None

        def run_command(self, argv, data=None, binary_data=False):
            self.calls.append(argv)
            return self.rc, '', 'setpriv: unrecognized option'

    assert Dmpd(Module(None, 0)).guard == []
    old = Module('/usr/bin/setpriv', 1)
    assert Dmpd(old).guard == [] and old.calls == [['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', 'true']]
    new = Module('/usr/bin/setpriv', 0)
    assert Dmpd(new).guard == ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--']
