"""dmpd_check on the metadata of a live pool through a metadata snapshot held by dm_target
(reserve_metadata_snap: true), then released (false); each step idempotent."""

from dm_helpers import MIB, mapper


def test_check_a_live_pool_through_a_reserved_metadata_snapshot(dm, prefix, area):
    meta, data, pool, thin = [prefix + x for x in ('meta', 'data', 'pool', 'thin')]
    devices = [dict(name=meta, **area.lin(0, 0, 4)), dict(name=data, **area.lin(1, 0, 64)),
               dict(name=pool, type='thin-pool', length=64 * MIB, options={
                   'metadata_dev': mapper(meta), 'data_dev': mapper(data), 'block_size': '64KiB',
                   'low_water_mark': 0}),
               dict(name=thin, type='thin', length=32 * MIB, options={'pool': mapper(pool), 'dev_id': 1})]
    dm.guest(area.zero(0, 0))
    dm.module('dm_target', devices=devices)
    dm.guest({'op': 'write', 'dev': mapper(thin), 'offset': 0, 'length': 4 * MIB, 'seed': thin})

    refused = dm.module('dmpd_check', expect_failure=True, path=mapper(meta))
    assert 'metadata_snap' in refused['msg'], refused

    reserved = dm.module('dm_target', name=pool, reserve_metadata_snap=True)
    assert reserved['changed'] is True, reserved
    assert [c[-1] for c in reserved['commands']] == ['reserve_metadata_snap'], reserved['commands']
    status = dm.module('dm_info', names=[pool])['devices'][pool]['status'][0]
    assert isinstance(status['held_metadata_root'], int), status
    assert dm.module('dm_target', name=pool, reserve_metadata_snap=True)['changed'] is False

    checked = dm.module('dmpd_check', path=mapper(meta), metadata_snap=True)
    assert checked['healthy'] is True and checked['rc'] == 0, checked
    assert checked['family'] == 'thin', checked

    released = dm.module('dm_target', name=pool, reserve_metadata_snap=False)
    assert released['changed'] is True
    assert [c[-1] for c in released['commands']] == ['release_metadata_snap'], released['commands']
    again = dm.module('dm_target', name=pool, reserve_metadata_snap=False, diff=True)
    assert again['changed'] is False, again
    status = dm.module('dm_info', names=[pool])['devices'][pool]['status'][0]
    assert status['held_metadata_root'] is None and status['needs_check'] is False, status
    dm.module('dm_target', state='absent', devices=[{'name': n} for n in (thin, pool, data, meta)])
