#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_fault_trial
short_description: Break the stacks of a host on purpose while a workload runs, heal them, and say what each layer did
version_added: 0.2.0
description:
  - For every stack of O(stacks) (built by M(sts.devicemapper.dm_thin_stack), M(sts.devicemapper.dm_cache_stack) or
    M(sts.devicemapper.dm_era_stack) on a loop file or one disk) and every fault of O(faults), one trial after the other.
  - "A trial: the fault is put under one carved layer of the stack exactly as M(sts.devicemapper.dm_fault) does it
    (the same record, the same single reload each way); for O(faults[].duration) seconds a workload reads the known
    data of the stack's top devices (thin volumes and snapshots, the cache or era device) and writes 64 KiB blocks
    past it, each I/O timed; what every layer reports meanwhile is read (the pool's mode and flags, the thin
    devices, the cache's metadata mode, flags and hits, the era, the filesystems mounted on the volumes: read-only
    or not); the fault is healed; the layers are read again and the known data is compared with the checksums in
    the stack's record."
  - The result holds, per trial, the I/O counts, the layers' reports before, under the fault and after the heal,
    sentences saying what each layer did, whether the healthy table came back, and whether the data is intact.
  - A fault under a pool's or a cache's metadata can leave it failed or read-only after the heal; that is reported
    (and M(sts.devicemapper.dm_thin_repair) recovers a thin pool).
  - "With O(recover), a filesystem on a top device whose known data cannot be read after the heal (since kernel 6.6
    an ext4 that met write errors shuts itself down: its reads fail with EIO until it is mounted again) is
    unmounted, checked with C(e2fsck -f -p) (only the fixes that are safe without a person) and mounted again with
    its options, and the data is compared again; the trial records every step and both comparisons."
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dm.LOCK
attributes:
  check_mode:
    support: full
    details: Plans every trial (the device and the faulty table); no table is loaded, no I/O is done.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  stacks:
    description: The stacks to break, each built by this collection on a loop file or one disk.
    type: list
    elements: dict
    required: true
    suboptions:
      kind:
        description: The kind of stack.
        type: str
        required: true
        choices: [thin, cache, era]
      name:
        description: The stack's name.
        type: str
        required: true
      dir:
        description: The directory of the stacks' directories (the stack module's C(dir), the roles' C(*_loop_dir)).
        type: path
        default: /var/lib/sts-devicemapper
  faults:
    description:
      - The faults to try under each stack, in order. Default an V(error), a V(flakey) (up 1 s, down 1 s) and a
        V(delay) (100 ms reads and writes), each under the thin pool's data device or the cache's or era's origin.
    type: list
    elements: dict
    suboptions:
      fault:
        description: The fault, as M(sts.devicemapper.dm_fault) takes it (C(type) and its options).
        type: dict
        required: true
      layer:
        description:
          - The carved layer to put it under (M(sts.devicemapper.dm_fault)'s C(stack.layer)); default V(data) for a
            thin stack, V(origin) for a cache or era stack.
        type: str
        choices: [metadata, data, cache_data, origin]
      start:
        description: The first sector of the range to break (a number of sectors or a size such as V(1M)).
        type: str
      length:
        description: The length of the range; default to the end of the device.
        type: str
      duration:
        description: Seconds the workload runs under this fault; default O(duration).
        type: float
  duration:
    description: Seconds the workload runs under each fault (at least one pass over the devices).
    type: float
    default: 5
  recover:
    description:
      - After the heal, unmount, check (C(e2fsck -f -p), ext2/3/4 only) and mount again every filesystem on the
        stack's top devices whose known data cannot be read, then compare the data again.
      - V(false) leaves such a filesystem as the fault left it, and the data as unreadable.
    type: bool
    default: true
  record_dir:
    description: Directory of the fault records (M(sts.devicemapper.dm_fault)'s O(sts.devicemapper.dm_fault#module:record_dir)).
    type: path
    default: /var/lib/sts-devicemapper/faults
  udev_timeout:
    description: Seconds to wait for udev after a table change.
    type: int
    default: 10
seealso:
  - module: sts.devicemapper.dm_fault
  - module: sts.devicemapper.dm_thin_repair
'''

EXAMPLES = r'''
- name: An error, a flakey and a delay fault under the thin and the cache stack, 5 s each
  sts.devicemapper.dm_fault_trial:
    stacks:
      - {kind: thin, name: sts_thin}
      - {kind: cache, name: sts_cache}
  register: trials

- name: A slow metadata device under the pool, 10 s
  sts.devicemapper.dm_fault_trial:
    stacks: [{kind: thin, name: sts_thin}]
    faults:
      - fault: {type: delay, read_ms: 200, write_ms: 200}
        layer: metadata
        duration: 10
'''

RETURN = r'''
trials:
  description:
    - One per stack and fault, in order. Keys C(stack), C(kind), C(layer), C(device) (the device broken), C(fault),
      C(start), C(length), C(duration); C(io) (C(reads_ok), C(reads_failed), C(writes_ok), C(writes_failed),
      C(slowest_read_ms), C(slowest_write_ms), C(errors)) and C(io_words); C(before), C(during), C(after) (for each
      layer, C(role), C(present), C(suspended), the status fields, C(failed), C(status)); C(did) (sentences);
      C(healed) (the healthy table is back); C(table_injected), C(table_after); C(data) (per volume C(path),
      C(sha256), C(expected), C(intact), C(unreadable)), C(data_verified) and C(data_words); C(recovery) (per
      filesystem recovered after the heal with O(recover), C(filesystem), C(device), C(fstype), C(steps) (each C(argv),
      C(rc), C(output)), C(recovered)) and C(data_before_recovery) (C(data) as it was before, null without a
      recovery).
  returned: always
  type: list
  elements: dict
problems:
  description: Trials not healed, or whose known data differs or cannot be read after the heal (and the recovery).
  returned: always
  type: list
  elements: str
data_verified:
  description: Every trial's known data matched after its heal (null in check mode).
  returned: always
  type: bool
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.fault import RECORD_DIR
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.fault_trial import FaultTrialRunner


def main():
    FaultTrialRunner.execute(dict(
        stacks=dict(type='list', elements='dict', required=True, options=dict(
            kind=dict(type='str', required=True, choices=['thin', 'cache', 'era']),
            name=dict(type='str', required=True),
            dir=dict(type='path', default='/var/lib/sts-devicemapper'))),
        faults=dict(type='list', elements='dict', options=dict(
            fault=dict(type='dict', required=True),
            layer=dict(type='str', choices=['metadata', 'data', 'cache_data', 'origin']),
            start=dict(type='str'), length=dict(type='str'), duration=dict(type='float'))),
        duration=dict(type='float', default=5),
        recover=dict(type='bool', default=True),
        record_dir=dict(type='path', default=RECORD_DIR),
        udev_timeout=dict(type='int', default=10)))


if __name__ == '__main__':
    main()
