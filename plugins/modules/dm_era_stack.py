#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_era_stack
short_description: A device-mapper era stack, built, read, verified or torn down in one run
version_added: 0.2.0
description:
  - Builds a dm-era device named O(name) over an origin, with its metadata on two given disks (metadata,
    origin), on one given disk carved with linear targets (C(<name>_emeta) first, C(<name>_eorig) the rest)
    or on a sparse file of its own (C(<dir>/<name>/backing.img)) on a loop device, carved the same way.
    Every backing also gets C(<name>_emeta_ro), a read-only linear view of the metadata device, for the
    tools. Everything in one module run; a converged stack is read and left as it is.
  - A record of the build is kept in C(<dir>/<name>/state.json), written before anything is created, so
    that O(state=absent) finds everything even after a failed build. Its keys are those the Jinja role
    C(sts.devicemapper.era_stack) wrote before this module, so stacks it built are recognised.
  - Every run that is not in check mode reads the live device without suspending it (a suspended dm-era
    answers neither status nor messages until resumed, which would stall every C(dmsetup status) on the host).
    It takes a metadata snapshot (C(take_metadata_snap), which commits the metadata, archives the current
    era's writes and starts a new era). While the snapshot is held it runs C(era_invalidate) on the snapshot,
    and C(era_check) (with O(verify)) and C(era_dump --logical) on the read-only view, since the tools cannot
    open the metadata device the kernel holds, and dm-era commits its metadata before a write it tracks
    completes, so the view is consistent.
    The snapshot is dropped whatever fails.
  - O(state=absent) drops a snapshot the device still holds, removes the era device and the view, runs
    C(era_check) on the metadata they left (with O(verify), a failure stops the teardown there, leaving the
    metadata for a look), then removes the carve-outs, detaches the loop device and deletes the stack's
    directory. On given disks it then zeroes the first 4 KiB of the metadata area (the superblock its build
    wrote), so the next build on them passes O(safe_mode); nothing else on them is written.
  - The role C(sts.devicemapper.era_stack) is this module's call plus the per-host fact.
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
      - Returns the plan in RV(actions) and changes nothing; the metadata snapshot and the tools are not run,
        so RV(report) has the current era only. A loop file that is not attached yet has no device to read
        tables against, so its stack is planned as wholly new.
  diff_mode:
    support: full
    details: The state record before and after.
  platform:
    platforms: posix
requirements:
  - thin-provisioning-tools (0.9 or 1.x; C(era_check), C(era_invalidate), C(era_dump)), util-linux (C(losetup),
    C(wipefs), C(lsblk), C(blkdiscard), C(blockdev)).
options:
  state:
    description: V(present) builds the stack (or leaves it as it is) and reports; V(absent) tears it down.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Name of the era device and prefix of its carve-outs (C(_emeta), C(_eorig)) and view (C(_emeta_ro));
        also the name of its directory under O(dir). A letter or digit, then at most 99 letters, digits or
        C(_ . + -).
    type: str
    default: sts_era
  dir:
    description: Where the stack's directory C(<dir>/<name>/) is kept (state record, loop file); teardown deletes it.
    type: path
    default: /var/lib/sts-devicemapper
  origin_device:
    description: The origin disk, used whole. Goes with O(metadata_device).
    type: path
  metadata_device:
    description: The disk holding the era metadata, used whole. Its first 4 KiB are zeroed when the stack is first built.
    type: path
  device:
    description:
      - One disk carved with linear targets into metadata (O(metadata_size), at its start) and the rest as origin.
      - Not with O(origin_device) and O(metadata_device).
    type: path
  metadata_size:
    description:
      - Size of the metadata carve-out (one disk and loop backing).
      - Sizes are 512-byte sectors as numbers, or strings with a unit (V(8MiB), V(1G), V(128s)).
    type: raw
    default: 8MiB
  loop_size:
    description: Size of the sparse loop file when no disk is given (metadata and origin); more than O(metadata_size).
    type: raw
    default: 256MiB
  safe_mode:
    description:
      - Before the stack is first built on given disks (no era device, no record), refuse disks holding a
        filesystem, partition table, LVM or other signature (C(wipefs)), mounted, or used by another device
        (C(lsblk)). V(false) builds anyway.
    type: bool
    default: true
  block_size:
    description: The era target's block size, the unit in which writes are tracked; a multiple of 4KiB.
    type: raw
    default: 64KiB
  since_era:
    description:
      - RV(report.changed_ranges) lists the blocks written in this era or later (C(era_invalidate --written-since)).
      - Eras start at 1, so V(1) lists every block written since the device was created.
    type: int
    default: 1
  workload:
    description:
      - Write known data (numbered 4 KiB lines) to the start of the era device when it does not hold it, compared
        on every run and read back past the page cache; its sha256 and its era blocks go into the report.
    type: bool
    default: false
  workload_size:
    description: Size of the known data, a multiple of 64KiB.
    type: raw
    default: 4MiB
  verify:
    description:
      - V(present) checks the live metadata with C(era_check) (through the view, while the snapshot is held) and
        the known data; V(absent) checks the metadata the era device left before anything else is removed.
      - What fails is listed in RV(problems).
    type: bool
    default: true
seealso:
  - module: sts.devicemapper.dm_thin_stack
  - module: sts.devicemapper.dmpd_check
'''

EXAMPLES = r'''
- name: An era device on a loop file, with known data
  sts.devicemapper.dm_era_stack:
    name: lab_era
    workload: true
  register: era

- name: Fail unless the metadata is healthy
  ansible.builtin.assert:
    that: era.problems | length == 0
    fail_msg: "{{ era.problems | join('; ') }}"

- name: What was written since an era recorded earlier, on a carved disk
  sts.devicemapper.dm_era_stack:
    name: backup_era
    device: /dev/vdd
    block_size: 256KiB
    since_era: "{{ last_backup_era }}"
  register: changed

- name: Tear it down
  sts.devicemapper.dm_era_stack:
    name: lab_era
    state: absent
'''

RETURN = r'''
report:
  description:
    - The stack as the fleet report reads it (the role's fact C(era_stack_report)). What the tools give is
      V(null) in check mode and for O(state=absent).
  returned: always
  type: dict
  contains:
    name: {description: The stack's name., type: str}
    state: {description: V(present) or V(absent)., type: str}
    device: {description: The era device's name; V(null) when there is none., type: str}
    backing:
      description: V(disks), V(device) or V(loop).
      type: str
    block_size:
      description: Era block size in 512-byte sectors, from the live table.
      type: int
    origin_device: {description: The origin device the era table names., type: str}
    metadata_device: {description: The metadata device the era table names., type: str}
    current_era: {description: The current era (after the run's snapshot started a new one)., type: int}
    since_era: {description: O(since_era)., type: int}
    changed_blocks: {description: How many era blocks were written in era O(since_era) or later., type: int}
    changed_ranges:
      description: Those blocks as C([begin, end\)) ranges.
      type: list
      elements: list
    blocks_written_per_era:
      description:
        - Era (as a string) to the number of blocks last written in that era (C(era_dump --logical) of the live
          metadata through the view); eras without such a block, and era 0 (never written), are left out.
      type: dict
    metadata_usage_pct: {description: Used / total metadata blocks in percent., type: float}
    check_healthy: {description: The verdict of C(era_check); V(null) when it did not run., type: bool}
    check_findings: {description: What C(era_check) found., type: list, elements: str}
    tool_version: {description: thin-provisioning-tools' version (O(state=absent) only when the check ran)., type: str}
    checksums: {description: C(workload_sha256) of the known data., type: dict}
    workload_blocks:
      description: The era blocks the known data covers as C([begin, end\)).
      type: list
      elements: int
    io:
      description:
        - With O(stats), the I/O of the era device since its statistics region was made, read at the end of
          the run. Device name to the region's counters summed over its areas, named as M(sts.devicemapper.dm_stats)
          names them. These are C(reads), C(reads_merged), C(sectors_read), C(read_time), C(writes),
          C(writes_merged), C(sectors_written), C(write_time), C(in_flight), C(io_ticks), C(time_in_queue),
          C(read_ticks) and C(write_ticks), in 512-byte sectors and milliseconds.
        - A device that is not there or suspended, or has no region yet (in check mode, one that would be made),
          maps to V(null).
        - V(null) without O(stats) and for O(state=absent).
      type: dict
      sample: {lab_era: {reads: 66, writes: 64, sectors_read: 8448, sectors_written: 8192, io_ticks: 120}}
    removed: {description: The devices removed (O(state=absent))., type: list, elements: str}
    loops_detached: {description: The loop devices detached (O(state=absent))., type: list, elements: str}
  sample: {name: lab_era, state: present, device: lab_era, block_size: 128, current_era: 3, changed_blocks: 64,
           blocks_written_per_era: {"1": 64}}
problems:
  description: What is wrong (a failed era_check, known data not read back, the era device missing or suspended).
  returned: always
  type: list
  elements: str
  sample: ["era_check of /dev/mapper/lab_era_emeta_ro (the read-only view of /dev/mapper/lab_era_emeta) failed: bad superblock"]
actions:
  description: What the run changed (in check mode, would change), in order. The metadata snapshot is not counted.
  returned: always
  type: list
  elements: str
  sample: ["write the stack record /var/lib/sts-devicemapper/lab_era/state.json", "create device lab_era"]
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
  sample: [["losetup", "--find", "--show", "/var/lib/sts-devicemapper/lab_era/backing.img"]]
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._stack.era import EraStackRunner

ARGUMENT_SPEC = dict(
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    name=dict(type='str', default='sts_era'),
    dir=dict(type='path', default='/var/lib/sts-devicemapper'),
    origin_device=dict(type='path'),
    metadata_device=dict(type='path'),
    device=dict(type='path'),
    metadata_size=dict(type='raw', default='8MiB'),
    loop_size=dict(type='raw', default='256MiB'),
    safe_mode=dict(type='bool', default=True),
    block_size=dict(type='raw', default='64KiB'),
    since_era=dict(type='int', default=1),
    workload=dict(type='bool', default=False),
    stats=dict(type='bool', default=False),
    workload_size=dict(type='raw', default='4MiB'),
    verify=dict(type='bool', default=True),
    udev_timeout=dict(type='int', default=10),
)


def main():
    EraStackRunner.execute(ARGUMENT_SPEC, mutually_exclusive=[('device', 'origin_device'), ('device', 'metadata_device')],
                           required_together=[('origin_device', 'metadata_device')])


if __name__ == '__main__':
    main()
