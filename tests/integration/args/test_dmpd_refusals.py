"""The bad-input table's dmpd cases that read the host (bad_input_cases.py: paths, XML, metadata
families, tool generations, conflicts), on this machine: the dmpd modules work on files with the
persistent-data tools and read no kernel, so this machine's tools answer them as a guest's tools of
the same generation would. One ``ansible-playbook`` run on localhost (connection local), in a work
directory laid out as tests/integration/dm/test_bad_input.py lays it out on the guests.

lab-test leaves these cases out on the guests whose tools are this generation (Debian 12: 0.9.0;
STS_DM_DMPD_COVERED); the other generation's guests (Debian 13: 1.x) run them. Each case must fail,
show no traceback, and name the bad value and what was expected; the work directory must be byte
for byte as it was.

Figures (``figures:`` line): cases tried, refused as expected, tracebacks shown, changes.
"""

import os
import shutil
import subprocess
import tempfile

import bad_input_check
from _harness import REPO, TargetHost

DATA = os.path.join(REPO, 'tests', 'data', 'dmpd')
PREFIX = 'stsit-dmpd-'


def test_dmpd_host_cases_are_refused_clearly_and_change_nothing(record_property):
    host = TargetHost('localhost', None)
    generation = host.module('sts.devicemapper.dmpd_info')['tool_generation']
    work = tempfile.mkdtemp(prefix='sts-dmpd-refusals-')
    try:
        for name, there in bad_input_check.WORK_XML.items():
            shutil.copyfile(os.path.join(DATA, name), os.path.join(work, there))
        for argv in bad_input_check.work_argvs(work, os.path.getsize(os.path.join(DATA, 'thin-small.xml'))):
            subprocess.run(argv, check=True, capture_output=True)
        # no dmpd case reaches a data disk: dmpd_trim refuses the missing metadata first
        disks = [os.path.join(work, 'no-disk-%d' % i) for i in (0, 1)]
        tokens = {'@P@': PREFIX, '@W@': work, '@D0@': disks[0], '@D1@': disks[1]}
        cases = [c for c in bad_input_check.select(False, generation, tokens) if bad_input_check.is_dmpd(c)]
        assert len(cases) >= 23, 'only %d dmpd cases selected for tools %s' % (len(cases), generation)

        run, changes = bad_input_check.run_here(host, cases, work)
    finally:
        host.close()
        shutil.rmtree(work, ignore_errors=True)

    problems = bad_input_check.conclude(cases, run, changes, record_property, suite='dmpd bad input',
                                        host='localhost', tool_generation=generation)
    assert not problems and not changes, '\n'.join(problems + changes)
