"""Every device-mapper target type the collection knows, created for real with dm_target in
one batch (its backing devices carved from the data disks by linear entries of the same
batch), then seen by dm_info with the right target type, then a repeat of the batch that
changes nothing, then removed in one batch.

The batch runs once per file (``built``); each target type is its own test that reads the
outcome, so a target the guest kernel lacks is skipped by name with the reason.
"""

import pytest

from dm_helpers import MIB, SLOTS, Area, mapper

PREFIX = 'stsit-targets-'
CRYPT_KEY = '3f' * 32          # 256-bit aes-xts key; test_crypt_key.py checks that keys never show
VERITY_SALT = '5a17'
VERITY_BLOCKS = 8               # 4096-byte data blocks: one hash block holds their digests

# target type -> kernel module that provides it (None: built into dm-mod)
MODULES = {
    'linear': None, 'striped': None, 'error': None, 'zero': None,
    'delay': 'dm-delay', 'flakey': 'dm-flakey', 'dust': 'dm-dust',
    'thin-pool': 'dm-thin-pool', 'thin': 'dm-thin-pool', 'cache': 'dm-cache', 'era': 'dm-era',
    'snapshot': 'dm-snapshot', 'snapshot-origin': 'dm-snapshot', 'snapshot-merge': 'dm-snapshot',
    'mirror': 'dm-mirror', 'raid': 'dm-raid', 'crypt': 'dm-crypt', 'integrity': 'dm-integrity',
    'verity': 'dm-verity', 'writecache': 'dm-writecache', 'multipath': 'dm-multipath',
    'unstriped': 'dm-unstripe', 'switch': 'dm-switch',
}
TYPES = sorted(MODULES)


def n(name):
    return PREFIX + name


def backing(area):
    """Linear devices carved from the area (name -> segment), and the guest-helper steps that zero
    what must start zeroed (metadata devices, snapshot COW, integrity and writecache superblocks)."""
    lin = {
        'tmeta': area.lin(0, 0, 4), 'tdata': area.lin(1, 0, 64),
        'cmeta': area.lin(0, 4, 4), 'cdata': area.lin(1, 64, 8), 'corig': area.lin(0, 8, 32),
        'emeta': area.lin(0, 40, 4), 'eorig': area.lin(1, 72, 16),
        'sorig': area.lin(0, 44, 16), 'scow': area.lin(1, 88, 8),
        'morig': area.lin(0, 60, 16), 'mcow': area.lin(1, 96, 8),
        'rmeta0': area.lin(0, 76, 4), 'rimage0': area.lin(0, 80, 16),
        'rmeta1': area.lin(1, 104, 4), 'rimage1': area.lin(1, 108, 16),
        'ibase': area.lin(0, 96, 16),
        'vhash': area.lin(1, 124, 1),
        'worig': area.lin(0, 112, 16), 'wcache': area.lin(1, 128, 8),
        'dbase': area.lin(0, 132, 4),
    }
    zero = [area.zero(0, 0), area.zero(0, 4), area.zero(0, 40), area.zero(1, 88), area.zero(1, 96),
            area.zero(0, 76), area.zero(1, 104), area.zero(0, 96), area.zero(1, 128)]
    return lin, zero


