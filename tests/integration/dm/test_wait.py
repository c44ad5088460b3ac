"""dm_info's kernel facts and dm_wait on a real kernel.

A small thin pool (1024 data blocks of 64 KiB, low water mark 768 blocks free) with a thin volume:
dm_info returns the kernel's targets with versions (what ``dmsetup targets`` says, read back
apart) and the library and driver versions; dm_wait waits for the pool's event counter while a
writer on the guest, started once it sees the wait polling (files/wait_trigger.py), fills the
pool past its low water mark (the kernel's event), so it really waits and returns the pool's
status with the blocks written; a data threshold already passed returns at once (in check mode,
which waits as a real run does); and a threshold not reached in time fails naming the device,
the condition and the last value."""

import json
import os
import time

from dm_helpers import MIB, mapper

TRIGGER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'files', 'wait_trigger.py')


def writer_done(dm, unit, seconds=120):
    """Wait until the writer's service has ended (the event comes before its last block is written)."""
    started = time.time()
    while time.time() - started < seconds:
        state = dm.guest({'op': 'run', 'argv': ['systemctl', 'is-active', unit + '.service']})[0]['stdout'].strip()
        if state not in ('active', 'activating'):
            return
        time.sleep(1)
    raise AssertionError('the writer %s still runs after %d s' % (unit, seconds))


def test_kernel_facts_and_waits(dm, prefix, area):
    meta, data, pool, thin = [prefix + x for x in ('meta', 'data', 'pool', 'thin')]
    unit = prefix.rstrip('-') + '-writer'
    trigger = dm.upload(TRIGGER, dm.helper.replace('-guest-', '-wait-trigger-'), mode='0700')
    dm.guest(area.zero(0, 0))
    dm.module('dm_target', devices=[
        dict(name=meta, **area.lin(0, 0, 4)), dict(name=data, **area.lin(1, 0, 64)),
        dict(name=pool, type='thin-pool', length=64 * MIB, options={
            'metadata_dev': mapper(meta), 'data_dev': mapper(data), 'block_size': '64KiB', 'low_water_mark': 768}),
        dict(name=thin, type='thin', length=64 * MIB, options={'pool': mapper(pool), 'dev_id': 1}, create_thin=True)])
    try:
        info = dm.module('dm_info', names=[pool])
        listed = dm.guest({'op': 'run', 'argv': ['dmsetup', 'targets']},
                          {'op': 'run', 'argv': ['dmsetup', 'version']})
        # dm_info's targets are what dmsetup lists, name and version, no more and no fewer
        assert sorted('%s v%s' % item for item in info['targets'].items()) == \
            sorted(' '.join(line.split()) for line in listed[0]['stdout'].splitlines()), (info['targets'], listed[0])
        assert {'thin-pool', 'thin', 'linear'} <= set(info['targets']) and 'dust' not in info['targets'], info['targets']
        assert all(len(v.split('.')) == 3 for v in info['targets'].values()), info['targets']
        said = dict(line.split(':', 1) for line in listed[1]['stdout'].splitlines() if ':' in line)
        assert info['version'] == {'library': said['Library version'].split()[0],
                                   'driver': said['Driver version'].split()[0]}, (info['version'], listed[1])
        events = info['devices'][pool]['events']

        # 24 MiB: 384 blocks used, 640 free, past the low water mark; written once dm_wait polls
        step = {'op': 'write', 'dev': mapper(thin), 'offset': 0, 'length': 24 * MIB, 'seed': 'wait'}
        dm.command('systemd-run', '--unit', unit, '--collect', '--property', 'RuntimeMaxSec=600',
                   'python3', trigger, pool, '300', dm.helper, json.dumps([step]))
        event = dm.module('dm_wait', name=pool, events_above=events, timeout=300, interval=1)
        assert event['changed'] is False and event['met'] is True, event
        assert event['first_value'] == events, event
        assert event['value'] > events and event['polls'] >= 2 and event['waited'] > 1, event
        status = event['device']['status'][0]
        # the event comes with the allocation that leaves 768 blocks free or fewer
        assert status['total_data_blocks'] == 1024 and status['used_data_blocks'] >= 256, status
        assert event['device']['events'] == event['value'], event['device']
        writer_done(dm, unit)

        passed = dm.module('dm_wait', check=True, name=pool, data_usage='low_water_mark', timeout=300)
        assert passed['changed'] is False and passed['met'] is True and passed['polls'] == 1, passed
        assert passed['condition'] == 'data usage reaching its data low water mark (256 of 1024 blocks used)', passed
        assert passed['value'] == passed['device']['status'][0]['used_data_blocks'] == 384, passed

        late = dm.module('dm_wait', expect_failure=True, name=pool, data_usage='90%', timeout=3, interval=1)
        assert late['msg'] == ('device %s: data usage reaching 90%% of its data blocks (922 of 1024 blocks used) not '
                               'met within 3 s; last value seen: 384 of 1024 data blocks used (37.5%%)' % pool), late
        assert late['met'] is False and late['polls'] >= 2 and late['waited'] >= 3, late
    finally:
        dm.rc('systemctl', 'stop', unit + '.service')
        dm.remove(trigger)
    dm.module('dm_target', state='absent', devices=[{'name': n} for n in (thin, pool, data, meta)])
