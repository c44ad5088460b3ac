import json
import os

import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.status import parse_status, parse_status_line

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'dm')
DISTROS = ('debian12', 'debian13')


def captured(distro, name, note=None):
    with open(os.path.join(FIXTURES, distro + '.json')) as handle:
        cap = json.load(handle)
    for dev in cap['devices']:
        if dev['name'] == 'stscap-' + name and dev.get('note') == note and 'status' in dev:
            return cap, dev
    raise KeyError(name)


def status_of(distro, name, note=None):
    """The status line the kernel printed for one captured device (``note`` picks a later capture)."""
    return parse_status_line(captured(distro, name, note)[1]['status']['stdout'].splitlines()[0])


def devnos_given(distro, name):
    """The major:minor of the devices the given table of ``name`` names, in order."""
    cap, dev = captured(distro, name)
    return [cap['devnos'][w] for w in dev['given'].split() if w.startswith('/dev/')]


@pytest.mark.parametrize('distro', DISTROS)
def test_every_captured_status_parses(distro):
    with open(os.path.join(FIXTURES, distro + '.json')) as handle:
        devices = json.load(handle)['devices']
    seen = set()
    for dev in devices:
        for line in dev.get('status', {}).get('stdout', '').splitlines():
            if line.strip():
                parsed = parse_status_line(line)
                assert 'unparsed' not in parsed, line
                seen.add(parsed['target_type'])
    assert {'thin-pool', 'thin', 'cache', 'era', 'snapshot', 'snapshot-merge', 'raid', 'mirror', 'crypt',
            'integrity', 'writecache', 'multipath', 'striped', 'delay'} <= seen


@pytest.mark.parametrize('distro', DISTROS)
def test_thin_pool_after_messages(distro):
    st = status_of(distro, 'pool', 'after messages')
    assert st['transaction_id'] == 7
    assert (st['used_data_blocks'], st['total_data_blocks']) == (64, 2048)
    assert (st['used_metadata_blocks'], st['total_metadata_blocks']) == (216, 2048)
    assert st['held_metadata_root'] is not None
    assert (st['mode'], st['discard'], st['no_space'], st['needs_check']) == ('rw', 'discard_passdown', 'queue', False)
    assert st['metadata_low_watermark'] == 512


@pytest.mark.parametrize('distro', DISTROS)
def test_thin_pool_fresh_full_and_featured(distro):
    assert status_of(distro, 'pool')['held_metadata_root'] is None
    full = status_of(distro, 'pool-full', 'after filling')
    assert full['mode'] == 'out_of_data_space' and full['out_of_data_space'] and not full['read_only']
    assert not full['failed'] and not status_of(distro, 'pool')['out_of_data_space']
    assert full['used_data_blocks'] == full['total_data_blocks'] == 32
    assert full['no_space'] == 'error'
    featured = status_of(distro, 'pool-features')
    assert featured['discard'] == 'ignore_discard'
    assert status_of(distro, 'pool-nopass')['discard'] == 'no_discard_passdown'


@pytest.mark.parametrize('distro', DISTROS)
def test_thin_pool_read_only(distro):
    ro = status_of(distro, 'pool-ro', 'reloaded read_only')
    assert ro['mode'] == 'ro' and ro['read_only'] and not ro['out_of_data_space']


@pytest.mark.parametrize('distro', DISTROS)
def test_thin_volumes(distro):
    thin = status_of(distro, 'thin')
    assert (thin['mapped_sectors'], thin['highest_mapped_sector']) == (0, None)
    snap = status_of(distro, 'thin-snap')
    assert (snap['mapped_sectors'], snap['highest_mapped_sector']) == (8192, 8191)