def wanted(dm, area, root):
    """Every target as a dm_target batch item, keyed by target type, plus the backing linears."""
    lin, _zero = backing(area)
    items = [dict(name=n(name), type='linear', length=seg['length'], options=seg['options'])
             for name, seg in sorted(lin.items())]
    first = dm.kernel_version >= (6, 6)
    disk0, disk1 = area.disks
    at = area.at
    targets = {
        'linear': dict(type='linear', length=8 * MIB, options={'device': disk0, 'offset': at(0, 136)[1]}),
        'striped': dict(type='striped', length=16 * MIB, options={
            'chunk_size': '64KiB', 'devices': [{'device': disk0, 'offset': at(0, 144)[1]},
                                               {'device': disk1, 'offset': at(1, 136)[1]}]}),
        'error': dict(type='error', length=MIB, options={}),
        'zero': dict(type='zero', length=MIB, options={}),
        'delay': dict(type='delay', length=4 * MIB, options={
            'read': {'device': disk0, 'offset': at(0, 152)[1], 'delay_ms': 0}}),
        # 6.1 refuses error_reads (a 6.6 feature); drop_writes exists on both
        'flakey': dict(type='flakey', length=4 * MIB, options={
            'device': disk0, 'offset': at(0, 156)[1], 'up_interval': 60, 'down_interval': 0,
            'features': ['error_reads'] if first else ['drop_writes']}),
        'dust': dict(type='dust', length=4 * MIB,
                     options={'device': mapper(n('dbase')), 'offset': 0, 'block_size_bytes': 512}),
        'thin-pool': dict(type='thin-pool', length=64 * MIB, options={
            'metadata_dev': mapper(n('tmeta')), 'data_dev': mapper(n('tdata')), 'block_size': '64KiB',
            'low_water_mark': 0}),
        'thin': dict(type='thin', length=32 * MIB, options={'pool': mapper(n('thin-pool')), 'dev_id': 1}),
        'cache': dict(type='cache', length=32 * MIB, options={
            'metadata_dev': mapper(n('cmeta')), 'cache_dev': mapper(n('cdata')), 'origin': mapper(n('corig')),
            'block_size': '64KiB', 'mode': 'writethrough', 'policy': 'smq'}),
        'era': dict(type='era', length=16 * MIB, options={
            'metadata_dev': mapper(n('emeta')), 'origin': mapper(n('eorig')), 'block_size': 128}),
        'snapshot-origin': dict(type='snapshot-origin', length=16 * MIB, options={'origin': mapper(n('sorig'))}),
        'snapshot': dict(type='snapshot', length=16 * MIB, options={
            'origin': mapper(n('sorig')), 'cow': mapper(n('scow')), 'persistent': 'P', 'chunk_size': 8}),
        'snapshot-merge': dict(type='snapshot-merge', length=16 * MIB, options={
            'origin': mapper(n('morig')), 'cow': mapper(n('mcow')), 'persistent': 'P', 'chunk_size': 8}),
        'mirror': dict(type='mirror', length=8 * MIB, options={
            'log_type': 'core', 'region_size': '512KiB',
            'devices': [{'device': disk0, 'offset': at(0, 164)[1]}, {'device': disk1, 'offset': at(1, 144)[1]}]}),
        'raid': dict(type='raid', length=16 * MIB, options={
            'raid_type': 'raid1', 'devices': [
                {'metadata': mapper(n('rmeta0')), 'data': mapper(n('rimage0'))},
                {'metadata': mapper(n('rmeta1')), 'data': mapper(n('rimage1'))}]}),
        'crypt': dict(type='crypt', length=4 * MIB, options={
            'cipher': 'aes-xts-plain64', 'key': CRYPT_KEY, 'device': disk0, 'offset': at(0, 172)[1]}),
        # with an option the kernel echoes: without any, the table lacks the option count the
        # kernel requires; block_size:512 is not echoed (test_integrity_plain)
        'integrity': dict(type='integrity', length=8 * MIB, options={
            'device': mapper(n('ibase')), 'reserved_sectors': 0, 'tag_size': 4, 'mode': 'J',
            'options': {'buffer_sectors': 128}}),
        # the kernel refuses a writable verity device ("Device must be readonly")
        'verity': dict(type='verity', length=VERITY_BLOCKS * 8, readonly=True, options={
            'version': 1, 'data_dev': mapper(n('vdata')), 'hash_dev': mapper(n('vhash')),
            'data_block_size': 4096, 'hash_block_size': 4096, 'num_data_blocks': VERITY_BLOCKS,
            'hash_start_block': 0, 'algorithm': 'sha256', 'digest': root, 'salt': VERITY_SALT}),
        'writecache': dict(type='writecache', length=16 * MIB, options={
            'kind': 's', 'origin': mapper(n('worig')), 'cache_dev': mapper(n('wcache')), 'block_size': 4096}),
        # request-based (the default) needs request-based paths: the whole virtio disk (only read);
        # bio-based over a dm linear: test_variant[multipath-bio]
        'multipath': dict(type='multipath', length=4 * MIB, options={
            'groups': [{'selector': 'service-time', 'paths': [disk1]}]}),
        'unstriped': dict(type='unstriped', length=8 * MIB, options={
            'stripes': 2, 'chunk_size': '64KiB', 'stripe': 0, 'device': mapper(n('striped')), 'offset': 0}),
        'switch': dict(type='switch', length=4 * MIB, options={
            'region_size': 64, 'devices': [{'device': disk0, 'offset': at(0, 176)[1]},
                                           {'device': disk1, 'offset': at(1, 152)[1]}]}),
    }
    # the verity data device: all zeros, so its hash tree is known without veritysetup
    items.append(dict(name=n('vdata'), type='zero', length=VERITY_BLOCKS * 8, options={}))
    return items, targets


