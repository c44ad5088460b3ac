# -*- coding: utf-8 -*-
"""stack suite, the seed library's side: one thin stack built or torn down with its API, on the guest.

    PYTHONPATH=SEED python3 stack_seed.py build|teardown SPEC_JSON

SPEC_JSON is what bench/stack.py's ``seed_spec`` gives: the stack's name, volumes, snapshots,
their thin ids and sectors, the pool's sectors and block size, the loop directory, the workload
shell function and the devices in the order they are created. The same stack the floor script
and the thin_stack role build, made through the seed library (sts-libs) the way its own
fixtures do it, without LVM:

- ``build``: the pool's metadata size from ``sts.dmpd.thin_metadata_size``; a loop file from
  ``sts.loop.LoopDevice.create``; the metadata and data carve-outs as ``sts.dm.LinearDevice``;
  ``sts.dm.ThinPoolDevice.from_block_devices`` (no features: block zeroing on, as the role
  and the floor have it) and ``.create``; each volume from ``ThinPoolDevice.create_thin``;
  ``sts.utils.files.mkfs`` and ``mount``; the workload (the floor's shell function, through
  the seed's ``run``); each snapshot from ``create_snapshot`` with its origin suspended and
  resumed; ``thin_check`` (``sts.dmpd``) through reserve / release_metadata_snap (pool
  ``message``);
- ``teardown``: ``sts.utils.files.umount``; every device found again by name
  (``DmDevice.get_by_name``, a new process keeps no object) and removed in reverse order;
  the loop device found among ``LoopDevice.get_all()`` by its backing file and removed with it.

Every step whose API returns False or None fails the run, naming the step. The shell strings
the seed library runs underneath are its own; nothing in plugins/ runs one.
"""

import json
import math
import os
import shutil
import sys


def fail(what):
    sys.stderr.write('stack_seed: %s failed\n' % what)
    sys.exit(1)


def metadata_sectors(spec):
    from sts import dmpd  # pylint: disable=import-outside-toplevel,import-error
    nthins = len(spec['volumes']) + len(spec['snapshots'])
    res = dmpd.thin_metadata_size(block_size='%ds' % spec['block_sectors'], pool_size='%ds' % spec['pool_sectors'],
                                  max_thins=nthins, unit='s', numeric_only=True)
    if res.failed:
        fail('thin_metadata_size: %s' % res.stderr)
    meta = int(math.ceil(float(res.stdout.split()[0])))
    return max(4096, (meta + 7) // 8 * 8)


def build(spec):
    # pylint: disable=import-outside-toplevel,import-error
    from sts import dmpd
    from sts.dm import LinearDevice, ThinPoolDevice
    from sts.loop import LoopDevice
    from sts.utils.cmdline import run
    from sts.utils.files import mkfs, mount

    name = spec['name']
    directory = os.path.join(spec['loop_dir'], name)
    meta = metadata_sectors(spec)
    pool_sectors = spec['pool_sectors']
    loop = LoopDevice.create(size_mb=int(math.ceil((meta + pool_sectors) / 2048.0)), image_path=directory)
    if loop is None:
        fail('LoopDevice.create')
    meta_dev = LinearDevice.create_positional(str(loop.path), offset=0, size_sectors=meta)
    if not meta_dev.create(name + '_meta'):
        fail('LinearDevice %s_meta' % name)
    data_dev = LinearDevice.create_positional(str(loop.path), offset=meta, size_sectors=pool_sectors)
    if not data_dev.create(name + '_data'):
        fail('LinearDevice %s_data' % name)
    pool = ThinPoolDevice.from_block_devices(meta_dev, data_dev, block_size_sectors=spec['block_sectors'],
                                             low_water_mark=0, features=[], size=pool_sectors)
    if not pool.create(name + '_pool'):
        fail('ThinPoolDevice %s_pool' % name)
    ids, sectors = spec['dev_ids'], spec['sectors']
    for vol in spec['volumes']:
        if pool.create_thin(ids[vol['name']], sectors[vol['name']], vol['name']) is None:
            fail('create_thin %s' % vol['name'])
    for vol in spec['volumes']:
        if vol.get('filesystem'):
            if not mkfs('/dev/mapper/' + vol['name'], vol['filesystem'], '-q'):
                fail('mkfs %s' % vol['name'])
            if not mount('/dev/mapper/' + vol['name'], vol['mount'], vol['filesystem']):
                fail('mount %s' % vol['name'])
    for vol in spec['volumes']:
        target = '%s/%s_workload.bin' % (vol['mount'], name) if vol.get('filesystem') else '/dev/mapper/' + vol['name']
        res = run('%s\nwork %s %s >/dev/null' % (spec['work'], vol['name'], target))
        if res.failed:
            fail('workload on %s: %s' % (target, res.stderr))
    for snap in spec['snapshots']:
        origin = pool.thin_devices[ids[snap['origin']]]
        if not origin.suspend():
            fail('suspend %s' % snap['origin'])
        made = pool.create_snapshot(ids[snap['origin']], ids[snap['name']], snap['name'])
        if not origin.resume() or made is None:
            fail('create_snapshot %s of %s' % (snap['name'], snap['origin']))
    if not pool.message(0, 'reserve_metadata_snap'):
        fail('reserve_metadata_snap')
    res = dmpd.thin_check(meta_dev.dm_device_path, metadata_snap=True)
    if not pool.message(0, 'release_metadata_snap') or res.failed:
        fail('thin_check of %s through the metadata snapshot: %s' % (meta_dev.dm_device_path, res.stderr))
    if run('dmsetup status').failed:
        fail('dmsetup status')


def teardown(spec):
    # pylint: disable=import-outside-toplevel,import-error
    from sts.dm import DmDevice
    from sts.loop import LoopDevice
    from sts.utils.files import umount

    directory = os.path.join(spec['loop_dir'], spec['name'])
    for vol in spec['volumes']:
        if vol.get('mount'):
            if not umount(mountpoint=vol['mount']):
                fail('umount %s' % vol['mount'])
            os.rmdir(vol['mount'])
    for name in reversed(spec['devices']):
        device = DmDevice.get_by_name(name)
        if device is None or not device.remove(retry=True):
            fail('remove %s' % name)
    for loop in LoopDevice.get_all():
        if loop.image_path is not None and os.path.dirname(str(loop.image_path)) == directory:
            if not loop.remove():
                fail('LoopDevice.remove %s' % loop.path)
    shutil.rmtree(directory)


def main():
    phase, spec = sys.argv[1], json.loads(sys.argv[2])
    {'build': build, 'teardown': teardown}[phase](spec)


if __name__ == '__main__':
    main()