@pytest.mark.parametrize('distro', DISTROS)
def test_cache(distro):
    st = status_of(distro, 'cache-args')
    assert st['mode'] == 'writeback'
    assert st['policy'] == 'smq'
    assert st['core_args'] == {'migration_threshold': 4096}
    assert (st['total_metadata_blocks'], st['cache_block_size'], st['total_cache_blocks']) == (2048, 128, 256)
    assert st['metadata_mode'] == 'rw' and st['needs_check'] is False and st['read_only'] is False
    assert st['failed'] is False
    assert {'read_hits', 'read_misses', 'write_hits', 'write_misses', 'dirty_blocks', 'promotions', 'demotions'} <= set(st)
    assert status_of(distro, 'cache-wt')['mode'] == 'writethrough'
    assert status_of(distro, 'cache-pt')['mode'] == 'passthrough'
    assert status_of(distro, 'cache-md2')['features'] == ['metadata2', 'writethrough']
    assert status_of(distro, 'cache-nodp')['features'] == ['writeback', 'no_discard_passdown']
    assert status_of(distro, 'cache-cleaner')['policy'] == 'cleaner'
    assert status_of(distro, 'cache-default-policy')['policy'] == 'smq'


@pytest.mark.parametrize('distro', DISTROS)
def test_era(distro):
    st = status_of(distro, 'era')
    assert st['current_era'] == 1 and st['held_metadata_root'] is None and st['metadata_block_size'] == 8


@pytest.mark.parametrize('distro', DISTROS)
def test_snapshots(distro):
    st = status_of(distro, 'snap-p')
    assert (st['allocated_sectors'], st['total_sectors'], st['metadata_sectors']) == (16, 32768, 16)
    assert st['state'] == 'valid' and not st['invalid']
    assert status_of(distro, 'merge-origin', None)['target_type'] in ('snapshot-origin', 'snapshot-merge')


def test_snapshot_invalid_and_overflow_words():
    assert parse_status('snapshot', 'Invalid')['invalid'] is True
    assert parse_status('snapshot', 'Overflow')['overflow'] is True
    assert parse_status('snapshot-merge', 'Merge failed')['state'] == 'merge_failed'


@pytest.mark.parametrize('distro', DISTROS)
def test_raid(distro):
    st = status_of(distro, 'raid6')
    assert (st['raid_type'], st['devices'], st['health']) == ('raid6_zr', 4, 'AAAA')
    assert st['device_health'] == ['alive'] * 4
    assert st['sync_ratio'] == 1.0 and st['in_sync'] and st['sync_action'] == 'idle'
    resync = status_of(distro, 'raid1-meta')
    assert resync['health'] == 'aa' and resync['sync_action'] == 'resync'
    assert 0 < resync['sync_ratio'] < 1 and not resync['in_sync']


@pytest.mark.parametrize('distro', DISTROS)
def test_mirror(distro):
    st = status_of(distro, 'mirror')
    assert st['devices'] == devnos_given(distro, 'mirror')
    assert st['health'] == 'AA' and st['log'] == ['core']
    assert st['in_sync'] == (st['in_sync_regions'] == st['total_regions'] == 64)


@pytest.mark.parametrize('distro', DISTROS)
def test_crypt_integrity_writecache_multipath_striped_delay(distro):
    assert status_of(distro, 'crypt') == {'raw': '', 'start': 0, 'length': 65536, 'target_type': 'crypt'}
    integ = status_of(distro, 'integrity')
    assert integ['provided_data_sectors'] > 16384 and integ['recalculate_sector'] is None
    wc = status_of(distro, 'writecache')
    assert wc['error'] == 0 and wc['total_blocks'] == 4080 and 'free_blocks' in wc
    mp = status_of(distro, 'multipath')
    assert mp['active_paths'] == 2 and [p['device'] for p in mp['groups'][0]['paths']] == devnos_given(distro, 'multipath')
    assert status_of(distro, 'striped')['health'] == 'AA'
    assert status_of(distro, 'delay-rwf')['reads_queued'] == 0


