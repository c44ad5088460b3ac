"""dm_message: the thin-pool actions are idempotent (an existing dev_id, an absent delete, a held
or released metadata snapshot: not changed), check mode sends nothing, a refused message fails
with the kernel's answer, and a raw target message is sent as given."""

from dm_helpers import MIB, mapper


def test_thin_pool_actions_and_raw_messages(dm, prefix, area):
    meta, data, pool = [prefix + x for x in ('meta', 'data', 'pool')]
    dm.guest(area.zero(0, 0))
    dm.module('dm_target', devices=[
        dict(name=meta, **area.lin(0, 0, 4)), dict(name=data, **area.lin(1, 0, 64)),
        dict(name=pool, type='thin-pool', length=64 * MIB, options={
            'metadata_dev': mapper(meta), 'data_dev': mapper(data), 'block_size': '64KiB', 'low_water_mark': 0})])

    def msg(check=False, expect_failure=False, **args):
        return dm.module('dm_message', check=check, expect_failure=expect_failure, name=pool, **args)

    planned = msg(check=True, action='create_thin', dev_id=5)
    assert planned['changed'] is True and not planned.get('commands'), planned
    assert msg(action='create_thin', dev_id=5)['changed'] is True
    assert msg(action='create_thin', dev_id=5)['changed'] is False
    assert msg(action='create_snap', dev_id=6, origin_id=5)['changed'] is True
    assert msg(action='create_snap', dev_id=6, origin_id=5)['changed'] is False
    refused = msg(expect_failure=True, action='create_snap', dev_id=8, origin_id=42)
    assert 'No data available' in refused['msg'], refused
    assert msg(action='delete', dev_id=6)['changed'] is True
    assert msg(action='delete', dev_id=6)['changed'] is False

    moved = msg(action='set_transaction_id', transaction_id=3)
    assert moved['changed'] is True and moved['status_after']['transaction_id'] == 3, moved
    assert msg(action='set_transaction_id', transaction_id=3)['changed'] is False

    held = msg(action='reserve_metadata_snap')
    assert held['changed'] is True and isinstance(held['status_after']['held_metadata_root'], int), held
    assert msg(action='reserve_metadata_snap')['changed'] is False
    assert msg(action='release_metadata_snap')['changed'] is True
    released = msg(action='release_metadata_snap')
    assert released['changed'] is False and released['status_after']['held_metadata_root'] is None, released

    raw = msg(target_message='create_thin 9')
    assert raw['changed'] is True and raw['sent'] is True, raw
    unknown = msg(expect_failure=True, target_message='no_such_message')
    assert 'Invalid argument' in unknown['msg'], unknown
    status = dm.module('dm_info', names=[pool])['devices'][pool]['status'][0]
    assert status['transaction_id'] == 3 and status['needs_check'] is False, status
    dm.module('dm_target', state='absent', devices=[{'name': n} for n in (pool, data, meta)])
