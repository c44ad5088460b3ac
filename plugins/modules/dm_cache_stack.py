#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_cache_stack
short_description: A dm-cache stack, built, verified or torn down without losing written data, in one run
version_added: 0.2.0
description:
  - Builds a dm-cache device O(name) over an origin, with its cache data and metadata on three given disks, on
    one given disk carved with linear targets (metadata at its start, cache, then the rest as origin), or on a
    sparse file C(<dir>/<name>/backing.img) of its own on a loop device, carved the same way. Everything in one
    module run; a converged stack is read and left as it is.
  - A changed O(mode), O(policy) or O(policy_args) is swapped into the live cache through the inactive table slot
    (the kernel refuses V(passthrough) while blocks are dirty, and another block size on existing metadata; the
    live table then stays as it was and the run fails). A carve-out that differs from what the sizes ask for is
    refused before anything changes, instead of moving data.
  - What was built is kept in a state record C(<dir>/<name>/state.json) (every backing; the keys are those the
    Jinja role C(cache_stack) wrote, so stacks it built are recognised), written before anything is created, so
    that O(state=absent) finds everything even after a failed build.
  - Given disks are probed when the stack is first built on them (no record, no cache device). With O(safe_mode)
    a disk holding a filesystem, partition table, LVM or other signature (C(wipefs)), mounted, or used by
    another device (C(lsblk)) is refused, naming the disk and what it holds. Then the first 4 KiB of the metadata
    area are zeroed, so the kernel formats fresh metadata; a stack with a record keeps its metadata.
  - O(state=absent) swaps the live table for the same one with the C(cleaner) policy, waits (O(clean_timeout))
    until no dirty block remains, removes the cache device, runs C(cache_check) on its metadata and compares the
    known data read back from the origin; with O(verify) a failed check or a changed checksum stops there
    (RV(problems)), leaving the metadata and the origin for a look. Then the carve-outs, the loop device and the
    stack's directory are removed. On given disks the first 4 KiB of the metadata area (the superblock the
    build wrote) are zeroed last, so the next build on them passes O(safe_mode); nothing else is written.
  - The role C(sts.devicemapper.cache_stack) is this module's call plus the per-host fact.
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
      - Returns the plan in RV(actions) and changes nothing; the verification does not run. A loop file that is not
        attached yet has no device to read tables against, so its stack is planned as wholly new.
  diff_mode:
    support: full
    details: The state record before and after.
  platform:
    platforms: posix
requirements:
  - thin-provisioning-tools (0.9 or 1.x; C(cache_check)), util-linux (C(losetup), C(wipefs), C(lsblk), C(blkdiscard),
    C(blockdev)).
