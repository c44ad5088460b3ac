"""dm-vdo on the lab: a VDO volume declared with dm_target (the four steps), the same data written
at two offsets seen as deduplicated in dm_info's parsed status, removed.

Kernels without dm-vdo (Debian 12's 6.1; it came in 6.9) skip with that reason; so does a host
without ``vdoformat`` (Debian's ``vdo`` package; the lab's Debian 13 image has it). VDO needs
storage formatted for it, ~2.75 GiB at vdoformat's smallest settings (32 MiB slabs, a 0.25 GB
dedupe index): more than this file could take of the data disks, so the storage is a sparse
file on the guest's root filesystem through a loop device (~150 MiB written), removed again
whatever happens. No slot of the data disks is used.
"""

import time

import pytest

from dm_helpers import MIB, mapper
from test_four_step import four_steps

LOGICAL = '1G'                  # vdoformat --logical-size: the segment's length must be this
IMAGE_SIZE = '3G'               # the storage: 786432 blocks of 4 KiB
CACHE = '16MiB'                 # the block map cache: 4096 blocks instead of the 128 MiB default
DATA_MIB = 4                    # written twice: 1024 blocks of 4 KiB each time
BLOCKS = DATA_MIB * 256


def _probe(dm):
    """Skip where the kernel has no dm-vdo or the host no vdoformat."""
    probe = dm.guest({'op': 'run', 'argv': ['modprobe', 'dm-vdo']}, {'op': 'run', 'argv': ['vdoformat', '--version']})
    if probe[0]['rc'] != 0:
        pytest.skip('%s (kernel %s) has no dm-vdo (it came in 6.9): %s'
                    % (dm.pattern, dm.kernel, probe[0]['stderr'].strip()))
    if probe[1]['rc'] != 0:
        pytest.skip("%s has dm-vdo but no vdoformat (Debian's vdo package) to format its storage: %s"
                    % (dm.pattern, probe[1]['stderr'].strip()))


def _index_online(dm, name, seconds=120):
    """Wait (guest helper, not a module run) until the volume's dedupe index is online; new
    writes are not deduplicated before."""
    deadline = time.monotonic() + seconds
    while True:
        words = dm.guest({'op': 'run', 'argv': ['dmsetup', 'status', name]})[0]['stdout'].split()
        if words[6:7] == ['online'] or time.monotonic() > deadline:
            return words
        time.sleep(1)


def test_vdo_volume_deduplicates(dm, prefix, record_property):
    _probe(dm)
    image = '/var/tmp/%simage' % prefix
    name = prefix + 'vol'
    loop = None
    try:
        # a sparse file through a loop device, formatted for VDO
        made = dm.guest({'op': 'run', 'argv': ['truncate', '-s', IMAGE_SIZE, image]},
                        {'op': 'run', 'argv': ['losetup', '-f', '--show', image]})
        loop = made[1]['stdout'].strip() or None
        assert [r['rc'] for r in made] == [0, 0], made
        formatted = dm.guest({'op': 'run', 'argv': ['vdoformat', '--slab-bits=13', '--uds-memory-size=0.25',
                                                    '--logical-size=' + LOGICAL, loop]})[0]
        assert formatted['rc'] == 0, formatted
        args = {'name': name, 'type': 'vdo', 'length': LOGICAL,
                'options': {'storage_dev': loop, 'physical_size': IMAGE_SIZE, 'block_map_cache_size': CACHE,
                            'deduplication': True}}
        _check, real, again, _again_check = four_steps(dm, 'dm_target', args, [name])
        # the kernel's echo: the table as it was loaded, the loop device by path
        wanted = ['0 2097152 vdo V4 %s 786432 4096 4096 16380 deduplication on' % loop]
        live = dm.guest({'op': 'run', 'argv': ['dmsetup', 'table', name]})[0]
        assert live['stdout'].splitlines() == wanted == real['after']['table'], (live, real['after'])
        assert again['commands'] == [] and again['differences'] == [], again

        words = _index_online(dm, name)
        assert words[6:7] == ['online'], 'the dedupe index of %s did not come online: %s' % (name, words)
        before = dm.module('dm_info', names=[name], kernel_facts=[])['devices'][name]['status'][0]
        assert (before['target_type'], before['mode'], before['index_state'], before['deduplicating']) == (
            'vdo', 'normal', 'online', True), before
        written = dm.guest({'op': 'write', 'dev': mapper(name), 'offset': 0, 'length': DATA_MIB * MIB, 'seed': 'vdo'},
                           {'op': 'write', 'dev': mapper(name), 'offset': 64 * MIB, 'length': DATA_MIB * MIB,
                            'seed': 'vdo'},
                           {'op': 'sha', 'dev': mapper(name), 'offset': 0, 'length': DATA_MIB * MIB},
                           {'op': 'sha', 'dev': mapper(name), 'offset': 64 * MIB, 'length': DATA_MIB * MIB})
        assert written[2]['sha256'] == written[3]['sha256'], written
        after = dm.module('dm_info', names=[name], kernel_facts=[])['devices'][name]['status'][0]
        grew = after['used_physical_blocks'] - before['used_physical_blocks']
        record_property('figures', '{"written_blocks": %d, "used_blocks_grew": %d, "suite": "vdo dedup"}'
                        % (2 * BLOCKS, grew))
        # one copy stored (its 1024 blocks, a few block map pages), the other deduplicated
        assert BLOCKS <= grew < BLOCKS + 64, (before, after)
        assert after['total_physical_blocks'] == 786432 and after['read_only'] is False, after

        gone = dm.module('dm_target', name=name, state='absent')
        assert gone['changed'] is True and name not in dm.devices(), gone
    finally:
        steps = [{'op': 'cleanup', 'prefix': prefix}]
        if loop:
            steps.append({'op': 'run', 'argv': ['losetup', '-d', loop]})
        steps.append({'op': 'run', 'argv': ['rm', '-f', image]})
        dm.guest(*steps)
