"""A thin pool run out of data space, on a real kernel (issue 14): with ``error_if_no_space`` a
write past the pool's end fails at once (ENOSPC) and ``dm_info`` says the pool is
``out_of_data_space`` with no_space ``error``; grown with a ``dm_target`` reload (data device, then
pool) it takes writes again; switched to queueing, a writer past its end waits (still running
while ``dm_wait`` sees the pool full and ``dm_info`` says out of space, queue), and once the pool
is grown again the queued writes complete and read back as written. Backed by a loop file on the
guest's root (no disk slot); the kernel's ``no_space_timeout`` is set to 0 (queue without a
deadline: a module run on a loaded TCG guest can take longer than its 60 s) and put back."""

import json
import time

from dm_helpers import MIB, mapper

TIMEOUT = '/sys/module/dm_thin_pool/parameters/no_space_timeout'
BLOCK = 128          # 64 KiB pool blocks


def lin(loop, start_mib, size_mib):
    return {'type': 'linear', 'length': size_mib * MIB, 'options': {'device': loop, 'offset': start_mib * MIB}}


def pool_table(meta, data, size_mib, features):
    return {'type': 'thin-pool', 'length': size_mib * MIB, 'options': {
        'metadata_dev': mapper(meta), 'data_dev': mapper(data), 'block_size': BLOCK, 'low_water_mark': 0,
        'features': features}}


def set_timeout(dm, seconds):
    dm.command('python3', '-c', 'import sys; open(sys.argv[1], "w").write(sys.argv[2])', TIMEOUT, str(seconds))


def unit_state(dm, unit):
    shown = dm.guest({'op': 'run', 'argv': ['systemctl', 'show', unit + '.service', '-p', 'ActiveState,Result']})[0]
    return dict(line.split('=', 1) for line in shown['stdout'].split())


def test_a_pool_out_of_data_space_errors_or_queues_and_takes_writes_once_grown(dm, prefix):
    meta, data, pool, thin = [prefix + x for x in ('meta', 'data', 'pool', 'thin')]
    image, copy = '/var/tmp/%sspace.img' % prefix, '/var/tmp/%sexpected.img' % prefix
    unit = prefix.rstrip('-') + '-writer'
    old_timeout = dm.command('cat', TIMEOUT)['stdout'].strip()
    dm.command('truncate', '-s', '40M', image)
    loop = dm.command('losetup', '--find', '--show', image)['stdout'].strip()
    try:
        # metadata 4 MiB at the head, data 8 MiB (128 blocks of 64 KiB) after it; a 32 MiB thin
        dm.module('dm_target', devices=[
            dict(name=meta, **lin(loop, 0, 4)), dict(name=data, **lin(loop, 4, 8)),
            dict(name=pool, **pool_table(meta, data, 8, ['error_if_no_space'])),
            dict(name=thin, type='thin', length=32 * MIB, options={'pool': mapper(pool), 'dev_id': 1},
                 create_thin=True)])

        # error_if_no_space: 12 MiB written to a pool of 8 fails at once, and the pool says why
        started = time.time()
        written = dm.guest({'op': 'run', 'argv': ['dd', 'if=/dev/zero', 'of=' + mapper(thin), 'bs=1M', 'count=12',
                                                  'oflag=direct']})[0]
        assert written['rc'] != 0 and 'No space left on device' in written['stderr'], written
        assert time.time() - started < 60, 'the write waited %.0f s: not an error at once' % (time.time() - started)
        full = dm.module('dm_info', names=[pool], kernel_facts=[])['devices'][pool]['status'][0]
        assert (full['mode'], full['out_of_data_space'], full['no_space']) == ('out_of_data_space', True, 'error'), full
        assert full['used_data_blocks'] == full['total_data_blocks'] == 128 and full['needs_check'] is False, full

        # grown to 16 MiB and switched to queueing, in one reload batch (data device before its pool)
        grown = dm.module('dm_target', devices=[dict(name=data, reload=True, **lin(loop, 4, 16)),
                                                dict(name=pool, reload=True, **pool_table(meta, data, 16, []))])
        assert [d['name'] for d in grown['devices'] if d['changed']] == [data, pool], grown['devices']
        # only this test's devices: another test on the same guest may hold one of its own suspended now
        left = [n for n in dm.guest({'op': 'suspended'})[0]['names'] if n.startswith(prefix)]
        assert not left, 'a reload left something suspended: %s' % left

        # queue: 24 MiB from the start needs 384 blocks of 256; the writer waits for space
        set_timeout(dm, 0)
        step = {'op': 'write', 'dev': mapper(thin), 'offset': 0, 'length': 24 * MIB, 'seed': 'space'}
        dm.command('systemd-run', '--unit', unit, '--property', 'RuntimeMaxSec=900',
                   'python3', dm.helper, json.dumps([step]))
        waited = dm.module('dm_wait', name=pool, data_usage='100%', timeout=600, interval=2)
        status = waited['device']['status'][0]
        assert waited['met'] is True and status['used_data_blocks'] == status['total_data_blocks'] == 256, waited
        time.sleep(2)
        queued = dm.module('dm_info', names=[pool], kernel_facts=[])['devices'][pool]['status'][0]
        assert (queued['mode'], queued['no_space']) == ('out_of_data_space', 'queue'), queued
        assert unit_state(dm, unit)['ActiveState'] == 'active', 'the writer did not wait: %s' % unit_state(dm, unit)

        # grown to 32 MiB: the queued writes go through, and read back as the writer wrote them
        dm.module('dm_target', devices=[dict(name=data, reload=True, **lin(loop, 4, 32)),
                                        dict(name=pool, reload=True, **pool_table(meta, data, 32, []))])
        for _second in range(300):
            state = unit_state(dm, unit)
            if state['ActiveState'] not in ('active', 'activating', 'deactivating'):
                break
            time.sleep(1)
        assert state == {'ActiveState': 'inactive', 'Result': 'success'}, state
        dm.command('truncate', '-s', '24M', copy)
        sums = dm.guest(dict(step, dev=copy), {'op': 'sha', 'dev': copy, 'offset': 0, 'length': 24 * MIB},
                        {'op': 'sha', 'dev': mapper(thin), 'offset': 0, 'length': 24 * MIB})
        assert sums[1]['sha256'] == sums[2]['sha256'], 'the queued writes do not read back as written'
        after = dm.module('dm_info', names=[pool], kernel_facts=[])['devices'][pool]['status'][0]
        assert after['mode'] == 'rw' and after['used_data_blocks'] == 384 and after['needs_check'] is False, after
    finally:
        dm.rc('systemctl', 'stop', unit + '.service')
        dm.rc('systemctl', 'reset-failed', unit + '.service')
        set_timeout(dm, int(old_timeout or 60))
        dm.guest({'op': 'cleanup', 'prefix': prefix})
        dm.rc('losetup', '-d', loop)
        dm.rc('rm', '-f', image, copy)
