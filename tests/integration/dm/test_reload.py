"""A reload swaps a different table in through the inactive slot: the middle segment replaced and
the device extended by a fourth segment, while the data outside the changed region survives."""

from dm_helpers import MIB

SEG = 8 * MIB


def sha_steps(dev, count):
    return [{'op': 'sha', 'dev': dev, 'offset': i * SEG, 'length': SEG} for i in range(count)]


def test_reload_swaps_the_middle_segment_and_grows(dm, prefix, area):
    name = prefix + 'lin'
    dev = '/dev/mapper/' + name
    disk0, a = area.at(0, 0)
    disk1, c = area.at(1, 0)
    _disk1, d = area.at(1, 16)
    _disk1, e = area.at(1, 32)
    old = ['0 %d linear %s %d' % (SEG, disk0, a),
           '%d %d linear %s %d' % (SEG, SEG, disk0, a + SEG),
           '%d %d linear %s %d' % (2 * SEG, SEG, disk1, c)]
    # the middle segment moves to a zeroed place on the other disk; a fourth one is added
    new = [old[0], '%d %d linear %s %d' % (SEG, SEG, disk1, d), old[2],
           '%d %d linear %s %d' % (3 * SEG, SEG, disk1, e)]
    created = dm.module('dm_device', name=name, table=old)
    assert created['changed'] is True
    steps = [area.zero(1, 16, 8), area.zero(1, 32, 8),
             {'op': 'write', 'dev': dev, 'offset': 0, 'length': 3 * SEG, 'seed': name},
             {'op': 'sha', 'dev': disk1, 'offset': d, 'length': SEG}] + sha_steps(dev, 3)
    done = dm.guest(*steps)
    zeros = done[3]['sha256']
    before = [s['sha256'] for s in done[4:]]
    assert zeros not in before

    refused = dm.module('dm_device', expect_failure=True, name=name, table=new)
    assert 'reload' in refused['msg'] and refused['differences'], refused

    swapped = dm.module('dm_device', diff=True, name=name, table=new, reload=True)
    assert swapped['changed'] is True and swapped['differences'], swapped
    assert swapped['before']['table'] != swapped['after']['table'], swapped
    assert swapped['after']['suspended'] is False
    commands = [c[1] for c in swapped['commands']]
    assert commands == ['load', 'resume'], 'expected a load and a resume only: %s' % swapped['commands']
    done = dm.guest({'op': 'devices'}, *sha_steps(dev, 4))
    live = done[0]['devices'][name]
    assert live['suspended'] == 'Active' and live['inactive_table'] == [] and len(live['table']) == 4, live
    after = [s['sha256'] for s in done[1:]]
    assert after[0] == before[0] and after[2] == before[2], 'data outside the changed region changed'
    assert after[1] == zeros and after[3] == zeros, 'the new segments do not map the new places'

    again = dm.module('dm_device', name=name, table=new, reload=True)
    assert again['changed'] is False and again['commands'] == [], again
    dm.module('dm_device', name=name, state='absent')