def test_failed_and_unknown_statuses_never_raise():
    assert parse_status('thin-pool', 'Fail') == {'raw': 'Fail', 'failed': True}
    assert parse_status('cache', 'Error') == {'raw': 'Error', 'failed': True}
    assert parse_status('thin-pool', '1 2') == {'raw': '1 2', 'unparsed': True}
    assert parse_status('log-writes', 'a b c') == {'raw': 'a b c'}
    assert parse_status('verity', 'C')['corrupted'] is True


def test_dust_says_whether_its_bad_blocks_fail():
    # the kernel's documented form (dm-dust.rst); no lab kernel builds dm-dust
    assert parse_status('dust', '253:16 bypass verbose') == {
        'raw': '253:16 bypass verbose', 'device': '253:16', 'mode': 'bypass', 'failing': False, 'quiet': False}
    assert parse_status('dust', '253:16 fail_read_on_bad_block quiet')['failing'] is True


def vdo_statuses():
    """Every vdo status line Debian 13's kernel printed in the capture (fixtures/dm/vdo_capture_guest.py)."""
    with open(os.path.join(FIXTURES, 'vdo-debian13.json')) as handle:
        cap = json.load(handle)
    by_case = {}
    for case in cap['cases']:
        if case['case'] == 'dedup':
            by_case.update(('dedup ' + s['what'], s['status']['stdout']) for s in case['steps'])
        elif case.get('status', {}).get('rc') == 0:
            by_case[case['case']] = case['status']['stdout']
    return cap, dict((k, parse_status_line(v.splitlines()[0])) for k, v in by_case.items())


def test_vdo_status_fields():
    cap, st = vdo_statuses()
    assert len(st) == 11
    fresh = st['minimal']
    assert fresh['target_type'] == 'vdo' and 'unparsed' not in fresh
    assert (fresh['storage_device'], fresh['mode'], fresh['recovering']) == (cap['loop'], 'normal', False)
    assert (fresh['index_state'], fresh['deduplicating'], fresh['compression_state'], fresh['compressing']) == (
        'online', True, 'offline', False)
    assert (fresh['used_physical_blocks'], fresh['total_physical_blocks'], fresh['free_physical_blocks']) == (
        714738, 786432, 786432 - 714738)
    assert (fresh['read_only'], fresh['failed']) == (False, False)
    # reloaded with compression on, then a message turned it off again
    assert st['reload-modifiable']['compressing'] is True and st['message-compression-off']['compressing'] is False
    # deduplication off in the table: the index is closed
    assert (st['all-options']['index_state'], st['all-options']['deduplicating']) == ('closed', False)


def test_vdo_status_shows_deduplication_as_blocks_not_used():
    """4 MiB (1024 blocks) written, the same 4 MiB at another offset, then 4 MiB of other data."""
    _cap, st = vdo_statuses()
    used = [st['dedup ' + w]['used_physical_blocks'] for w in ('before', 'first copy', 'second copy', 'other data')]
    grew = [b - a for a, b in zip(used, used[1:])]
    assert grew[0] >= 1024 and grew[2] >= 1024, grew
    assert grew[1] < 64, grew


@pytest.mark.parametrize('args,expected', [
    ('/dev/vdb read-only recovering error offline 10 20', {'read_only': True, 'recovering': True,
                                                           'index_state': 'error', 'deduplicating': False}),
    ('/dev/vdb recovering - opening offline 10 20', {'mode': 'recovering', 'recovering': False,
                                                     'index_state': 'opening'}),
])
def test_vdo_status_documented_states(args, expected):
    """Modes and index states the kernel documents that a healthy lab volume does not show."""
    parsed = parse_status('vdo', args)
    assert dict((k, parsed[k]) for k in expected) == expected


def test_vdo_status_cut_short_is_kept_raw():
    assert parse_status('vdo', '/dev/vdb normal - online') == {'raw': '/dev/vdb normal - online', 'unparsed': True}
