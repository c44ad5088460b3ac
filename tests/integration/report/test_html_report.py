"""The fleet report's HTML page, checked in headless Chromium against the JSON beside it.

The page comes from a real ansible-playbook run of playbooks/report.yml, after a play that sets
the facts of fixtures/fleet-report.json on its hosts (distribution and kernel as fact gathering
caches them, the stacks' reports as the roles set them), with the work tree as the collection;
and straight from the filter on the fixture.
Whatever hosts the fixture has are the hosts checked.

Chromium missing: skipped, unless STS_REQUIRE_CHROMIUM is set (then a failure).
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import html_report_check
from html_report_check import ReportMismatch, check_report

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
FIXTURE = os.path.join(HERE, 'fixtures', 'fleet-report.json')
STACK_FACTS = {'thin': 'thin_stack_report', 'cache': 'cache_stack_report', 'era': 'era_stack_report'}


@pytest.fixture(scope='session')
def chromium():
    found = html_report_check.find_chromium()
    if found:
        return found
    if os.environ.get('STS_REQUIRE_CHROMIUM'):
        pytest.fail('STS_REQUIRE_CHROMIUM is set and no chromium is installed (Debian package chromium)')
    pytest.skip('chromium is not installed (Debian package chromium); STS_REQUIRE_CHROMIUM=1 makes this a failure')


@pytest.fixture(scope='session')
def fixture_report():
    with open(FIXTURE) as handle:
        report = json.load(handle)
    assert report['hosts'], '%s has no host' % FIXTURE
    return report


def _render(report_dir, report):
    """fleet-report.json and .html in report_dir, the page straight from the filter."""
    spec = importlib.util.spec_from_file_location(
        'fleet_report_html', os.path.join(REPO, 'plugins', 'filter', 'fleet_report_html.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.makedirs(report_dir, exist_ok=True)
    with open(os.path.join(report_dir, 'fleet-report.json'), 'w') as handle:
        json.dump(report, handle, indent=4, sort_keys=True)
    with open(os.path.join(report_dir, 'fleet-report.html'), 'w', encoding='utf-8') as handle:
        handle.write(module.fleet_report_html(report))
    return report_dir


FACTS_PLAY = """
- name: The fixture's facts, set as fact gathering and the roles set them
  hosts: all
  gather_facts: false
  vars:
    row: "{{ (lookup('ansible.builtin.file', fixture) | from_json).hosts
             | selectattr('host', 'eq', inventory_hostname) | first }}"
  tasks:
    - name: Distribution and kernel, as fact gathering caches them
      ansible.builtin.set_fact:
        ansible_distribution: "{{ row.distro.split(' ', 1)[0] }}"
        ansible_distribution_version: "{{ row.distro.split(' ', 1)[1] | default('') }}"
        ansible_kernel: "{{ row.kernel }}"
        cacheable: true
      when: row.distro is not match('[?]')

    - name: The stacks' report facts
      ansible.builtin.set_fact:
        "{{ item.value }}": "{{ row[item.key] }}"
      loop: "{{ stacks | dict2items }}"
      when: row[item.key] is not none

- name: The fleet report
  ansible.builtin.import_playbook: {report}
