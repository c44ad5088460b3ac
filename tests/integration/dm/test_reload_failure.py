"""A reload that cannot happen fails clearly and leaves the device active with its old table and
its data, and no inactive table:

- a new table the kernel does not load (a linear over a device that does not exist);
- a new table that loads but the device does not resume with (a thin pool shorter than its
  metadata says: the pool's preresume refuses it and the kernel leaves the device suspended with
  the new table live, so the module must load the old one back and resume).
"""

from dm_helpers import MIB, mapper


def test_failed_reloads_keep_the_old_table_and_data(dm, prefix, area):
    lin, meta, data, pool, thin = [prefix + x for x in ('lin', 'meta', 'data', 'pool', 'thin')]
    disk0, a = area.at(0, 0)
    lin_table = ['0 %d linear %s %d' % (8 * MIB, disk0, a)]
    pool_item = dict(name=pool, type='thin-pool', length=64 * MIB, options={
        'metadata_dev': mapper(meta), 'data_dev': mapper(data), 'block_size': '64KiB', 'low_water_mark': 0})
    devices = [dict(name=lin, type='linear', length=8 * MIB, options={'device': disk0, 'offset': a}),
               dict(name=meta, **area.lin(0, 16, 4)), dict(name=data, **area.lin(1, 0, 64)),
               pool_item, dict(name=thin, type='thin', length=16 * MIB, options={'pool': mapper(pool), 'dev_id': 1})]
    dm.guest(area.zero(0, 16))
    dm.module('dm_target', devices=devices)
    done = dm.guest({'op': 'write', 'dev': mapper(lin), 'offset': 0, 'length': 8 * MIB, 'seed': lin},
                    {'op': 'write', 'dev': mapper(thin), 'offset': 0, 'length': 8 * MIB, 'seed': thin},
                    {'op': 'sha', 'dev': mapper(lin)}, {'op': 'sha', 'dev': mapper(thin)}, {'op': 'devices'})
    sums = [done[2]['sha256'], done[3]['sha256']]
    tables = dict((n, done[4]['devices'][n]['table']) for n in (lin, pool))

    # 1. the new table does not load: 250:250 is no device
    bad_load = dm.module('dm_device', expect_failure=True, name=lin, reload=True,
                         table=['0 %d linear 250:250 0' % (8 * MIB)])
    assert 'did not load' in bad_load['msg'] and 'No such device or address' in bad_load['msg'], bad_load
    assert 'untouched' in bad_load['msg'], bad_load

    # 2. the new table loads but the pool refuses to resume with it (32 MiB < 64 MiB in its metadata)
    bad_resume = dm.module('dm_target', expect_failure=True, **dict(pool_item, length=32 * MIB, reload=True))
    assert 'did not resume' in bad_resume['msg'], bad_resume
    assert 'previous table is live again' in bad_resume['msg'], bad_resume

    done = dm.guest({'op': 'devices'}, {'op': 'sha', 'dev': mapper(lin)}, {'op': 'sha', 'dev': mapper(thin)})
    live = done[0]['devices']
    for name in (lin, pool):
        assert live[name]['suspended'] == 'Active', live[name]
        assert live[name]['inactive_table'] == [], live[name]
        assert live[name]['table'] == tables[name], (name, live[name]['table'], tables[name])
        assert live[name]['attr'].startswith('L-') and live[name]['attr'][2] == '-', live[name]
    assert [done[1]['sha256'], done[2]['sha256']] == sums, 'the data changed'
    status = dm.module('dm_info', names=[pool])['devices'][pool]['status'][0]
    assert status['mode'] == 'rw' and status['needs_check'] is False, status
    dm.module('dm_target', state='absent', devices=[{'name': n} for n in (thin, pool, data, meta, lin)])
