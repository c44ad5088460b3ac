"""Several runs managing the same host at once (issue 13, item 3): RUNS ad-hoc ``dm_device`` runs
started together for the SAME device (to create it, then to remove it), against the real
kernel. The runs are serialised by the host lock: the device ends as asked, exactly one run
creates it, the others find it present and change nothing, none fails, and a run that waited
longer than its lock_timeout fails naming the holder, having touched nothing.

(Found by hand before the lock: four such runs ended with no device at all, two of them
reporting success with no change.)"""

import concurrent.futures

import pytest

# what is tested is our host lock (flock), not the kernel: lab-test runs it on one host of its run
pytestmark = pytest.mark.one_host

RUNS = 3   # each concurrent ansible run costs a TCG guest ~30 s of CPU


def _at_once(dm, calls):
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(dm.module, 'dm_device', expect_failure=None, _adhoc=True, **kw) for kw in calls]
        return [f.result() for f in futures]


def test_runs_for_the_same_device_at_once_create_it_once(dm, prefix):
    name = prefix + 'same'
    results = _at_once(dm, [dict(name=name, table=['0 2048 zero'])] * RUNS)
    failed = [r.get('msg') for r in results if r.get('failed')]
    assert not failed, failed
    assert sorted(r['changed'] for r in results) == [False] * (RUNS - 1) + [True], results
    live = dm.devices()
    assert [line.strip() for line in live[name]['table']] == ['0 2048 zero'] and live[name]['suspended'] == 'Active', live[name]

    # and the same for removing it: one run removes, the others find it gone
    results = _at_once(dm, [dict(name=name, state='absent')] * 2)
    assert not [r.get('msg') for r in results if r.get('failed')]
    assert sorted(r['changed'] for r in results) == [False, True], results
    assert name not in dm.devices()


def test_a_run_that_cannot_get_the_lock_in_time_fails_and_changes_nothing(dm, prefix):
    """A holder of the host's lock (as another run of ours would be) makes a run with
    lock_timeout=2 fail, naming it; nothing is created."""
    name = prefix + 'late'
    unit = prefix.rstrip('-') + '-holder'
    holder = ['systemd-run', '--unit', unit, '--collect', '--property', 'RuntimeMaxSec=300',
              'flock', '--exclusive', '/run/lock/sts-devicemapper.lock', 'sleep', '240']
    try:
        dm.command(*holder)
        late = dm.module('dm_device', expect_failure=True, name=name, table=['0 2048 zero'], lock_timeout=2)
        assert late['msg'].startswith('the host lock /run/lock/sts-devicemapper.lock has been held by ') \
            and 'for longer than lock_timeout=2 seconds' in late['msg'], late['msg']
        assert late['changed'] is False and 'Traceback' not in late['msg']
        assert name not in dm.devices()
    finally:
        dm.rc('systemctl', 'stop', unit)
    done = dm.module('dm_device', name=name, table=['0 2048 zero'], lock_timeout=60)
    assert done['changed'] is True
    dm.module('dm_device', name=name, state='absent')
