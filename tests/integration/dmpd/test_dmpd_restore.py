"""dmpd_restore on real tools: idempotence, refusal, backups, overrides, bad input."""

import pytest


def _four_steps(host, module, dest, **args):
    """Check mode, real, repeat, repeat in check mode; returns the real run's result."""
    first = host.module(module, check=True, dest=dest, **args)
    assert first['changed'] is True
    assert not host.exists(dest), 'check mode created %s' % dest
    real = host.module(module, diff=True, dest=dest, **args)
    assert real['changed'] is True
    assert real['diff']['before']['exists'] is False and real['diff']['after']['exists'] is True
    again = host.module(module, dest=dest, **args)
    assert again['changed'] is False, again
    again_check = host.module(module, check=True, dest=dest, **args)
    assert again_check['changed'] is False
    return real


@pytest.mark.guest
@pytest.mark.parametrize('family', ['thin', 'cache', 'era'])
def test_restore_four_steps_into_a_missing_file(host, scratch, family):
    dest = scratch + '/%s.meta' % family
    real = _four_steps(host, 'dmpd_restore', dest, src=host.path('%s-small.xml' % family))
    assert real['family'] == family and real['backup_file'] is None
    assert host.mode(dest) == '0600' and host.size(dest) >= 40960
    assert host.rc('%s_check' % family, '-q', dest) == 0
    # What the tool dumps back is what was restored.
    dumped = scratch + '/back.xml'
    host.command('%s_dump' % family, '-o', dumped, dest)
    grep = host.command('grep', '-c', 'origin_begin="10" data_begin="20" length="2"', dumped,
                        expect_failure=None)
    assert (grep['rc'] == 0) is (family == 'thin')


def test_different_metadata_is_refused_then_forced_with_a_backup(host, scratch):
    dest = scratch + '/pool.meta'
    host.module('dmpd_restore', src=host.path('thin-small.xml'), dest=dest)
    before = host.sha256(dest)
    refused = host.module('dmpd_restore', src=host.path('thin-small.xml'), dest=dest,
                          transaction_id=42, expect_failure=True)
    assert 'holds thin metadata that differs' in refused['msg'] and 'force' in refused['msg']
    assert host.sha256(dest) == before, 'a refused restore changed dest'

    forced = host.module('dmpd_restore', src=host.path('thin-small.xml'), dest=dest,
                         transaction_id=42, force=True, backup_dir=scratch)
    assert forced['changed'] is True
    backup = forced['backup_file']
    assert backup.startswith(scratch + '/') and backup.endswith('.xml')
    assert host.mode(backup) == '0600'
    assert host.command('grep', '-c', 'transaction="7"', backup)['rc'] == 0
    assert host.module('dmpd_check', path=dest)['transaction_id'] == 42
    # The backup restores the old metadata exactly.
    back = host.module('dmpd_restore', src=backup, dest=dest, force=True, backup=False)
    assert back['changed'] is True and back['backup_file'] is None
    assert host.module('dmpd_restore', src=host.path('thin-small.xml'), dest=dest)['changed'] is False


def test_other_data_is_refused_and_backed_up_raw_when_forced(host, scratch):
    dest = scratch + '/data.img'
    host.write(dest, 'precious data\n' * 400)
    before = host.sha256(dest)
    refused = host.module('dmpd_restore', src=host.path('era-small.xml'), dest=dest, expect_failure=True)
    assert 'no thin, cache or era superblock magic' in refused['msg']
    assert host.sha256(dest) == before
    forced = host.module('dmpd_restore', src=host.path('era-small.xml'), dest=dest, force=True)
    assert forced['backup_file'].endswith('.bin')
    assert host.sha256(forced['backup_file']) == before
    assert host.module('dmpd_check', path=dest)['family'] == 'era'


def test_xml_the_tool_rejects_fails_and_leaves_dest_alone(host, scratch):
    dest = scratch + '/pool.meta'
    host.module('dmpd_restore', src=host.path('thin-small.xml'), dest=dest)
    before = host.sha256(dest)
    bad = scratch + '/beyond-end.xml'
    host.edit(host.path('thin-small.xml'), bad, 'data_block="21"', 'data_block="2000"')
    failed = host.module('dmpd_restore', src=bad, dest=dest, force=True, expect_failure=True)
    assert 'thin_restore of src %s failed' % bad in failed['msg']
    assert host.sha256(dest) == before


def test_bad_src_fails_clearly(host, scratch):
    binary = host.module('dmpd_restore', src=host.path('tmeta.bin'), dest=scratch + '/x', expect_failure=True)
    assert 'is not an XML metadata dump' in binary['msg'] and 'dmpd_repair' in binary['msg']
    wrong = host.module('dmpd_restore', src=host.path('thin-small.xml'), dest=scratch + '/x', family='cache',
                        expect_failure=True)
    assert 'is a thin metadata dump, not cache' in wrong['msg']
    missing = host.module('dmpd_restore', src=scratch + '/none.xml', dest=scratch + '/x', expect_failure=True)
    assert 'does not exist' in missing['msg']
    to_dir = host.module('dmpd_restore', src=host.path('thin-small.xml'), dest=scratch, expect_failure=True)
    assert 'is a directory' in to_dir['msg']
    override = host.module('dmpd_restore', src=host.path('cache-small.xml'), dest=scratch + '/x',
                           transaction_id=3, expect_failure=True)
    assert 'transaction_id apply to thin metadata only' in override['msg']
    assert not host.exists(scratch + '/x')


def test_cache_options(host, scratch):
    dest = scratch + '/cache.meta'
    result = host.module('dmpd_restore', src=host.path('cache-small.xml'), dest=dest,
                         metadata_version='1', omit_clean_shutdown=True)
    assert '--omit-clean-shutdown' in result['cmd'] and '--metadata-version' in result['cmd']
    assert host.rc('cache_check', '-q', dest) == 0
