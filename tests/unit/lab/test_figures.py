"""lab/figures.py: the reliability totals lab-test prints from a dm suite log."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = os.path.join(HERE, '..', '..', '..', 'lab', 'figures.py')

LOG = '''============ 40 passed in 2000s ============
figures: dm/test_bad_input.py::test_x {"cases": 131, "refused_as_expected": 130, "tracebacks": 1, "host_changes": 2, "suite": "bad input"}
figures: dm/test_killed_run.py::test_y {"killed": 50, "left_suspended": 0, "origin_changed": 1, "suite": "killed create_snap"}
figures: dm/test_killed_modules.py::test_z {"killed": 40, "left_suspended": 2, "data_changed": 4, "trials": 44, "suite": "killed module runs"}
figures: secrets {"found": 3, "texts": 812, "suite": "key material in all output"}
'''


def run(tmp_path, text):
    log = tmp_path / 'dm.log'
    log.write_text(text)
    return subprocess.run([sys.executable, FIGURES, 'h1', str(log)], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_totals_add_up_what_the_suites_recorded(tmp_path):
    assert run(tmp_path, LOG) == (
        'reliability h1: cases tried 131, refused as expected 130, faults injected 90, devices left suspended 2, '
        'data changed by a refused input or a killed run 7, tracebacks shown 1, key material found 3, '
        'texts searched for key material 812')


def test_a_suite_that_recorded_nothing_is_not_measured_never_zero(tmp_path):
    out = run(tmp_path, LOG.splitlines()[0] + '\n' + LOG.splitlines()[4] + '\n')
    assert 'cases tried not measured' in out and 'faults injected not measured' in out
    assert 'data changed by a refused input or a killed run not measured' in out
    assert 'key material found 3' in out


def test_one_fault_suite_missing_makes_the_fault_totals_not_measured(tmp_path):
    lines = LOG.splitlines()
    out = run(tmp_path, '\n'.join(lines[:3] + lines[4:]) + '\n')
    assert 'faults injected not measured' in out and 'devices left suspended not measured' in out
    assert 'cases tried 131' in out
