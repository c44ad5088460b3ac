#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_thin_stack
short_description: A device-mapper thin-provisioning stack, built, verified or torn down in one run
version_added: 0.2.0
description:
  - Builds a thin-pool with thin volumes and snapshots on a sparse loop file it creates, on one given disk
    (carved with linear targets, metadata first) or on two given block devices (metadata, data); makes and
    mounts filesystems on volumes, writes a known workload once, takes the snapshots after it, and verifies
    the live pool. Everything in one module run; a converged stack is read and left as it is.
  - The layout (metadata and data sizes) is decided when the stack is first built and kept with what was
    created in a state record C(<dir>/<name>/state.json), written before anything is created, so that
    O(state=absent) finds everything even after a failed build.
  - O(state=absent) unmounts, removes the thin devices, the pool and the carve-outs, detaches and deletes the
    loop file, removes the mount points it created and the stack's directory. On given disks it then zeroes
    the first 4 KiB of the metadata area (the superblock its build wrote), so the disks read as blank again
    and the next build on them passes O(safe_mode); nothing else on them is written.
  - The role C(sts.devicemapper.thin_stack) is this module's call plus the per-host fact.
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dm
  - sts.devicemapper.dm.LOCK
  - sts.devicemapper.dm.STACK
attributes:
  check_mode:
    support: full
    details:
      - Returns the plan in RV(actions) and changes nothing. A loop file that is not attached yet has no
        device to read tables against, so its stack is planned as wholly new; volumes that do not exist yet
        are not probed for filesystems.
  diff_mode:
    support: full
    details: The state record before and after.
  platform:
    platforms: posix
requirements:
  - thin-provisioning-tools (0.9 or 1.x), util-linux (C(losetup), C(wipefs), C(blkdiscard), C(blkid),
    C(findmnt), C(mount)) and C(mkfs.<filesystem>) for the filesystems asked for.
options:
  state:
    description: V(present) builds (or completes) the stack, V(absent) tears it down.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Prefix of the stack's dm devices (C(<name>_pool), C(<name>_meta), C(<name>_data)) and name of its
        directory under O(dir). Letters, digits and C(_ . + -), at most 100.
    type: str
    default: sts_thin
  dir:
    description: Where the stack's directory C(<dir>/<name>/) is kept (state record, loop file).
    type: path
    default: /var/lib/sts-devicemapper
  metadata_device:
    description: A given block device for the pool's metadata, used whole. Goes with O(data_device).
    type: path
  data_device:
    description: A given block device for the pool's data, used whole (rounded down to pool blocks).
    type: path
  device:
    description:
      - One given disk, carved with linear targets C(<name>_meta) (first) and C(<name>_data) (the rest,
        rounded down to pool blocks). Not with O(metadata_device) and O(data_device).
    type: path
  loop_size:
    description:
      - Without given disks, the pool's data size; the sparse loop file is this plus the metadata size.
        At least 16 pool blocks.
      - Sizes are 512-byte sectors as numbers, or strings with a unit (V(64KiB), V(512M), V(1.5G), V(128s)).
    type: raw
    default: 1G
  safe_mode:
    description:
      - Refuse given disks that hold a filesystem, partition table, LVM or other signature (C(wipefs)), or whose
        metadata area holds thin, cache or era metadata, unless the state record says this stack was built on
        them. V(false) erases the signatures (C(wipefs --all)) and builds anyway.
    type: bool
    default: true
  pool:
    description: The thin-pool's options.
    type: dict
    default: {}
    suboptions:
      block_size:
        description: Data block size, a multiple of 64KiB from 64KiB to 1GiB.
        type: raw
        default: 64KiB
      low_water_mark:
        description: Free data blocks below which the kernel sends an event.
        type: int
        default: 0
      features:
        description: Pool features.
        type: list
        elements: str
        choices: [skip_block_zeroing, ignore_discard, no_discard_passdown, read_only, error_if_no_space]
        default: []
  metadata_size:
    description:
      - Size of the metadata area for loop and one-disk backing. Omitted, C(thin_metadata_size)'s estimate for
        the pool size and the number of volumes and snapshots, rounded up to 4KiB, at least 2MiB.
    type: raw
  volumes:
    description: The thin volumes, created in this order.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The dm device name (C(/dev/mapper/<name>)).
        type: str
        required: true
      size:
        description: The volume's virtual size.
        type: raw
        required: true
      dev_id:
        description: The thin dev_id; default the position in volumes followed by snapshots, from 1.
        type: int
      filesystem:
        description: Make this filesystem (C(mkfs.<filesystem>)) when C(blkid) finds none on the volume.
        type: str
        choices: [ext2, ext3, ext4, xfs, btrfs, vfat]
      mount:
        description: Mount the volume here (not in C(/etc/fstab)); needs a O(volumes[].filesystem).
        type: path
  snapshots:
    description: Thin snapshots, taken on the first build after the volumes got their filesystem and workload.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The dm device name.
        type: str
        required: true
      origin:
        description: The volume (or an earlier snapshot) to snapshot.
        type: str
        required: true
      size:
        description: The snapshot's virtual size; default the origin's.
        type: raw
      dev_id:
        description: The thin dev_id; default as for volumes.
        type: int
  workload:
    description:
      - Write a known 256KiB pattern once to every volume (at the start of a raw volume, as
        C(<mount>/<name>_workload.bin) on a mounted one) with direct I/O, read it back past the page cache and
        record the pattern's sha256; a read-back that differs from the pattern fails the task. A volume with a
        recorded checksum is not written again.
    type: bool
    default: false
  verify:
    description:
      - Run C(thin_check) on the live pool through a metadata snapshot held for the check alone (released right
        after, only if this run reserved it) and read the status; RV(problems) lists what is wrong.
    type: bool
    default: true
