"""The four steps for dm_device and dm_target: check mode reports a change and creates nothing;
the real run changes; a repeat does not; a repeat in check mode does not either. Diff mode on
throughout: the first run shows the device appearing, the repeats show no difference."""

from dm_helpers import MIB, mapper


def four_steps(dm, module, args, names):
    """Run the four steps; returns the four results. ``names``: the devices the task makes."""
    check = dm.module(module, check=True, diff=True, **args)
    assert check['changed'] is True, check
    there = dm.devices()
    assert not [n for n in names if n in there], 'check mode created %s' % [n for n in names if n in there]

    real = dm.module(module, diff=True, **args)
    assert real['changed'] is True, real
    assert real['diff'], real

    again = dm.module(module, diff=True, **args)
    assert again['changed'] is False, again

    again_check = dm.module(module, check=True, diff=True, **args)
    assert again_check['changed'] is False, again_check
    return check, real, again, again_check


def diffs(result):
    """The before/after texts of a result's diff (one dict, or a list of them)."""
    entries = result['diff'] if isinstance(result['diff'], list) else [result['diff']]
    return [(e.get('before', ''), e.get('after', '')) for e in entries]


def test_dm_device(dm, prefix, area):
    disk0, off0 = area.at(0, 0)
    disk1, off1 = area.at(1, 0)
    name = prefix + 'lin'
    table = ['0 %d linear %s %d' % (4 * MIB, disk0, off0),
             '%d %d linear %s %d' % (4 * MIB, 4 * MIB, disk1, off1)]
    check, real, again, again_check = four_steps(dm, 'dm_device', {'name': name, 'table': table}, [name])
    assert check['before'] == {'exists': False} and check['after']['exists'] is True
    assert check['commands'] == [], 'check mode ran %s' % check['commands']
    assert real['before'] == {'exists': False}
    live = dm.devices()[name]
    assert real['after']['table'] == live['table'], (real['after'], live)
    assert live['suspended'] == 'Active' and live['inactive_table'] == []
    assert again['commands'] == [] and again['differences'] == []
    assert any(name in after or 'linear' in after for _before, after in diffs(real)), real['diff']
    assert all(before == after for before, after in diffs(again)), again['diff']
    dm.module('dm_device', name=name, state='absent')


def test_dm_target(dm, prefix, area):
    """A thin pool and a thin volume from linear carvings, in one batch."""
    dm.guest(area.zero(0, 16))
    names = [prefix + x for x in ('meta', 'data', 'pool', 'thin')]
    meta, data, pool, thin = names
    devices = [
        dict(name=meta, **area.lin(0, 16, 4)),
        dict(name=data, **area.lin(1, 16, 64)),
        dict(name=pool, type='thin-pool', length=64 * MIB, options={
            'metadata_dev': mapper(meta), 'data_dev': mapper(data), 'block_size': '64KiB',
            'low_water_mark': 16, 'features': ['skip_block_zeroing']}),
        dict(name=thin, type='thin', length='128M', options={'pool': mapper(pool), 'dev_id': 7}),
    ]
    check, real, again, again_check = four_steps(dm, 'dm_target', {'devices': devices}, names)
    assert [d['name'] for d in real['devices']] == names, 'not in dependency order: %s' % real['devices']
    by_name = dict((d['name'], d) for d in real['devices'])
    assert by_name[thin]['thin_created'] == [7], by_name[thin]
    assert ['dmsetup', 'message', '--', pool, '0', 'create_thin', '7'] in [
        [a.rsplit('/', 1)[-1] if i == 0 else a for i, a in enumerate(c)] for c in by_name[thin]['commands']]
    assert all(d['changed'] for d in check['devices']), check['devices']
    assert not any(d['changed'] or d['commands'] for d in again['devices']), again['devices']
    assert not any(d['changed'] for d in again_check['devices']), again_check['devices']
    live = dm.devices()
    assert live[thin]['table'] == ['0 262144 thin %s 7' % live[pool]['devno']], live[thin]
    dm.module('dm_target', state='absent', devices=[{'name': n} for n in reversed(names)])
