"""A crypt key never shows: not in any result (diff mode on, check mode, repeat, dm_info,
dm_device with the key inside a table line, a failing load), nor in what ansible printed,
also at -vvv with ansible's default output (the invocation and the whole result)."""

from dm_helpers import MIB

# mixed case on purpose: the kernel hands the key back in lower case (dmsetup table --showkeys)
KEY = '0123456789AbCdEf' * 4
NEEDLES = (KEY, KEY.lower(), KEY.upper())


def test_crypt_key_never_shows(dm, prefix, area):
    name = prefix + 'crypt'
    disk0, offset = area.at(0, 0)
    item = dict(name=name, type='crypt', length=8 * MIB, options={
        'cipher': 'aes-xts-plain64', 'key': KEY, 'device': disk0, 'offset': offset})
    line = '0 %d crypt aes-xts-plain64 %s 0 %s %d' % (8 * MIB, KEY, disk0, offset)
    # the session's scan (conftest.py) searches everything every test printed for these too
    dm.secrets.update(NEEDLES)
    start = len(dm.transcript)
    planned = dm.module('dm_target', check=True, diff=True, **item)
    assert planned['changed'] is True
    created = dm.module('dm_target', diff=True, **item)
    assert created['changed'] is True
    again = dm.module('dm_target', diff=True, **item)
    assert again['changed'] is False
    # what a user reading -vvv sees: the module's raw output, its invocation (its arguments) and whole result
    rc, out, _err = dm.module_verbose('dm_target', diff=True, **item)
    assert rc == 0 and '"module_args"' in out and '"cipher": "aes-xts-plain64"' in out and name in out, out[-3000:]
    same = dm.module('dm_device', diff=True, name=name, table=[line])
    assert same['changed'] is False, same
    other = dm.module('dm_device', check=True, diff=True, name=name, reload=True,
                      table=[line.replace(str(offset), str(offset + 8 * MIB))])
    assert other['changed'] is True, other
    info = dm.module('dm_info', names=[name])
    assert info['devices'][name]['target_types'] == ['crypt']
    failed = dm.module('dm_target', expect_failure=True, diff=True, reload=True,
                       **dict(item, options=dict(item['options'], device='250:250')))
    assert 'did not load' in failed['msg'], failed
    rc, out, _err = dm.module_verbose('dm_device', diff=True, name=name, reload=True,
                                      table=[line.replace(disk0, '250:250')])
    assert rc != 0 and 'did not load' in out and '"module_args"' in out, out[-3000:]
    removed = dm.module('dm_device', diff=True, name=name, state='absent')
    assert removed['changed'] is True
    texts = dm.transcript[start:]
    shown = [n for text in texts for n in NEEDLES if n in text]
    assert not shown, 'the crypt key shows in the module output (%d places)' % len(shown)
    table = created['after']['table']
    assert len(table) == 1 and table[0].split()[4] in ('<redacted>', '0' * len(KEY)), created['after']
