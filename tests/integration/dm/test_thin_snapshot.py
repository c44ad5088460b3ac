"""A thin snapshot taken by dm_target (snapshot_of: the origin's name) while the origin is being
written: the module suspends the active origin for create_snap and resumes it; afterwards both
are readable, nothing is suspended and the pool does not need a check."""

import json

from dm_helpers import MIB, mapper

WRITE_SECONDS = 120


def test_snapshot_of_an_origin_being_written(dm, prefix, area):
    meta, data, pool, origin, snap = [prefix + x for x in ('meta', 'data', 'pool', 'origin', 'snap')]
    unit = prefix.rstrip('-') + '-writer'
    base = [dict(name=meta, **area.lin(0, 0, 4)), dict(name=data, **area.lin(1, 0, 128)),
            dict(name=pool, type='thin-pool', length=128 * MIB, options={
                'metadata_dev': mapper(meta), 'data_dev': mapper(data), 'block_size': '64KiB',
                'low_water_mark': 0}),
            dict(name=origin, type='thin', length=64 * MIB, options={'pool': mapper(pool), 'dev_id': 1})]
    snapshot = dict(name=snap, type='thin', length=64 * MIB, options={'pool': mapper(pool), 'dev_id': 2},
                    snapshot_of=origin)
    # a writer that rewrites the first 16 MiB of the origin again and again for WRITE_SECONDS (so
    # the pool never fills), however fast the guest's disk is: it must still be writing when the
    # snapshot is taken and when it is looked at afterwards
    step = {'op': 'write', 'dev': mapper(origin), 'offset': 0, 'length': 16 * MIB, 'seed': 'w',
            'seconds': WRITE_SECONDS}
    writer = ['systemd-run', '--unit', unit, '--collect', '--property', 'RuntimeMaxSec=%d' % (WRITE_SECONDS + 60),
              'python3', dm.helper, json.dumps([step])]
    try:
        dm.guest(area.zero(0, 0))
        dm.module('dm_target', devices=base)
        dm.command(*writer)
        taken = dm.module('dm_target', **snapshot)
        done = dm.guest({'op': 'run', 'argv': ['systemctl', 'is-active', unit]},
                        {'op': 'run', 'argv': ['systemctl', 'stop', unit]},
                        {'op': 'sha', 'dev': mapper(origin)}, {'op': 'sha', 'dev': mapper(snap)},
                        {'op': 'devices'})
        if done[0]['stdout'].strip() != 'active':
            journal = dm.command('journalctl', '--no-pager', '-n', '30', '-u', unit)['stdout']
            raise AssertionError('the writer had stopped before the snapshot was looked at: %s\n%s' % (done[0], journal))
        assert taken['changed'] is True and taken['thin_created'] == [2], taken
        verbs = [c[1] for c in taken['commands']]
        assert verbs == ['suspend', 'message', 'resume', 'create'], taken['commands']
        assert taken['commands'][0][-1] == origin and taken['commands'][2][-1] == origin, taken['commands']
        assert taken['commands'][1][-2:] == ['2', '1'], taken['commands']
        live = done[4]['devices']
        assert live[origin]['suspended'] == 'Active' and live[snap]['suspended'] == 'Active', (live[origin], live[snap])
        assert done[2]['sha256'] and done[3]['sha256']
        status = dm.module('dm_info', names=[pool])['devices'][pool]['status'][0]
        assert status['needs_check'] is False and status['mode'] == 'rw', status

        again = dm.module('dm_target', **snapshot)
        assert again['changed'] is False and again['commands'] == [], again
        dm.module('dm_target', state='absent', devices=[{'name': n} for n in (snap, origin, pool, data, meta)])
    finally:
        dm.rc('systemctl', 'stop', unit)