@pytest.fixture(scope='module')
def built(dm):
    """Create every target the kernel has in one dm_target batch, read them with dm_info, repeat, remove."""
    area = Area(dm.disks, *SLOTS['targets'])
    _lin, zero = backing(area)
    hash_dev, hash_offset = area.at(1, 124)
    steps = zero + [{'op': 'verity_hash', 'dev': hash_dev, 'offset': hash_offset, 'blocks': VERITY_BLOCKS,
                     'salt': VERITY_SALT}]
    steps += [{'op': 'run', 'argv': ['modinfo', '-n', module]} for module in sorted(set(filter(None, MODULES.values())))]
    done = dm.guest(*steps)
    root = done[len(zero)]['root']
    missing = {}
    for step in done[len(zero) + 1:]:
        if step['rc'] != 0:
            missing[step['argv'][-1]] = step['stderr'].strip()
    items, targets = wanted(dm, area, root)
    absent_types = dict((t, missing[m]) for t, m in MODULES.items() if m in missing)
    if 'dust' in absent_types:
        items = [i for i in items if i['name'] != n('dbase')]
    for target_type, item in sorted(targets.items()):
        if target_type not in absent_types:
            items.append(dict(item, name=n(target_type)))
    outcome = {'kernel': dm.kernel, 'missing': absent_types, 'items': items}
    try:
        outcome['first'] = dm.module('dm_target', devices=items)
        outcome['info'] = dm.module('dm_info', names=[i['name'] for i in items])
        outcome['again'] = dm.module('dm_target', devices=items)
        yield outcome
    finally:
        outcome['removed'] = dm.module('dm_target', expect_failure=None, state='absent',
                                       devices=[{'name': i['name']} for i in items])
        if outcome['removed'].get('failed'):
            dm.guest({'op': 'cleanup', 'prefix': PREFIX})


def _by_name(result):
    return dict((d['name'], d) for d in result['devices'])


@pytest.mark.parametrize('target_type', TYPES)
def test_target_type(built, target_type):
    if target_type in built['missing']:
        pytest.skip('kernel %s has no %s target: %s' % (built['kernel'], target_type, built['missing'][target_type]))
    name = n(target_type)
    first = _by_name(built['first'])[name]
    assert first['changed'] is True and first['before'] == {'exists': False}, first
    assert first['after']['exists'] and first['after']['target_types'] == [target_type], first
    info = built['info']['devices'][name]
    assert info['target_types'] == [target_type], info
    assert info['suspended'] is False and info['table'], info
    assert [s['target_type'] for s in info['status']] == [target_type], info['status']
    again = _by_name(built['again'])[name]
    assert again['changed'] is False, again


def test_batch_created_and_repeated(built):
    """The batch as a whole: changed, then not changed, with every device (backing ones too)."""
    names = sorted(i['name'] for i in built['items'])
    assert built['first']['changed'] is True
    assert sorted(_by_name(built['first'])) == names
    assert sorted(built['info']['names']) == names and built['info']['count'] == len(names)
    changed = [d['name'] for d in built['again']['devices'] if d['changed']]
    assert built['again']['changed'] is False and not changed, changed
    assert not any(d['commands'] for d in built['again']['devices']), built['again']['devices']


VARIANTS = {
    # the kernel requires the option count even when there is no option
    'integrity-no-options': dict(type='integrity', length=8 * MIB, options={'tag_size': 4, 'mode': 'J'}),
    # block_size:512 is the default, which the kernel does not echo
    'integrity-default-block-size': dict(type='integrity', length=8 * MIB, options={
        'tag_size': 4, 'mode': 'J', 'options': {'block_size': 512}}),
    # bio-based multipath stacks on dm devices; the kernel echoes it with retain_attached_hw_handler
    'multipath-bio': dict(type='multipath', length=4 * MIB, options={
        'features': ['queue_mode', 'bio'], 'groups': [{'selector': 'service-time', 'paths': ['BASE']}]}),
}


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_variant(dm, prefix, area, variant):
    """Plain uses of a target beside the batch above: created, then a repeat changes nothing."""
    dm.guest(area.zero(0, 200, 16))
    base = dict(name=prefix + 'base', **area.lin(0, 200, 16))
    item = dict(VARIANTS[variant], name=prefix + 'dev')
    options = dict(item['options'])
    if item['type'] == 'integrity':
        options['device'] = mapper(base['name'])
    else:
        options['groups'] = [dict(g, paths=[mapper(base['name'])]) for g in options['groups']]
    item['options'] = options
    try:
        first = dm.module('dm_target', devices=[base, item])
        assert first['changed'] is True
        assert dm.module('dm_target', devices=[base, item])['changed'] is False
    finally:
        dm.module('dm_target', state='absent', devices=[{'name': item['name']}, {'name': base['name']}])
