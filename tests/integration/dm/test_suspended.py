"""state: suspended and state: active, and reading a host where a device is suspended.

dm-era answers ``dmsetup status`` through its worker, which does not run while the device is
suspended: a status read of a suspended era device blocks until it is resumed (.lab/dm-probe.md
item 10). Discovery must still answer; a module that hangs is killed after a while and the
devices are resumed, so the guest is not left blocked."""

import subprocess

from dm_helpers import MIB, mapper

# A blocked status read never ends by itself (only a resume ends it), so this only tells a hang
# from a slow answer: generous, as one module run can take over a minute on a loaded TCG guest.
WAIT = 300


def test_suspend_and_resume_then_read_while_suspended(dm, prefix, area):
    lin, meta, origin, era = [prefix + x for x in ('lin', 'meta', 'origin', 'era')]
    devices = [dict(name=lin, **area.lin(0, 0, 8)), dict(name=meta, **area.lin(0, 8, 4)),
               dict(name=origin, **area.lin(1, 0, 32)),
               dict(name=era, type='era', length=32 * MIB, options={
                   'metadata_dev': mapper(meta), 'origin': mapper(origin), 'block_size': 128})]
    dm.guest(area.zero(0, 8))
    dm.module('dm_target', devices=devices)

    suspended = info = live = None
    try:
        suspended = dm.module('dm_device', state='suspended', devices=[{'name': lin}, {'name': era}], _timeout=WAIT)
        live = dm.devices()
        info = dm.module('dm_info', names=[lin, era], _timeout=WAIT)
    except subprocess.TimeoutExpired:
        pass
    finally:
        resumed = dm.guest({'op': 'run', 'argv': ['dmsetup', 'resume', lin]},
                           {'op': 'run', 'argv': ['dmsetup', 'resume', era]})
    assert suspended is not None, ('dm_device state=suspended did not answer in %d s with an era device '
                                   '(dmsetup status blocks on a suspended era device until it is resumed)' % WAIT)
    assert all(d['changed'] and d['after']['suspended'] for d in suspended['devices']), suspended['devices']
    assert live[lin]['suspended'] == 'Suspended' and live[era]['suspended'] == 'Suspended', live
    assert info is not None, ('dm_info did not answer in %d s while an era device was suspended '
                              '(dmsetup status blocks on it until it is resumed)' % WAIT)
    assert all(r['rc'] == 0 for r in resumed), resumed
    assert info['devices'][lin]['suspended'] is True and info['devices'][era]['suspended'] is True, info

    again = dm.module('dm_device', state='active', devices=[{'name': lin}, {'name': era}])
    assert not again['changed'], 'they were resumed already: %s' % again['devices']
    dm.module('dm_target', state='absent', devices=[{'name': n} for n in (era, origin, meta, lin)])
