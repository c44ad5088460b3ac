"""Bad input, refused clearly, changing nothing: the table in bad_input_cases.py, on a real kernel.

Every case is one task of one generated playbook (one ``ansible-playbook`` run for the whole
table: a TCG guest pays ~2.5 s per module run, not ~10 s per ad-hoc run). A case passes when its
task failed, no traceback reached the user (no ``exception``, no ``module_stderr``, no
"Traceback" in the message) and the message names the bad value and what was expected (the
case's needles). Before and after the table the host is photographed: this test's dm devices
(tables, inactive tables, states) and any dm device outside the tests' ``stsit-`` names, the
loop devices backed by files in the work directory, the files of the work directory (metadata
images, XML: sha256, size), the resume guard's markers and the checksums of this test's area
of both data disks (md5: 512 MiB a photograph, compared only with each other). The two
photographs must be equal.

The table's ``pure`` cases (refused from the arguments alone, before the module reads the host)
are not run here: tests/integration/args/test_pure_refusals.py runs them on the development
machine, where a module that read the host would find no device-mapper and fail in other words.
A module run costs a TCG guest ~5 s; these are the 48 cases that need a host (paths, live
devices, the tools, the roles), three of them for the 0.9 tools only. The dmpd modules' cases
(files and the tools, no kernel) are left out on a guest whose tools are the generation this
machine has (STS_DM_DMPD_COVERED=1, set by lab-test): tests/integration/args/test_dmpd_refusals.py
runs them here.

Figures (``figures:`` line): cases tried, refused as expected, tracebacks shown, host changes.
"""

import json
import os
import tempfile

import yaml

from _harness import REPO
import bad_input_check
from dm_helpers import MIB, PREFIX, mapper

DATA = os.path.join(REPO, 'tests', 'data', 'dmpd')
WORK = '/var/tmp/sts-dm-it-bad-input'


def _snapshot(dm, prefix, area_steps):
    steps = [{'op': 'devices'},
             {'op': 'run', 'argv': ['losetup', '--list', '--noheadings', '--output', 'NAME,BACK-FILE']},
             {'op': 'run', 'argv': ['find', WORK, '-printf', '%P %y %s %m\n']},
             {'op': 'run', 'argv': ['find', WORK, '-type', 'f', '-exec', 'sha256sum', '{}', '+']},
             {'op': 'run', 'argv': ['ls', '-1', '/run/sts-devicemapper/suspended']}] + area_steps
    got = dm.guest(*steps)
    devices = dict((n, d) for n, d in got[0]['devices'].items() if n.startswith(prefix) or not n.startswith(PREFIX))
    loops = sorted(line for line in got[1]['stdout'].splitlines() if WORK in line)
    return {'devices': devices, 'loops': loops,
            'files': sorted(got[2]['stdout'].splitlines()), 'sha256': sorted(got[3]['stdout'].splitlines()),
            'markers': sorted(n for n in got[4]['stdout'].split() if n.startswith(prefix) or not n.startswith(PREFIX)),
            'area': [s['md5'] for s in got[5:]]}


def _set_up(dm, prefix, area):
    for name, there in bad_input_check.WORK_XML.items():
        dm.upload(os.path.join(DATA, name), '%s/%s' % (WORK, there))
    run = bad_input_check.work_argvs(WORK, os.path.getsize(os.path.join(DATA, 'thin-small.xml')))
    keep = area.lin(0, 0, 8)
    tmeta, tdata = area.lin(0, 16, 4), area.lin(1, 0, 64)
    segment = '0 %d linear %s %d'
    dev = [
        ['dmsetup', 'create', prefix + 'keep', '--table',
         segment % (keep['length'], keep['options']['device'], keep['options']['offset'])],
        ['dmsetup', 'create', prefix + 'tmeta', '--table',
         segment % (tmeta['length'], tmeta['options']['device'], tmeta['options']['offset'])],
        ['dmsetup', 'create', prefix + 'tdata', '--table',
         segment % (tdata['length'], tdata['options']['device'], tdata['options']['offset'])],
        ['dmsetup', 'create', prefix + 'pool', '--table', '0 %d thin-pool %s %s 128 0'
         % (tdata['length'], mapper(prefix + 'tmeta'), mapper(prefix + 'tdata'))],
        ['dmsetup', 'message', prefix + 'pool', '0', 'create_thin 1'],
        ['dmsetup', 'create', prefix + 'thin1', '--table', '0 32768 thin %s 1' % mapper(prefix + 'pool')],
    ]
    steps = [{'op': 'run', 'argv': argv} for argv in run[2:]] + [area.zero(0, 16, 4)]
    steps += [{'op': 'run', 'argv': argv} for argv in dev]
    steps.append({'op': 'write', 'dev': mapper(prefix + 'thin1'), 'offset': 0, 'length': MIB, 'seed': 'bad-input'})
    dm.run(run[0])
    dm.run(run[1])
    for step, result in zip(steps, dm.guest(*steps)):
        assert result.get('rc', 0) == 0, 'set-up step %s failed: %s' % (step, result)


