"""playbooks/stack.yml (dm_target alone: a thin pool with two thin volumes and a snapshot, a
cache device and an era device, from linear carvings of the data disks) run twice: the second
run changes nothing. Then its teardown play removes everything."""

import os

from dm_helpers import MIB, SLOT

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks', 'stack.yml')
PARTS = ('tmeta', 'cmeta', 'emeta', 'corig', 'eorig', 'tdata', 'cdata', 'pool', 'thin1', 'thin2', 'snap1',
         'cache', 'era')


def recap(run, host):
    assert run.rc == 0, 'ansible-playbook rc %d\n%s\n%s' % (run.rc, run.stdout[-3000:], run.stderr[-3000:])
    failed = [r for r in run.results if r['_status'] == 'failed']
    assert not failed, failed
    return run.stats[host]


def test_stack_playbook_twice_then_teardown(dm, prefix, area):
    extra = {'stack_prefix': prefix, 'stack_offset_mib': area.base // MIB, 'stack_disks': dm.disks}
    assert area.size >= 208 * MIB and area.base % SLOT == 0
    host = dm.pattern

    first = recap(dm.playbook(PLAYBOOK, extra_vars=extra), host)
    assert first['changed'] > 0 and first['failures'] == 0, first
    live = dm.devices()
    missing = [p for p in PARTS if prefix + p not in live]
    assert not missing, 'the playbook did not build %s' % missing
    assert live[prefix + 'snap1']['table'][0].endswith(' 3'), live[prefix + 'snap1']

    second_run = dm.playbook(PLAYBOOK, extra_vars=extra)
    second = recap(second_run, host)
    changed = [r['_task'] for r in second_run.results if r.get('changed')]
    assert second['changed'] == 0, 'the second run changed: %s' % changed

    info = dm.module('dm_info', names=[prefix + p for p in ('pool', 'cache', 'era')])['devices']
    assert info[prefix + 'pool']['status'][0]['needs_check'] is False, info[prefix + 'pool']
    assert [info[prefix + p]['target_types'] for p in ('pool', 'cache', 'era')] == [['thin-pool'], ['cache'], ['era']]

    down = recap(dm.playbook(PLAYBOOK, extra_vars=extra, tags=['teardown']), host)
    assert down['changed'] == 1, down
    left = [n for n in dm.devices() if n.startswith(prefix)]
    assert not left, 'the teardown left %s' % left
