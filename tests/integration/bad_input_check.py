"""Running and judging the bad-input table (bad_input_cases.py), shared by its two runners:
tests/integration/dm/test_bad_input.py (the cases that read the host, on every lab guest) and
tests/integration/args/test_pure_refusals.py (the ``pure`` cases, refused from the arguments
alone, on this machine)."""

import hashlib
import json
import os

import yaml

from bad_input_cases import CASES

# the XML samples (tests/data/dmpd) the host cases read, and the names they have in the work directory
WORK_XML = dict((name, name.replace('-small', '')) for name in ('thin-small.xml', 'cache-small.xml', 'era-small.xml'))


def work_argvs(work, xml_size):
    """The commands that make the work directory's files the host cases read, once the samples of
    WORK_XML are in it (``xml_size``: the thin sample's size): a directory, a regular file, blank and
    restored metadata of each family, an XML cut in half, a text that is not XML."""
    return [
        ['mkdir', '-p', work + '/dir', work + '/stacks'],
        ['truncate', '-s', '16M', work + '/regular.img', work + '/thin.meta', work + '/cache.meta', work + '/era.meta'],
        ['dd', 'if=%s/thin.xml' % work, 'of=%s/truncated.xml' % work, 'bs=1', 'count=%d' % (xml_size // 2),
         'status=none'],
        ['cp', '/etc/os-release', work + '/not-xml.xml'],
        ['thin_restore', '-i', work + '/thin.xml', '-o', work + '/thin.meta'],
        ['cache_restore', '-i', work + '/cache.xml', '-o', work + '/cache.meta'],
        ['era_restore', '-i', work + '/era.xml', '-o', work + '/era.meta'],
        ['cp', work + '/thin.meta', work + '/other.meta'],
    ]


def is_dmpd(case):
    """A case of a dmpd module (the persistent-data tools on files; no kernel)."""
    return case.get('module', '').startswith('dmpd_')


def photograph(work):
    """Every entry under work (a local directory): relative path, mode, size and sha256 of files."""
    seen = {}
    for root, dirs, files in os.walk(work):
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            stat = os.lstat(path)
            entry = [oct(stat.st_mode), stat.st_size]
            if os.path.isfile(path):
                with open(path, 'rb') as handle:
                    entry.append(hashlib.sha256(handle.read()).hexdigest())
            seen[os.path.relpath(path, work)] = entry
    return seen


def fill(value, tokens):
    """The value with every token (``@P@`` ...) replaced, through lists and dicts."""
    if isinstance(value, str):
        for key, replacement in tokens.items():
            value = value.replace(key, replacement)
        return value
    if isinstance(value, list):
        return [fill(v, tokens) for v in value]
    if isinstance(value, dict):
        return dict((k, fill(v, tokens)) for k, v in value.items())
    return value


def select(pure, generation, tokens):
    """The cases whose ``pure`` mark is ``pure`` and that apply to the tool generation, filled,
    each with its ``key`` (module or role / id); the keys are unique."""
    cases = []
    for c in CASES:
        if c['pure'] != pure or (c['only'] and c['only'] != generation):
            continue
        c = fill(dict(c), tokens)
        c['key'] = '%s/%s' % (c.get('module') or 'role ' + c['role'], c['id'])
        cases.append(c)
    keys = [c['key'] for c in cases]
    assert len(set(keys)) == len(keys), 'case ids repeat: %s' % sorted(k for k in keys if keys.count(k) > 1)
    return cases


def playbook(cases, pattern):
    """One play: a task per module case (its failure ignored), a rescued block per role case."""
    tasks = []
    for c in cases:
        if 'module' in c:
            tasks.append({'name': 'case %s' % c['key'], 'sts.devicemapper.' + c['module']: c['args'],
                          'ignore_errors': True})
            continue
        # a role stops at its first failed task: the block's rescue lets the play go on
        tasks.append({'name': 'case %s' % c['key'], 'ansible.builtin.debug': {'msg': 'role case %s' % c['key']}})
        tasks.append({'name': 'role %s' % c['key'], 'block': [
            {'name': 'include %s' % c['key'], 'ansible.builtin.include_role': {'name': 'sts.devicemapper.' + c['role']},
             'vars': c['vars']}],
            'rescue': [{'name': 'rescued %s' % c['key'], 'ansible.builtin.debug': {'msg': 'rescued'}}]})
    return [{'name': 'bad input', 'hosts': pattern, 'gather_facts': False, 'tasks': tasks}]


def outcomes(cases, results):
    """case key -> the failed result (or the first result) that belongs to it."""
    by_key, current = {}, None
    for result in results:
        task = result.get('_task', '')
        if task.startswith('case '):
            current = task[len('case '):]
            if result.get('msg', '').startswith('role case '):
                continue
            by_key[current] = result
            current = None
        elif current is not None and result['_status'] == 'failed' and current not in by_key:
            by_key[current] = result
    return dict((c['key'], by_key.get(c['key'])) for c in cases)


def judge(cases, results, rc):
    """(problems, tracebacks): a line per case that did not fail, failed with a traceback, or
    failed without every needle in its message; and how many tracebacks reached the user."""
    found = outcomes(cases, results)
    problems, tracebacks = [], 0
    for c in cases:
        result = found[c['key']]
        if result is None:
            problems.append('%s: no result (playbook rc %s)' % (c['key'], rc))
            continue
        msg = str(result.get('msg', ''))
        # ansible-core 2.19+ puts "(traceback unavailable)" in every failed result's exception
        # when tracebacks are not displayed: what counts is a Python traceback or a module crash
        shown = ' '.join(str(result.get(k, '')) for k in ('exception', 'module_stderr', 'module_stdout', 'msg'))
        traced = 'Traceback (most recent call last)' in shown or 'MODULE FAILURE' in msg
        tracebacks += traced
        if result['_status'] != 'failed':
            problems.append('%s: %s, not failed (changed %s, msg %r)' % (
                c['key'], result['_status'], result.get('changed'), msg[:300]))
        elif traced:
            problems.append('%s: a traceback reached the user: %s' % (c['key'], (result.get('exception') or msg)[-600:]))
        else:
            missing = [n for n in c['needles'] if n not in msg]
            if missing:
                problems.append('%s: the message lacks %s: %r' % (c['key'], missing, msg[:400]))
    return problems, tracebacks


def write_log(path, cases, results):
    """STS_DM_BAD_INPUT_LOG: a line per case (key, status, message)."""
    found = outcomes(cases, results)
    with open(path, 'w') as handle:
        for c in cases:
            result = found[c['key']] or {}
            handle.write('%s\t%s\t%s\n' % (c['key'], result.get('_status'), result.get('msg')))


def run_here(host, cases, work):
    """The cases as one ``ansible-playbook`` on this machine (``host``: localhost), the work directory
    photographed before and after; (the run, a line per entry of work that changed)."""
    before = photograph(work)
    path = os.path.join(work, '..', os.path.basename(work) + '.yml')
    with open(path, 'w') as handle:
        yaml.safe_dump(playbook(cases, 'localhost'), handle, sort_keys=False)
    try:
        run = host.playbook(path)
    finally:
        os.unlink(path)
    after = photograph(work)
    return run, ['%s: before %s, after %s' % (k, before.get(k), after.get(k))
                 for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


def conclude(cases, run, changes, record_property, **figures):
    """The run judged: the log (STS_DM_BAD_INPUT_LOG), the ``figures:`` line (cases tried, refused as
    expected, tracebacks shown, host changes, and ``figures``); returns the problems."""
    log = os.environ.get('STS_DM_BAD_INPUT_LOG')
    if log:
        write_log(log, cases, run.results)
    problems, tracebacks = judge(cases, run.results, run.rc)
    figures.update(cases=len(cases), refused_as_expected=len(cases) - len(problems), tracebacks=tracebacks,
                   host_changes=len(changes))
    record_property('figures', json.dumps(figures, sort_keys=True))
    return problems
