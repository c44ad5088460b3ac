"""The dmpd modules next to a live thin pool: only where the host has kernel device-mapper
(the lab guests); skipped on a host whose kernel has none."""

import pytest


@pytest.fixture
def live_pool(host, scratch):
    """A thin-pool over two loop devices (4 MiB metadata, 64 MiB data), removed afterwards."""
    if host.rc('dmsetup', 'version') != 0:
        pytest.skip('the test host has no kernel device-mapper (dmsetup version fails)')
    meta_file, data_file = scratch + '/meta.img', scratch + '/data.img'
    host.command('truncate', '-s', '4M', meta_file)
    host.command('truncate', '-s', '64M', data_file)
    loops = [host.command('losetup', '--find', '--show', f)['stdout'].strip() for f in (meta_file, data_file)]
    name = 'sts-dmpd-it-pool'
    # a buffered read of the metadata device's first block before the pool writes its superblock, as
    # udev's probe of a new loop device does: its zeros stay in the page cache, past which the kernel
    # writes; the modules must read what the device holds (O_DIRECT), not that cache
    host.command('dd', 'if=' + loops[0], 'of=/dev/null', 'bs=4096', 'count=1', 'status=none')
    try:
        host.command('dmsetup', 'create', name, '--table',
                     '0 131072 thin-pool %s %s 128 0' % (loops[0], loops[1]))
        host.command('dmsetup', 'message', name, '0', 'create_thin 1')
        yield dict(name=name, meta_dev=loops[0], meta_file=meta_file, data_dev=loops[1])
    finally:
        host.command('dmsetup', 'remove', '--retry', name, expect_failure=None)
        for loop in loops:
            host.command('losetup', '--detach', loop, expect_failure=None)


@pytest.mark.guest
def test_live_metadata_is_read_only_through_a_metadata_snapshot(host, live_pool):
    meta = live_pool['meta_dev']
    refused = host.module('dmpd_check', path=meta, expect_failure=True)
    assert 'in use by active device-mapper device(s) %s' % live_pool['name'] in refused['msg']
    assert 'metadata_snap' in refused['msg']
    # The file behind the loop device is the same metadata.
    via_file = host.module('dmpd_check', path=live_pool['meta_file'], expect_failure=True)
    assert live_pool['name'] in via_file['msg']

    host.command('dmsetup', 'message', live_pool['name'], '0', 'reserve_metadata_snap')
    try:
        snap = host.module('dmpd_check', path=meta, metadata_snap=True)
        assert snap['healthy'] is True and snap['family'] == 'thin'
        rows = host.module('dmpd_info', path=meta, metadata_snap=True, thin_ls=True)['thin_ls']
        assert [row['dev'] for row in rows] == [1]
    finally:
        host.command('dmsetup', 'message', live_pool['name'], '0', 'release_metadata_snap')


@pytest.mark.guest
def test_live_metadata_is_never_written(host, live_pool):
    meta = live_pool['meta_dev']
    for module, args in (('dmpd_restore', dict(src=host.path('thin-small.xml'), force=True)),
                         ('dmpd_repair', dict(src=host.path('tmeta.bin'), force=True))):
        result = host.module(module, dest=meta, expect_failure=True, **args)
        assert 'is in use by active device-mapper device(s) %s' % live_pool['name'] in result['msg'], result
    clear = host.module('dmpd_check', path=meta, clear_needs_check_flag=True, metadata_snap=True,
                        expect_failure=True)
    assert 'clear_needs_check_flag would write to it' in clear['msg']
    trim = host.module('dmpd_trim', metadata_dev=meta, data_dev=live_pool['data_dev'], expect_failure=True)
    assert 'thin_trim needs the pool deactivated' in trim['msg']
    status = host.command('dmsetup', 'status', live_pool['name'])['stdout']
    assert ' thin-pool ' in status and ' rw ' in status, status