"""


def _run_report_playbook(tmp_path, report, *extra):
    """playbooks/report.yml after a play that sets the fixture's facts; returns (report dir, output)."""
    collections = tmp_path / 'collections'
    (collections / 'ansible_collections' / 'sts').mkdir(parents=True)
    (collections / 'ansible_collections' / 'sts' / 'devicemapper').symlink_to(REPO)
    fixture = tmp_path / 'fixture.json'
    fixture.write_text(json.dumps(report))
    inventory = tmp_path / 'inventory.json'
    inventory.write_text(json.dumps({'all': {'hosts': dict(
        (row['host'], {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable})
        for row in report['hosts'])}}))
    playbook = tmp_path / 'report.yml'
    playbook.write_text('---' + FACTS_PLAY.replace('{report}', os.path.join(REPO, 'playbooks', 'report.yml')))
    out = tmp_path / 'report'
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR='1',
               ANSIBLE_STDOUT_CALLBACK='default', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCALHOST_WARNING='0')
    env.pop('ANSIBLE_CONFIG', None)
    binary = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    argv = [binary if os.path.exists(binary) else 'ansible-playbook', '-i', str(inventory), str(playbook),
            '-e', json.dumps({'sts_report_dir': str(out), 'fixture': str(fixture), 'stacks': STACK_FACTS})]
    done = subprocess.run(argv + list(extra), capture_output=True, text=True, env=env, cwd=str(tmp_path),
                          timeout=600, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return out, output


def _first(pattern, replacement):
    """Tamper: the first match of pattern replaced."""
    def tamper(text, host):
        changed, count = re.subn(pattern.replace('HOST', re.escape(host)), replacement, text, count=1)
        assert count == 1, 'nothing to tamper with: %s' % pattern
        return changed
    return tamper


def _drop(field):
    """Tamper: every element that shows field of the first host removed, its bar included."""
    def tamper(text, host):
        changed, count = re.subn(r'<(td|text|rect)[^>]*data-host="%s" data-field="%s"[^>]*>.*?</\1>'
                                 % (re.escape(host), re.escape(field)), '', text)
        assert count, 'nothing to tamper with: %s' % field
        return changed
    return tamper


def _tampered(source, target, tamper, host):
    """A copy of the report directory source with its page tampered with."""
    shutil.copytree(source, target)
    page = os.path.join(target, 'fleet-report.html')
    with open(page, encoding='utf-8') as handle:
        text = handle.read()
    with open(page, 'w', encoding='utf-8') as handle:
        handle.write(tamper(text, host))
    return target


def test_report_playbook_writes_a_page_that_shows_its_json(tmp_path, chromium, fixture_report):
    out, output = _run_report_playbook(tmp_path, fixture_report)
    assert re.search(r'localhost\s*:\s*ok=\d+\s+changed=0\s', output), output
    with open(out / 'fleet-report.json') as handle:
        written = json.load(handle)
    assert written == fixture_report
    shot = tmp_path / 'fleet-report.png'
    figures = check_report(str(out), screenshot=str(shot), chromium=chromium)
    assert set(f.host for f in figures) == set(row['host'] for row in fixture_report['hosts'])
    with open(shot, 'rb') as handle:
        head = handle.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n'
    assert int.from_bytes(head[16:20], 'big') == html_report_check.WIDTH


def test_report_playbook_in_check_mode_writes_nothing(tmp_path, fixture_report):
    out, output = _run_report_playbook(tmp_path, fixture_report, '--check')
    assert re.search(r'localhost\s*:\s*ok=\d+\s+changed=0\s', output), output
    assert not os.path.exists(out / 'fleet-report.html')


def test_filter_page_of_the_fixture_matches_it(tmp_path, chromium, fixture_report):
    figures = check_report(_render(str(tmp_path / 'report'), fixture_report), chromium=chromium)
    numbers = [f for f in figures if f.host == fixture_report['hosts'][0]['host'] and 'data-digits' in f.attrs]
    assert numbers, 'no rounded figure on the page'


@pytest.mark.parametrize('tamper, named', [
    (_first(r'(data-host="HOST" data-field="thin\.data_usage_pct"[^>]*>)[^<]+', r'\g<1>99.9%'),
     'thin.data_usage_pct'),
    (_first(r'(<td class="ok" data-host="HOST" data-field="cache\.check_healthy">)healthy', r'\g<1>NOT HEALTHY'),
     'cache.check_healthy'),
    (_first(r'(<rect [^>]*data-host="HOST" data-field="era\.changed_blocks" data-value=")\d+', r'\g<1>7'),
     'era.changed_blocks'),
    (_drop('cache.dirty_blocks'), 'cache.dirty_blocks'),
    (_first(r'data-host="HOST" data-field="kernel"', 'data-host="ghost-1" data-field="kernel"'), 'ghost-1'),
    (_first(r'</title>', '</title><link rel="stylesheet" href="https://cdn.invalid/x.css">'), 'not self-contained'),
], ids=['figure changed', 'verdict flipped', 'bar from another value', 'field left out', 'host not in the JSON',
        'stylesheet fetched'])
def test_a_page_that_disagrees_with_its_json_fails(tmp_path, chromium, fixture_report, tamper, named):
    good = _render(str(tmp_path / 'good'), fixture_report)
    bad = _tampered(good, str(tmp_path / 'bad'), tamper, fixture_report['hosts'][0]['host'])
    with pytest.raises(ReportMismatch, match=re.escape(named)):
        check_report(bad, chromium=chromium)


def test_command_line_exit_status_and_message(tmp_path, chromium, fixture_report):
    good = _render(str(tmp_path / 'good'), fixture_report)
    script = os.path.join(HERE, 'html_report_check.py')
    ok = subprocess.run([sys.executable, script, good, '--chromium', chromium], capture_output=True, text=True,
                        check=False, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert 'fleet report OK' in ok.stdout
    tamper = _first(r'(data-host="HOST" data-field="era\.current_era"[^>]*>)\d+', r'\g<1>999')
    bad = _tampered(good, str(tmp_path / 'bad'), tamper, fixture_report['hosts'][0]['host'])
    failed = subprocess.run([sys.executable, script, bad, '--chromium', chromium], capture_output=True, text=True,
                            check=False, timeout=300)
    assert failed.returncode == 1
    assert failed.stderr.startswith('MISMATCH: ') and 'era.current_era' in failed.stderr, failed.stderr