def test_bad_inputs_are_refused_clearly_and_change_nothing(dm, prefix, area, record_property):
    generation = dm.module('dmpd_info')['tool_generation']
    tokens = {'@P@': prefix, '@W@': WORK, '@D0@': dm.disks[0], '@D1@': dm.disks[1]}
    cases = bad_input_check.select(False, generation, tokens)
    # STS_DM_DMPD_COVERED=1 (lab-test, for the guests whose dmpd tools are the generation of the
    # development machine's): the dmpd modules' cases ran there (tests/integration/args/
    # test_dmpd_refusals.py, the same tools on files), and what they read is no kernel's
    covered = os.environ.get('STS_DM_DMPD_COVERED') == '1'
    dmpd_cases = len([c for c in cases if bad_input_check.is_dmpd(c)])
    if covered:
        cases = [c for c in cases if not bad_input_check.is_dmpd(c)]

    dm.run(['rm', '-rf', WORK])
    dm.run(['mkdir', '-p', WORK])
    try:
        _set_up(dm, prefix, area)
        # md5, not sha256: the area's 2 x 256 MiB twice cost a TCG guest ~60 s of CPU with sha256
        area_steps = [{'op': 'md5', 'dev': dev, 'offset': area.base, 'length': area.size} for dev in dm.disks]
        before = _snapshot(dm, prefix, area_steps)
        with tempfile.NamedTemporaryFile('w', suffix='.yml', prefix='sts-bad-input-', delete=False) as handle:
            yaml.safe_dump(bad_input_check.playbook(cases, dm.pattern), handle, sort_keys=False)
        try:
            run = dm.playbook(handle.name)
        finally:
            os.unlink(handle.name)
        after = _snapshot(dm, prefix, area_steps)
    finally:
        dm.guest({'op': 'cleanup', 'prefix': prefix})
        dm.run(['rm', '-rf', WORK])

    log = os.environ.get('STS_DM_BAD_INPUT_LOG')
    if log:
        bad_input_check.write_log(log, cases, run.results)
    problems, tracebacks = bad_input_check.judge(cases, run.results, run.rc)
    changes = sorted(k for k in before if before[k] != after[k])
    figures = {'cases': len(cases), 'refused_as_expected': len(cases) - len(problems), 'tracebacks': tracebacks,
               'host_changes': len(changes), 'tool_generation': generation, 'suite': 'bad input', 'host': dm.pattern,
               'dmpd_cases_run_locally': dmpd_cases if covered else 0}
    record_property('figures', json.dumps(figures, sort_keys=True))
    detail = ['%s: before %s\n  after %s' % (k, json.dumps(before[k])[:1500], json.dumps(after[k])[:1500])
              for k in changes]
    assert not problems and not changes, '\n'.join(problems + detail)
    # 48 cases read the host, 23 of them the dmpd modules'; three of those are for the 0.9 tools only
    assert len(cases) + (dmpd_cases if covered else 0) >= 45 and dmpd_cases >= 20, \
        'only %d cases selected (%d of the dmpd modules)' % (len(cases), dmpd_cases)
