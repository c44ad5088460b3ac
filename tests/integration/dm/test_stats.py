"""dm_stats on a real kernel: a missing device refused; a region with a histogram on a linear
device, the four steps for present and for absent (each checked with the kernel's own
@stats_list, not through the module); 4 MiB written with dd (O_DIRECT) counted exactly; other
parameters refused without force; dm_info with ``stats`` showing the same region and writes; the
counters cleared."""

from dm_helpers import MIB

PROGRAM = 'sts-it-stats'
TASK = dict(areas=4, histogram=[1, 5, 20, 100], program_id=PROGRAM)


def our_regions(dm, name, *steps):
    """The kernel's @stats_list lines of our program id (after ``steps``, guest-helper steps run first)."""
    results = dm.guest(*(list(steps) + [{'op': 'run', 'argv': ['dmsetup', 'message', name, '0', '@stats_list']}]))
    listed = results[-1]
    assert listed['rc'] == 0, listed
    return [line for line in listed['stdout'].splitlines() if line.split()[3:4] == [PROGRAM]], results[:-1]


def four_steps(dm, name, args, present):
    """check mode changes nothing, the real run changes, the repeats do not; diff mode throughout."""
    before = our_regions(dm, name)[0]
    check = dm.module('dm_stats', check=True, diff=True, name=name, **args)
    assert check['changed'] is True and check['commands'] == [], check
    assert our_regions(dm, name)[0] == before, 'check mode changed the regions'
    real = dm.module('dm_stats', diff=True, name=name, **args)
    assert real['changed'] is True and real['commands'], real
    after = our_regions(dm, name)[0]
    assert bool(after) is present and len(after) <= 1, after
    assert real['diff']['before'] != real['diff']['after'], real['diff']
    again = dm.module('dm_stats', diff=True, name=name, **args)
    assert again['changed'] is False and again['commands'] == [], again
    assert again['diff']['before'] == again['diff']['after'], again['diff']
    again_check = dm.module('dm_stats', check=True, diff=True, name=name, **args)
    assert again_check['changed'] is False, again_check
    return check, real, again, after


def test_a_region_with_a_histogram_counts_known_io_and_is_cleared_and_deleted(dm, prefix, area):
    name = prefix + 'lin'
    disk, offset = area.at(0, 0)
    size = 64 * MIB
    missing = dm.module('dm_stats', expect_failure=True, name=name, **TASK)
    assert missing['msg'] == 'device %s does not exist; expected a live dm device to keep statistics of' % name
    made = dm.guest({'op': 'run', 'argv': ['dmsetup', 'create', name, '--table',
                                           '0 %d linear %s %d' % (size, disk, offset)]})[0]
    assert made['rc'] == 0, made
    check, real, again, listed = four_steps(dm, name, TASK, present=True)
    assert check['region']['counters'] is None and check['region']['area_size'] == size // 4
    region_id = real['created']
    # the kernel's own line: the range, the step, our program id, no aux data, the histogram bounds
    assert listed == ['%d: 0+%d %d %s - histogram:1,5,20,100' % (region_id, size, size // 4, PROGRAM)], listed
    assert again['region']['region_id'] == region_id and again['region']['area_count'] == 4

    # 4 MiB written at 1 MiB with O_DIRECT: 8192 sectors in area 0, nothing written elsewhere. Once, in
    # the whole dm suite on a loaded Debian 12 guest, dd found no device node here ('failed to open:
    # Invalid argument': O_DIRECT on a file it created in /dev), the node gone under the device (what
    # removed it is not known; a late udev event of an earlier device of the same minor fits): settle
    # udev and make sure of the node first, since what this test is about is the counting
    written = our_regions(dm, name, {'op': 'run', 'argv': ['udevadm', 'settle']},
                          {'op': 'run', 'argv': ['dmsetup', 'mknodes', name]}, {'op': 'run', 'argv': [
                              'dd', 'if=/dev/zero', 'of=/dev/mapper/' + name, 'bs=1M', 'count=4', 'seek=1',
                              'oflag=direct']})[1][2]
    assert written['rc'] == 0, written
    read = dm.module('dm_stats', name=name, **TASK)
    assert read['changed'] is False, read
    counters = read['region']['counters']
    assert counters['sectors_written'] == 4 * MIB and counters['writes'] > 0, counters
    assert [a['sectors_written'] for a in read['region']['areas']] == [4 * MIB, 0, 0, 0], read['region']['areas']
    hist = read['region']['histogram']
    assert [(b['lower'], b['upper']) for b in hist] == [(0, 1), (1, 5), (5, 20), (20, 100), (100, None)]
    # every completed I/O lands in one bucket (udev's probe may have read the device too)
    assert sum(b['count'] for b in hist) == counters['reads'] + counters['writes'], (hist, counters)

    # dm_info's stats: the same region, the same writes (a late udev probe may add reads)
    info = dm.module('dm_info', names=[name], kernel_facts=[], stats=True)
    seen = [r for r in info['devices'][name]['stats'] if r['program_id'] == PROGRAM]
    assert [(r['region_id'], r['area_count'], r['histogram_bounds']) for r in seen] == \
        [(region_id, 4, [1, 5, 20, 100])], info['devices'][name]['stats']
    for key in ('writes', 'sectors_written'):
        assert seen[0]['counters'][key] == counters[key], (key, seen[0]['counters'], counters)
    assert [a['sectors_written'] for a in seen[0]['areas']] == [4 * MIB, 0, 0, 0], seen[0]['areas']

    refused = dm.module('dm_stats', expect_failure=True, name=name, **dict(TASK, areas=2))
    assert 'with other parameters are there' in refused['msg'] and 'Set force: true' in refused['msg'], refused

    cleared = dm.module('dm_stats', diff=True, name=name, state='cleared', **TASK)
    assert cleared['changed'] is True and cleared['cleared_counters']['sectors_written'] == 4 * MIB, cleared
    assert cleared['region']['counters']['sectors_written'] == 0, cleared['region']
    printed = dm.guest({'op': 'run', 'argv': ['dmsetup', 'message', name, '0', '@stats_print', str(region_id)]})[0]
    lines = [line.split() for line in printed['stdout'].splitlines()]
    # counters 5 and 7 of each area: writes and sectors written (the kernel's statistics.rst order)
    assert len(lines) == 4 and all(words[5] == words[7] == '0' for words in lines), printed

    four_steps(dm, name, dict(state='absent', program_id=PROGRAM), present=False)
    dm.guest({'op': 'run', 'argv': ['dmsetup', 'remove', name]})
