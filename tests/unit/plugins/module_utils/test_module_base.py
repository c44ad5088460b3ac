"""ModuleRunner's scratch directory: what a killed run left is removed by the next run, and only that."""

import os
import subprocess
import sys

from ansible_collections.sts.devicemapper.plugins.module_utils._module_base import ModuleRunner, stale_scratch


class Module(object):
    def __init__(self, tmpdir, check_mode=False):
        self.params = {}
        self.tmpdir = tmpdir
        self.check_mode = check_mode
        self._diff = False
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def layout(tmp_path, dead):
    """remote_tmp with this run's module tmpdir and a killed run's, each holding scratch."""
    remote = tmp_path / 'remote_tmp'
    mine = remote / 'ansible-moduletmp-2-bbb'
    other = remote / 'ansible-moduletmp-1-aaa'
    for d in (mine, other):
        d.mkdir(parents=True)
    paths = {
        'dead_beside': other / ('sts-dm-%d-x1' % dead),
        'dead_here': mine / ('sts-dm-%d-x2' % dead),
        'alive': other / ('sts-dm-%d-x3' % os.getppid()),
        'not_ours': other / 'sts-dm-result-x4',
        'elsewhere': remote / ('sts-dm-%d-x5' % dead),
    }
    for path in paths.values():
        path.mkdir()
        (path / 'new.xml').write_text('<superblock/>')
    (other / ('sts-dm-%d-file' % dead)).write_text('a file, not a scratch directory')
    return mine, paths


def test_stale_scratch_names_only_dead_runs_directories(tmp_path):
    dead = dead_pid()
    mine, paths = layout(tmp_path, dead)
    found = stale_scratch(str(mine))
    assert sorted(found) == sorted([(str(paths['dead_beside']), dead), (str(paths['dead_here']), dead)])


def test_stale_scratch_outside_a_module_tmpdir_looks_only_inside(tmp_path):
    dead = dead_pid()
    (tmp_path / 'ansible-moduletmp-1-aaa' / ('sts-dm-%d-x' % dead)).mkdir(parents=True)
    (tmp_path / 'plain').mkdir()
    (tmp_path / 'plain' / ('sts-dm-%d-y' % dead)).mkdir()
    assert stale_scratch(str(tmp_path / 'plain')) == [(str(tmp_path / 'plain' / ('sts-dm-%d-y' % dead)), dead)]


def test_scratch_removes_what_a_killed_run_left_and_says_so(tmp_path):
    dead = dead_pid()
    mine, paths = layout(tmp_path, dead)
    runner = ModuleRunner(Module(str(mine)))
    scratch = runner.scratch()
    assert os.path.basename(scratch).startswith('sts-dm-%d-' % os.getpid())
    assert os.path.dirname(scratch) == str(mine)
    assert not paths['dead_beside'].exists() and not paths['dead_here'].exists()
    assert paths['alive'].exists() and paths['not_ours'].exists() and paths['elsewhere'].exists()
    assert len(runner.module.warnings) == 2
    assert all('killed (pid %d)' % dead in w for w in runner.module.warnings)
    runner.cleanup()
    assert not os.path.exists(scratch)


def test_scratch_in_check_mode_removes_nothing(tmp_path):
    dead = dead_pid()
    mine, paths = layout(tmp_path, dead)
    runner = ModuleRunner(Module(str(mine), check_mode=True))
    runner.scratch()
    assert all(path.exists() for path in paths.values())
    assert runner.module.warnings == []
    runner.cleanup()
