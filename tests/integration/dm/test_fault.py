"""dm_fault on the lab kernels: a fault put under a live linear device shows in what the device
does (reads fail, are slowed down), its healthy table comes back exactly with the data, and every
step is idempotent:

- error over a range, the four steps (check, real, repeat, repeat in check mode), then heal twice;
- flakey (always down), replaced by delay in place (``replace``), healed;
- dust where the kernel has dm-dust (bad blocks fail), else refused before anything changes;
- error under a thin pool's metadata device: a write to a thin volume then fails the pool's
  commit, and dm_info says what the pool did (failed, read-only or needs_check).

The device is made with dmsetup through the guest helper, not with the modules: only dm_fault's
runs are module runs here."""

import json

from dm_helpers import MIB, mapper
from test_four_step import four_steps

RECORDS = '/run/sts-dm-test-faults'


def make_linear(dm, name, disk, offset, sectors):
    """The device and its data, with dmsetup and the guest helper; returns (table, sha256)."""
    table = '0 %d linear %s %d' % (sectors, disk, offset)
    done = dm.guest({'op': 'run', 'argv': ['dmsetup', 'create', name, '--table', table]},
                    {'op': 'write', 'dev': mapper(name), 'offset': 0, 'length': sectors, 'seed': name},
                    {'op': 'sha', 'dev': mapper(name)}, {'op': 'devices'})
    assert done[0]['rc'] == 0, done[0]
    return done[3]['devices'][name]['table'], done[2]['sha256']


def reads(dm, name, *ranges):
    """One read of each (offset, length) range: the guest helper's results."""
    return dm.guest(*[{'op': 'read', 'dev': mapper(name), 'offset': o, 'length': n} for o, n in ranges])


def live_table(dm, name):
    """The device as dmsetup lists it, its table lines with dmsetup's spacing normalised
    (it ends an argument-less target such as error with a space)."""
    dev = dict(dm.devices()[name])
    dev['table'] = [' '.join(line.split()) for line in dev['table']]
    return dev


def test_error_over_a_range_four_steps_and_heal_twice(dm, prefix, area):
    name = prefix + 'lin'
    disk, offset = area.at(0, 0)
    healthy, sha = make_linear(dm, name, disk, offset, 16 * MIB)
    args = {'name': name, 'fault': {'type': 'error'}, 'start': '4M', 'length': '1M', 'record_dir': RECORDS}
    check, real, again, _again_check = four_steps(dm, 'dm_fault', args, [])
    devno = healthy[0].split()[3]
    assert check['commands'] == [] and check['table'] == [
        '0 %d linear %s %d' % (4 * MIB, devno, offset), '%d %d error' % (4 * MIB, MIB),
        '%d %d linear %s %d' % (5 * MIB, 11 * MIB, devno, offset + 5 * MIB)], check
    dev = live_table(dm, name)
    assert dev['table'] == real['table'] == check['table'] and dev['suspended'] == 'Active', (dev, real)
    assert real['healthy_table'] == healthy and again['commands'] == [], (real, again)
    assert 'fault: error, sectors %d to %d' % (4 * MIB, 5 * MIB - 1) in real['diff']['after'], real['diff']
    before, broken, after = reads(dm, name, (0, 4 * MIB), (4 * MIB + 8, 8), (5 * MIB, 11 * MIB))
    assert before['ok'] and after['ok'], (before, after)
    assert not broken['ok'] and broken['error'] == 'Input/output error', broken

    healed = dm.module('dm_fault', diff=True, name=name, state='healed', record_dir=RECORDS)
    assert healed['changed'] and healed['table'] == healthy and healed['fault'] == {'type': 'error'}, healed
    assert 'fault: none' in healed['diff']['after'], healed['diff']
    twice = dm.module('dm_fault', name=name, state='healed', record_dir=RECORDS)
    assert not twice['changed'] and twice['commands'] == [], twice
    done = dm.guest({'op': 'sha', 'dev': mapper(name)}, {'op': 'devices'},
                    {'op': 'run', 'argv': ['ls', '-A', RECORDS]})
    assert done[0]['sha256'] == sha, 'the data changed under the fault'
    assert done[1]['devices'][name]['table'] == healthy and done[2]['stdout'] == '', done
    dm.guest({'op': 'run', 'argv': ['dmsetup', 'remove', name]})


