# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RETURN blocks cannot use doc fragments, so modules built on the same runner repeat the entries
that runner returns. This guards the copies against drift: within each group below, an entry the
modules share says the same (description, returned, type, elements, contains); only its sample
may differ, since each module shows its own case."""

import os
import re
import sys

import pytest
import yaml

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
MODULES = os.path.join(REPO, 'plugins', 'modules')
FIELDS = ('description', 'returned', 'type', 'elements', 'contains')

# modules whose shared RETURN entries come from one runner, and which of them to compare (None: all
# the entries the modules of the group share)
GROUPS = {
    'dm_device and dm_target (DeviceRunner, DmHost)': (('dm_device', 'dm_target'), None),
    'the stack modules (StackRunner)': (('dm_thin_stack', 'dm_cache_stack', 'dm_era_stack'), ('devices', 'commands')),
}


def returns(module):
    with open(os.path.join(MODULES, module + '.py')) as handle:
        source = handle.read()
    found = re.search(r"^RETURN = r?'''(.*?)^'''", source, re.S | re.M)
    assert found, '%s has no RETURN block' % module
    return yaml.safe_load(found.group(1)) or {}


@pytest.mark.parametrize('group', sorted(GROUPS))
def test_shared_return_entries_say_the_same(group):
    modules, keys = GROUPS[group]
    docs = dict((m, returns(m)) for m in modules)
    shared = set.intersection(*[set(d) for d in docs.values()])
    if keys is not None:
        missing = sorted(set(keys) - shared)
        assert not missing, '%s: not returned by every module of the group: %s' % (group, ', '.join(missing))
        shared = set(keys)
    assert shared, '%s: no shared entry to compare' % group
    drift = []
    for key in sorted(shared):
        for field in FIELDS:
            seen = dict((m, docs[m][key].get(field)) for m in modules)
            if len(set(repr(v) for v in seen.values())) > 1:
                drift.append('%s.%s: %s' % (key, field, '; '.join('%s says %r' % mv for mv in sorted(seen.items()))))
    assert not drift, '\n'.join(drift)


def test_the_guard_sees_drift(monkeypatch):
    real = returns

    def drifted(module):
        docs = real(module)
        if module == 'dm_target':
            docs['after'] = dict(docs['after'], returned='never')
        return docs

    monkeypatch.setattr(sys.modules[__name__], 'returns', drifted)
    with pytest.raises(AssertionError, match=r"after\.returned: dm_device says .*; dm_target says 'never'"):
        test_shared_return_entries_say_the_same('dm_device and dm_target (DeviceRunner, DmHost)')
