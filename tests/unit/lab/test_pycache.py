"""lab/pycache/sts_lab_pycache.py: the guests' bytecode cache for modules imported from a zip,
run here in a fresh Python per import (this machine's Python has the same zipimport)."""

import json
import os
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PYCACHE_DIR = os.path.join(HERE, '..', '..', '..', 'lab', 'pycache')

# a fresh interpreter: the cache installed on zipimport (as the guest's .pth does), every compile
# counted, then the payload's module imported from the zip and called
RUN = '''
import json, sys, traceback
sys.path.insert(0, sys.argv[1])
import sts_lab_pycache
sts_lab_pycache.CACHE = sys.argv[2]
compiled = []
real = sts_lab_pycache._COMPILE
sts_lab_pycache._COMPILE = lambda path, source: compiled.append(path) or real(path, source)
sys.path.insert(0, sys.argv[3])
import payload.mod
try:
    payload.mod.fail()
except ValueError:
    where = traceback.extract_tb(sys.exc_info()[2])[-1].filename
print(json.dumps({'compiled': compiled, 'answer': payload.mod.ANSWER, 'file': payload.mod.__file__,
                  'raised_in': where, 'hooked': __import__('zipimport')._compile_source.__module__ == 'sts_lab_pycache'}))
'''

SOURCE = '''ANSWER = %d


def fail():
    def inner():
        raise ValueError('from the payload')
    inner()
'''


def payload(path, answer):
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('payload/__init__.py', '')
        archive.writestr('payload/mod.py', SOURCE % answer)
    return str(path)


def run(zip_path, cache):
    proc = subprocess.run([sys.executable, '-c', RUN, PYCACHE_DIR, str(cache), zip_path],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_a_second_run_loads_what_the_first_compiled_under_its_own_archive_name(tmp_path):
    cache = tmp_path / 'cache'
    first = run(payload(tmp_path / 'run1.zip', 42), cache)
    assert first['hooked']
    # zipimport compiles a module for its file name and again for its code: the second is a hit
    assert sorted(os.path.basename(p) for p in first['compiled']) == ['__init__.py', 'mod.py']
    assert first['answer'] == 42
    assert len(os.listdir(cache)) == 2

    # the next run's payload: another archive, the same files (as every ansible module run)
    second_zip = payload(tmp_path / 'run2.zip', 42)
    second = run(second_zip, cache)
    assert second['compiled'] == []
    assert second['answer'] == 42
    assert len(os.listdir(cache)) == 2
    # the code names the archive it came from this time, nested functions included
    assert second['file'] == os.path.join(second_zip, 'payload', 'mod.py')
    assert second['raised_in'] == os.path.join(second_zip, 'payload', 'mod.py')


def test_changed_source_is_compiled_again_never_served_stale(tmp_path):
    cache = tmp_path / 'cache'
    run(payload(tmp_path / 'run1.zip', 1), cache)
    changed = run(payload(tmp_path / 'run2.zip', 2), cache)
    assert [os.path.basename(p) for p in changed['compiled']] == ['mod.py']
    assert changed['answer'] == 2
    assert len(os.listdir(cache)) == 3


def test_an_unwritable_or_broken_cache_falls_back_to_compiling(tmp_path):
    blocked = tmp_path / 'not-a-dir'
    blocked.write_text('a file where the cache directory would be')
    result = run(payload(tmp_path / 'run1.zip', 7), blocked)
    # zipimport compiles a module twice in one import (its file name, then its code): here both times
    assert result['answer'] == 7 and len(result['compiled']) == 4

    cache = tmp_path / 'cache'
    run(payload(tmp_path / 'run1.zip', 7), cache)
    for name in os.listdir(cache):
        (cache / name).write_bytes(b'not marshal data')
    result = run(payload(tmp_path / 'run2.zip', 7), cache)
    # compiled once each: the broken entries were replaced, and the second compile of the import hit
    assert result['answer'] == 7 and len(result['compiled']) == 2