def test_flakey_replaced_by_delay_in_place_then_healed(dm, prefix, area):
    name = prefix + 'lin'
    disk, offset = area.at(1, 0)
    healthy, sha = make_linear(dm, name, disk, offset, 8 * MIB)
    down = {'type': 'flakey', 'up_interval': 0, 'down_interval': 3600}
    flakey = dm.module('dm_fault', name=name, fault=down, record_dir=RECORDS)
    assert flakey['changed'] and flakey['table'][0].split()[2:4] == ['flakey', healthy[0].split()[3]], flakey
    broken = reads(dm, name, (0, 8))[0]
    assert not broken['ok'] and broken['error'] == 'Input/output error', broken

    refused = dm.module('dm_fault', expect_failure=True, name=name, record_dir=RECORDS,
                        fault={'type': 'delay', 'read_ms': 400})
    assert 'has a fault injected already (flakey' in refused['msg'] and 'replace: true' in refused['msg'], refused
    delay = dm.module('dm_fault', name=name, replace=True, record_dir=RECORDS, fault={'type': 'delay', 'read_ms': 400})
    assert delay['changed'] and delay['table'] == ['0 %d delay %s %d 400' % (8 * MIB, healthy[0].split()[3], offset)], \
        delay
    slow = reads(dm, name, (0, 8))[0]
    # the delay target times its 400 ms in jiffies: a read measured in the guest may come back up to a
    # jiffy early (0.3968 s seen on Debian 12, whose kernel ticks at 250 Hz); 10 ms covers a 100 Hz tick
    assert slow['ok'] and slow['seconds'] >= 0.39, slow

    healed = dm.module('dm_fault', name=name, state='healed', record_dir=RECORDS)
    assert healed['changed'] and healed['table'] == healthy and healed['fault']['type'] == 'delay', healed
    done = dm.guest({'op': 'sha', 'dev': mapper(name)}, {'op': 'devices'})
    assert done[0]['sha256'] == sha and done[1]['devices'][name]['suspended'] == 'Active', done
    dm.guest({'op': 'run', 'argv': ['dmsetup', 'remove', name]})


def test_dust_fails_its_bad_blocks_or_is_refused_where_the_kernel_lacks_it(dm, prefix, area):
    name = prefix + 'lin'
    disk, offset = area.at(0, 32)
    healthy, _sha = make_linear(dm, name, disk, offset, 4 * MIB)
    targets = dm.guest({'op': 'run', 'argv': ['dmsetup', 'targets']})[0]['stdout'].split()[0::2]
    fault = {'type': 'dust', 'block_size': 4096, 'bad_blocks': [2]}
    if 'dust' not in targets and dm.rc('modprobe', 'dm-dust') != 0:
        refused = dm.module('dm_fault', expect_failure=True, name=name, fault=fault, record_dir=RECORDS)
        assert 'needs the kernel target dust, which this kernel lacks' in refused['msg'], refused
        assert live_table(dm, name)['table'] == healthy and not dm.exists(RECORDS + '/' + name + '.json')
    else:
        dust = dm.module('dm_fault', name=name, fault=fault, record_dir=RECORDS)
        assert dust['changed'], dust
        good, bad = reads(dm, name, (0, 8), (16, 8))
        assert good['ok'] and not bad['ok'], (good, bad)
        assert dm.module('dm_fault', name=name, state='healed', record_dir=RECORDS)['table'] == healthy
    dm.guest({'op': 'run', 'argv': ['dmsetup', 'remove', name]})


def test_error_under_a_pool_s_metadata_device_shows_in_dm_info(dm, prefix, area, record_property):
    meta, data, pool, thin = [prefix + x for x in ('meta', 'data', 'pool', 'thin')]
    mdisk, moff = area.at(0, 64)
    ddisk, doff = area.at(1, 64)

    def create(name, table):
        return {'op': 'run', 'argv': ['dmsetup', 'create', name, '--table', table]}
    done = dm.guest(area.zero(0, 64, 4), create(meta, '0 %d linear %s %d' % (4 * MIB, mdisk, moff)),
                    create(data, '0 %d linear %s %d' % (64 * MIB, ddisk, doff)),
                    create(pool, '0 %d thin-pool %s %s 128 0' % (64 * MIB, mapper(meta), mapper(data))),
                    {'op': 'run', 'argv': ['dmsetup', 'message', pool, '0', 'create_thin', '1']},
                    create(thin, '0 %d thin %s 1' % (32 * MIB, mapper(pool))),
                    {'op': 'write', 'dev': mapper(thin), 'offset': 0, 'length': 4 * MIB, 'seed': thin})
    assert all(r.get('rc', 0) == 0 for r in done), done
    healthy = dm.devices()[meta]['table']

    broken = dm.module('dm_fault', name=meta, fault={'type': 'error'}, record_dir=RECORDS)
    assert broken['changed'] and broken['table'] == ['0 %d error' % (4 * MIB)], broken
    # new blocks for the thin, then a flush: the pool must commit its metadata, and cannot
    dm.guest({'op': 'run', 'argv': ['dd', 'if=/dev/zero', 'of=' + mapper(thin), 'bs=1M', 'count=4', 'seek=8',
                                    'oflag=direct', 'conv=fsync']},
             {'op': 'run', 'argv': ['sleep', '2']})
    status = dm.module('dm_info', names=[pool])['devices'][pool]['status'][0]
    assert status.get('failed') or status.get('read_only') or status.get('needs_check'), status
    record_property('figures', json.dumps({'suite': 'error under pool metadata', 'host': dm.pattern,
                                           'kernel': dm.kernel, 'pool_status': status['raw']}))

    healed = dm.module('dm_fault', name=meta, state='healed', record_dir=RECORDS)
    assert healed['changed'] and healed['table'] == healthy, healed
    left = dm.guest({'op': 'cleanup', 'prefix': prefix})[0]
    assert left['left'] == [], left