options:
  state:
    description: V(present) builds the stack (or leaves it as it is); V(absent) flushes it and tears it down.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Name of the cache device and prefix of its carve-outs (C(_cmeta), C(_cdata), C(_corig)) and of the check
        view C(_cmeta_check); also the name of the stack's directory under O(dir). A letter or digit, then up to
        99 letters, digits or C(_ . + -).
    type: str
    default: sts_cache
  dir:
    description: Where the stack's directory C(<dir>/<name>/) is kept (state record, loop file).
    type: path
    default: /var/lib/sts-devicemapper
  origin_device:
    description: Origin disk. Give all three of it, O(cache_device) and O(metadata_device), or none.
    type: path
  cache_device:
    description: Fast disk holding the cache blocks.
    type: path
  metadata_device:
    description: Disk holding the cache metadata. Its first 4 KiB are zeroed when the stack is first built.
    type: path
  device:
    description:
      - One disk carved with linear targets into metadata (at its start), cache, and the rest as origin.
        Not together with the three disks above.
    type: path
  metadata_size:
    description:
      - Size of the metadata carve-out. Sizes are 512-byte sectors as numbers, or strings with a unit (V(8MiB),
        V(1G), V(128s)).
    type: raw
    default: 8MiB
  cache_size:
    description: Size of the cache carve-out.
    type: raw
    default: 64MiB
  loop_size:
    description: Size of the sparse loop file when no disk is given; more than O(metadata_size) + O(cache_size).
    type: raw
    default: 256MiB
  safe_mode:
    description:
      - Before the stack is first built on given disks, refuse disks holding a filesystem, partition table, LVM or
        other signature (C(wipefs)), mounted, or used by another device (C(lsblk)). V(false) builds anyway (the
        signatures are not erased).
    type: bool
    default: true
  block_size:
    description: Cache block size, a multiple of 32KiB from 32KiB to 1GiB.
    type: raw
    default: 64KiB
  mode:
    description: Cache mode.
    type: str
    choices: [writethrough, writeback, passthrough]
    default: writethrough
  policy:
    description: Cache policy.
    type: str
    choices: [smq, cleaner]
    default: smq
  policy_args:
    description:
      - Policy arguments as whole numbers, such as C(migration_threshold) (sectors the cache may migrate at a time;
        V(0) stops background writeback, so written blocks stay dirty until teardown). Teardown's cleaner policy
        runs with its defaults.
    type: dict
    default: {}
  workload:
    description:
      - Write known data (4 KiB lines, each naming its number) to the start of the cache device with direct I/O
        once, compare it on every run (and write it again when it differs); its sha256 goes into the record and
        the report. Teardown reads it back from the origin and compares the checksums.
    type: bool
    default: false
  workload_size:
    description: Size of the known data, a multiple of 64KiB.
    type: raw
    default: 4MiB
  verify:
    description:
      - V(present) checks the live metadata with C(cache_check) (the cache suspended for it, so the kernel commits
        its metadata, and the checker reads a read-only linear view of the metadata device; the cache is resumed
        and the view removed whatever fails), the kernel's status (read-write metadata, no needs_check, mode and
        policy as asked) and the known data; V(absent) checks the metadata and the data on the origin before the
        carve-outs are deleted, and stops there when either is wrong. RV(problems) lists what is wrong.
    type: bool
    default: true
  clean_timeout:
    description: Seconds teardown waits for the cleaner policy to write every dirty block back.
    type: int
    default: 300
seealso:
  - module: sts.devicemapper.dm_target
  - module: sts.devicemapper.dmpd_check
'''

EXAMPLES = r'''
- name: A writeback cache on a loop file, with known data that stays dirty until teardown
  sts.devicemapper.dm_cache_stack:
    name: lab_cache
    mode: writeback
    policy_args: {migration_threshold: 0}
    workload: true
  register: cache

- name: Fail unless the cache is healthy
  ansible.builtin.assert:
    that: cache.problems | length == 0
    fail_msg: "{{ cache.problems | join('; ') }}"

- name: One given disk carved into metadata, cache and origin
  sts.devicemapper.dm_cache_stack:
    name: disk_cache
    device: /dev/vdc
    metadata_size: 16MiB
    cache_size: 512MiB
    block_size: 128KiB

- name: Tear it down without losing written data
  sts.devicemapper.dm_cache_stack:
    name: lab_cache
    state: absent
