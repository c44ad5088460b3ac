"""Removing a device that another device holds (a linear stacked on it): refused without force or
deferred; deferred leaves it to the kernel, which removes it when the holder goes; force is
refused too while a dm device holds it, with both tables untouched; a batch removes users before
what they use."""

from dm_helpers import MIB, mapper


def test_removal_of_a_held_device(dm, prefix, area):
    base, top = prefix + 'base', prefix + 'top'
    stack = [dict(name=base, **area.lin(0, 0, 8)),
             dict(name=top, type='linear', length=8 * MIB, options={'device': mapper(base), 'offset': 0})]
    dm.module('dm_target', devices=stack)

    refused = dm.module('dm_device', expect_failure=True, name=base, state='absent')
    assert 'in use' in refused['msg'] and top in refused['msg'], refused
    assert refused.get('holders') == [top], refused

    deferred = dm.module('dm_device', name=base, state='absent', deferred=True)
    assert deferred['changed'] is True and deferred['deferred_remove'] is True, deferred
    done = dm.guest({'op': 'run', 'argv': ['dmsetup', 'info', base]}, {'op': 'devices'})
    assert 'DEFERRED REMOVE' in done[0]['stdout'], done[0]
    assert base in done[1]['devices'], 'a deferred removal of a held device removed it at once'

    gone = dm.module('dm_device', name=top, state='absent')
    assert gone['changed'] is True
    live = dm.devices()
    assert top not in live and base not in live, 'the deferred removal did not happen when its holder went'

    # a batch removes the users first
    dm.module('dm_target', devices=stack)
    batch = dm.module('dm_device', state='absent', devices=[{'name': base}, {'name': top}], force=True)
    assert [d['name'] for d in batch['devices']] == [top, base], batch['devices']
    assert all(d['changed'] for d in batch['devices']), batch['devices']

    # force on the held device alone: refused before anything is touched (the kernel's force-remove
    # would swap an error table under the holder and still fail EBUSY)
    dm.module('dm_target', devices=stack)
    before = dm.devices()
    forced = dm.module('dm_device', expect_failure=True, name=base, state='absent', force=True)
    live = dm.devices()
    assert top in forced['msg'] and 'force cannot remove' in forced['msg'], forced
    assert forced.get('holders') == [top], forced
    assert live[base]['table'] == before[base]['table'] and live[top]['table'] == before[top]['table'], live
    dm.module('dm_device', state='absent', devices=[{'name': base}, {'name': top}], force=True)
