"""The bad-input table's ``pure`` cases (bad_input_cases.py): refused from the arguments alone,
before the module reads anything of the host, so they run here, on the development machine,
through one ``ansible-playbook`` run on localhost (connection local), not on the lab's TCG
guests (a module run costs a guest ~5 s; these are 80 of the table's 131 cases).

This machine's kernel has no device-mapper: a module that read the host before refusing would
fail here in dmsetup's or the tools' words, not with the needles of its case. Each case must
fail, show no traceback, and name the bad value and what was expected; the work directory (the
stand-in data disks, a regular file, the stacks' directory) must be byte for byte as it was.
The lab's tests/integration/dm/test_bad_input.py runs every other case on every guest.

Figures (``figures:`` line): cases tried, refused as expected, tracebacks shown, changes.
"""

import hashlib
import os
import shutil
import tempfile

import bad_input_check
from bad_input_cases import CASES
from _harness import TargetHost

PREFIX = 'stsit-pure-'


def test_pure_cases_are_refused_from_the_arguments_alone(record_property):
    marked = [c for c in CASES if c['pure']]
    assert not [c['id'] for c in marked if c['only']], 'a pure case cannot depend on the host tools generation'
    work = tempfile.mkdtemp(prefix='sts-pure-refusals-')
    try:
        disks = [os.path.join(work, 'disk%d' % i) for i in (0, 1)]
        for i, disk in enumerate(disks):
            with open(disk, 'wb') as handle:
                handle.write(hashlib.sha256(b'disk %d' % i).digest() * 32768)
        os.mkdir(os.path.join(work, 'stacks'))
        tokens = {'@P@': PREFIX, '@W@': work, '@D0@': disks[0], '@D1@': disks[1]}
        cases = bad_input_check.select(True, None, tokens)
        assert len(cases) == len(marked) >= 80, 'selected %d of %d pure cases' % (len(cases), len(marked))

        run, changes = bad_input_check.run_here(TargetHost('localhost', None), cases, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    problems = bad_input_check.conclude(cases, run, changes, record_property, suite='pure bad input', host='localhost')
    assert not problems and not changes, '\n'.join(problems + changes)