'''

RETURN = r'''
report:
  description:
    - The stack as the fleet report reads it (the role's fact C(cache_stack_report)); the figures come from the
      cache's status (before teardown for O(state=absent)), V(null) where there is no cache.
  returned: always
  type: dict
  contains:
    name: {description: The stack's name., type: str}
    state: {description: V(present) or V(absent)., type: str}
    device: {description: The cache device's name; V(null) when there is none., type: str}
    backing: {description: 'V(disks), V(device) or V(loop).', type: str}
    mode: {description: The cache mode from the status., type: str}
    policy: {description: The policy from the status., type: str}
    block_size: {description: Cache block size in sectors., type: int}
    origin_device: {description: The origin the cache table names., type: str}
    cache_device: {description: The cache data device., type: str}
    metadata_device: {description: The metadata device., type: str}
    read_hits: {description: Read hits., type: int}
    read_misses: {description: Read misses., type: int}
    write_hits: {description: Write hits., type: int}
    write_misses: {description: Write misses., type: int}
    hit_ratio: {description: hits / (hits + misses); V(0.0) when there was no I/O., type: float}
    dirty_blocks: {description: Dirty cache blocks now (after the cleaner for O(state=absent))., type: int}
    dirty_blocks_before_teardown: {description: Dirty blocks when teardown began (O(state=absent))., type: int}
    cache_usage_pct: {description: Used cache blocks in percent., type: float}
    metadata_usage_pct: {description: Used metadata blocks in percent., type: float}
    metadata_mode: {description: V(rw) or V(ro)., type: str}
    needs_check: {description: The needs_check flag., type: bool}
    check_healthy: {description: The verdict of C(cache_check); V(null) when it did not run., type: bool}
    check_findings: {description: What C(cache_check) printed., type: list, elements: str}
    tool_version: {description: The version of thin-provisioning-tools., type: str}
    checksums:
      description: V(workload_sha256) of the known data; for O(state=absent) also V(origin_sha256), read back from the origin.
      type: dict
    data_intact: {description: "For O(state=absent) with the workload: the origin's checksum equals the known data's.", type: bool}
    io:
      description:
        - With O(stats), the I/O of the cache device since its statistics region was made, read at the end of
          the run. Device name to the region's counters summed over its areas, named as M(sts.devicemapper.dm_stats)
          names them. These are C(reads), C(reads_merged), C(sectors_read), C(read_time), C(writes),
          C(writes_merged), C(sectors_written), C(write_time), C(in_flight), C(io_ticks), C(time_in_queue),
          C(read_ticks) and C(write_ticks), in 512-byte sectors and milliseconds.
        - A device that is not there or suspended, or has no region yet (in check mode, one that would be made),
          maps to V(null).
        - V(null) without O(stats) and for O(state=absent).
      type: dict
      sample: {lab_cache: {reads: 70, writes: 64, sectors_read: 8704, sectors_written: 8192, io_ticks: 140}}
  sample: {name: lab_cache, state: present, device: lab_cache, backing: loop, mode: writeback, dirty_blocks: 64}
problems:
  description:
    - What is wrong with the stack (not active, metadata not rw, needs_check, mode or policy not as asked, failed
      C(cache_check), known data not there); for O(state=absent), a failed check of the metadata or a changed
      checksum on the origin.
  returned: always
  type: list
  elements: str
  sample: ["cache lab_cache: needs_check is set"]
actions:
  description: What the run changed (in check mode, would change), in order.
  returned: always
  type: list
  elements: str
  sample: ["write the stack record /var/lib/sts-devicemapper/lab_cache/state.json", "create device lab_cache"]
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
  sample: [["losetup", "--find", "--show", "/var/lib/sts-devicemapper/lab_cache/backing.img"]]
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._stack.cache import MODES, POLICIES, CacheStackRunner

ARGUMENT_SPEC = dict(
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    name=dict(type='str', default='sts_cache'),
    dir=dict(type='path', default='/var/lib/sts-devicemapper'),
    origin_device=dict(type='path'),
    cache_device=dict(type='path'),
    metadata_device=dict(type='path'),
    device=dict(type='path'),
    metadata_size=dict(type='raw', default='8MiB'),
    cache_size=dict(type='raw', default='64MiB'),
    loop_size=dict(type='raw', default='256MiB'),
    safe_mode=dict(type='bool', default=True),
    block_size=dict(type='raw', default='64KiB'),
    mode=dict(type='str', choices=list(MODES), default='writethrough'),
    policy=dict(type='str', choices=list(POLICIES), default='smq'),
    policy_args=dict(type='dict', default={}),
    workload=dict(type='bool', default=False),
    stats=dict(type='bool', default=False),
    workload_size=dict(type='raw', default='4MiB'),
    verify=dict(type='bool', default=True),
    clean_timeout=dict(type='int', default=300),
    udev_timeout=dict(type='int', default=10),
)


def main():
    CacheStackRunner.execute(ARGUMENT_SPEC, mutually_exclusive=[('device', 'origin_device'), ('device', 'cache_device'),
                                                                ('device', 'metadata_device')],
                             required_together=[('origin_device', 'cache_device', 'metadata_device')])


if __name__ == '__main__':
    main()