seealso:
  - module: sts.devicemapper.dm_target
  - module: sts.devicemapper.dmpd_check
'''

EXAMPLES = r'''
- name: A pool on a loop file, an ext4 volume mounted, a raw one and its snapshot
  sts.devicemapper.dm_thin_stack:
    name: lab
    loop_size: 1G
    volumes:
      - {name: lab_fs, size: 256M, filesystem: ext4, mount: /mnt/lab_fs}
      - {name: lab_raw, size: 128M}
    snapshots:
      - {name: lab_raw_snap, origin: lab_raw}
    workload: true
  register: stack

- name: Fail unless the pool is healthy
  ansible.builtin.assert:
    that: stack.problems | length == 0
    fail_msg: "{{ stack.problems | join('; ') }}"

- name: Tear it down
  sts.devicemapper.dm_thin_stack:
    name: lab
    state: absent
'''

RETURN = r'''
report:
  description:
    - The stack as the fleet report reads it (the role's fact C(thin_stack_report)); usage figures come from
      the pool's status, V(null) where there is no pool (check mode of a new stack, O(state=absent)).
  returned: always
  type: dict
  contains:
    name: {description: The stack's name., type: str}
    state: {description: V(present) or V(absent)., type: str}
    pool: {description: The thin-pool device's name., type: str}
    backing: {description: 'V(loop), V(disk) or V(devices).', type: str}
    loop_file: {description: The loop file (loop backing)., type: str}
    loop_device: {description: The loop device it is attached to., type: str}
    data_device: {description: The pool's data device., type: str}
    metadata_device: {description: The pool's metadata device., type: str}
    block_size: {description: Pool block size in sectors., type: int}
    volumes: {description: The volumes' names., type: list, elements: str}
    snapshots: {description: The snapshots' names., type: list, elements: str}
    pool_mode: {description: 'V(rw), V(ro) or V(out_of_data_space).', type: str}
    transaction_id: {description: The pool's transaction id., type: int}
    data_used_blocks: {description: Used data blocks., type: int}
    data_total_blocks: {description: Data blocks., type: int}
    data_usage_pct: {description: Used data in percent., type: float}
    metadata_used_blocks: {description: Used metadata blocks., type: int}
    metadata_total_blocks: {description: Metadata blocks., type: int}
    metadata_usage_pct: {description: Used metadata in percent., type: float}
    needs_check: {description: The pool's needs_check flag., type: bool}
    check_healthy: {description: The verdict of C(thin_check); V(null) when not checked., type: bool}
    tool_version: {description: "The version of thin-provisioning-tools, when the tools ran.", type: str}
    checksums: {description: sha256 of each volume's workload pattern (its read-back matched it)., type: dict}
    io:
      description:
        - With O(stats), the I/O of each volume and snapshot since its statistics region was made, read at the end of
          the run. Device name to the region's counters summed over its areas, named as M(sts.devicemapper.dm_stats)
          names them. These are C(reads), C(reads_merged), C(sectors_read), C(read_time), C(writes),
          C(writes_merged), C(sectors_written), C(write_time), C(in_flight), C(io_ticks), C(time_in_queue),
          C(read_ticks) and C(write_ticks), in 512-byte sectors and milliseconds.
        - A device that is not there or suspended, or has no region yet (in check mode, one that would be made),
          maps to V(null).
        - V(null) without O(stats) and for O(state=absent).
      type: dict
      sample: {lab_raw: {reads: 6, writes: 4, sectors_read: 768, sectors_written: 512, io_ticks: 16}}
    removed: {description: The devices removed (O(state=absent))., type: list, elements: str}
    loops_detached: {description: The loop devices detached (O(state=absent))., type: list, elements: str}
  sample: {name: lab, state: present, pool: lab_pool, backing: loop, pool_mode: rw, data_used_blocks: 10}
problems:
  description: What is wrong with the built stack (pool not rw, needs_check, failed check, a thin device missing or suspended).
  returned: always
  type: list
  elements: str
  sample: ["pool lab_pool: needs_check is set"]
actions:
  description: What the run changed (in check mode, would change), in order.
  returned: always
  type: list
  elements: str
  sample: ["write the stack record /var/lib/sts-devicemapper/lab/state.json", "create device lab_pool"]
devices:
  description: The per-device results of M(sts.devicemapper.dm_target) batches the run applied.
  returned: always
  type: list
  elements: dict
commands:
  description: The commands other than C(dmsetup) that changed the host (planned ones in check mode).
  returned: always
  type: list
  elements: list
  sample: [["losetup", "--find", "--show", "/var/lib/sts-devicemapper/lab/pool.img"]]
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._stack.thin import FILESYSTEMS, POOL_FEATURES, ThinStackRunner

ARGUMENT_SPEC = dict(
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    name=dict(type='str', default='sts_thin'),
    dir=dict(type='path', default='/var/lib/sts-devicemapper'),
    metadata_device=dict(type='path'),
    data_device=dict(type='path'),
    device=dict(type='path'),
    loop_size=dict(type='raw', default='1G'),
    safe_mode=dict(type='bool', default=True),
    pool=dict(type='dict', default={}, options=dict(
        block_size=dict(type='raw', default='64KiB'),
        low_water_mark=dict(type='int', default=0),
        features=dict(type='list', elements='str', choices=list(POOL_FEATURES), default=[]),
    )),
    metadata_size=dict(type='raw'),
    volumes=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        size=dict(type='raw', required=True),
        dev_id=dict(type='int'),
        filesystem=dict(type='str', choices=list(FILESYSTEMS)),
        mount=dict(type='path'),
    )),
    snapshots=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        origin=dict(type='str', required=True),
        size=dict(type='raw'),
        dev_id=dict(type='int'),
    )),
    workload=dict(type='bool', default=False),
    stats=dict(type='bool', default=False),
    verify=dict(type='bool', default=True),
    udev_timeout=dict(type='int', default=10),
)


def main():
    ThinStackRunner.execute(ARGUMENT_SPEC, mutually_exclusive=[('device', 'metadata_device'), ('device', 'data_device')],
                            required_together=[('metadata_device', 'data_device')])


if __name__ == '__main__':
    main()
