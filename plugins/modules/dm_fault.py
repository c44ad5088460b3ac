#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_fault
short_description: Put a fault under a live device-mapper device, and take it away again
version_added: 0.2.0
description:
  - Breaks a live device on purpose (every I/O fails, reads return zeros, I/O fails or is dropped for
    intervals, I/O is slowed down, chosen blocks fail), without unmounting or stopping anything above it;
    the faulty table is swapped in through the kernel's inactive slot, like any reload of this collection.
  - O(state=injected) keeps the healthy table in a record on the host (O(record_dir)), written before the
    faulty table goes live; O(state=healed) swaps exactly that table back and removes the record. A heal
    therefore works from another play, or after the controller was restarted.
  - The device to break is usually one that maps a disk with C(linear) segments (a carved metadata or data
    device of a stack, a cache origin); V(error) and V(zero) can replace the segments of any device.
  - Re-running changes nothing. A run killed at any point leaves a record that the next run completes
    (O(state=injected)) or undoes (O(state=healed)), with a warning.
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dm
  - sts.devicemapper.dm.LOCK
attributes:
  check_mode:
    support: full
    details: Plans the faulty (or healthy) table and reports it; no record is written and no table loaded.
  diff_mode:
    support: full
    details: The device's table and the recorded fault, before and after.
  platform:
    platforms: posix
options:
  name:
    description:
      - The device to break, or to heal (C(/dev/mapper/NAME)); it must exist.
      - One of O(name) and O(stack) is required.
    type: str
  stack:
    description:
      - A layer of a stack this collection built on a loop file or one disk, instead of O(name). The device
        broken is the carved C(linear) device of that layer, by the name the stack modules give it
        (M(sts.devicemapper.dm_thin_stack) NAME_meta and NAME_data; M(sts.devicemapper.dm_cache_stack)
        NAME_cmeta, NAME_cdata and NAME_corig; M(sts.devicemapper.dm_era_stack) NAME_emeta and NAME_eorig).
      - A stack on given devices has no carved layer; break those devices by O(name).
    type: dict
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
      layer:
        description:
          - V(metadata) (every kind), V(data) (thin), V(cache_data) (cache), V(origin) (cache, era).
        type: str
        required: true
        choices: [metadata, data, cache_data, origin]
  state:
    description:
      - V(injected) the fault is live under the device.
      - V(healed) the device has the healthy table back, and no record is left; a device with no record is
        left as it is.
    type: str
    choices: [injected, healed]
    default: injected
  fault:
    description:
      - The fault, required with O(state=injected).
      - With O(state=healed) it may be given (the same task with only O(state) changed) and is only
        validated; the record says what to undo.
    type: dict
    suboptions:
      type:
        description:
          - V(error) every I/O to the range fails.
          - V(zero) reads of the range return zeros and writes are dropped.
          - V(flakey) the range works for O(fault.up_interval) seconds, then for O(fault.down_interval) seconds
            fails I/O (or does what O(fault.features) say), and so on.
          - V(delay) every I/O to the range waits O(fault.read_ms) (writes O(fault.write_ms), flushes
            O(fault.flush_ms)) milliseconds.
          - V(dust) reads of the blocks O(fault.bad_blocks) fail (the kernel's C(dm-dust)); a kernel without
            C(dm-dust), such as Debian's cloud kernels, is refused before anything changes.
          - V(flakey), V(delay) and V(dust) wrap the disk and offset of the device's C(linear) segments in
            the range; a range over a segment of another target is refused for them.
        type: str
        required: true
        choices: [error, zero, flakey, delay, dust]
      up_interval:
        description: V(flakey) only. Seconds the device works in each period.
        type: int
      down_interval:
        description: V(flakey) only. Seconds the device is broken in each period; up and down together above 0.
        type: int
      features:
        description:
          - V(flakey) only. What the broken interval does, as the kernel names it; without any, I/O fails.
          - "V(drop_writes), V(error_writes), V(error_reads) (kernel 6.6 and later), or a dict
            V(corrupt_bio_byte) holding C(nth_byte), C(direction) (C(r) or C(w)), C(value) and C(flags)."
        type: list
        elements: raw
      read_ms:
        description:
          - V(delay) only. Milliseconds every read waits; alone, writes and flushes wait as long.
        type: int
      write_ms:
        description: V(delay) only. Milliseconds every write waits (and every flush, unless O(fault.flush_ms)).
        type: int
      flush_ms:
        description: V(delay) only. Milliseconds every flush waits; needs O(fault.write_ms).
        type: int
      block_size:
        description: V(dust) only. Bytes in a block (a power of two, 512 or more).
        type: int
      bad_blocks:
        description:
          - V(dust) only. Block numbers, counted from the start of the range, whose reads fail (they are
            added with the target's C(addbadblock) message once its table is live).
        type: list
        elements: int
      enabled:
        description: V(dust) only. Whether the bad blocks fail at once (the C(enable) message).
        type: bool
  start:
    description:
      - The first sector of the range to break (a number of 512-byte sectors, or a size such as V(1M)).
      - A C(linear) segment is split where the range starts or ends; a segment of another target must be
        covered whole.
    type: str
  length:
    description:
      - The size of the range to break (sectors, or a size such as V(64K)); omitted, up to the end of the device.
    type: str
  replace:
    description:
      - With O(state=injected), a device that has another fault (or the same fault over another range)
        injected already gets the new one, built from the recorded healthy table.
      - V(false) fails the task instead, naming both faults.
    type: bool
    default: false
  record_dir:
    description:
      - The directory of the fault records, one C(NAME.json) per broken device, holding its healthy table,
        the table injected and the fault. A device whose table holds key material (C(crypt)) is refused;
        break the device under it instead.
    type: path
    default: /var/lib/sts-devicemapper/faults
  udev_timeout:
    description: Seconds to wait for udev after a change (see M(sts.devicemapper.dm_device)).
    type: int
    default: 10
notes:
  - The swap is one reload (C(dmsetup load), then C(dmsetup resume)); nothing above the device is suspended
    by this module for longer than that. A table that does not load leaves the live one as it was.
  - A device somebody else suspended is refused when the run would swap its table, since the swap ends with a
    resume. What a killed run of this collection left suspended is resumed first, as by every module.
seealso:
  - module: sts.devicemapper.dm_info
    description: What each layer above the fault reports (thin-pool C(read_only), C(out_of_data_space), C(failed)).
  - module: sts.devicemapper.dm_target
'''

EXAMPLES = r'''
- name: Fail every I/O to the metadata device of thin stack thin0
  sts.devicemapper.dm_fault:
    stack:
      kind: thin
      name: thin0
      layer: metadata
    fault:
      type: error

- name: The origin of cache stack cache0 fails its writes 2 s in every 10 s
  sts.devicemapper.dm_fault:
    stack: {kind: cache, name: cache0, layer: origin}
    fault:
      type: flakey
      up_interval: 8
      down_interval: 2
      features: [error_writes]

- name: Slow a device down, from 1 MiB on, 64 MiB long
  sts.devicemapper.dm_fault:
    name: thin0_data
    start: 1M
    length: 64M
    fault:
      type: delay
      read_ms: 50
      write_ms: 200

- name: Heal it (the healthy table comes back from the record)
  sts.devicemapper.dm_fault:
    name: thin0_data
    state: healed
'''

RETURN = r'''
name:
  description: The device (with O(stack), the layer's carved device).
  returned: always
  type: str
  sample: thin0_meta
stack:
  description: The stack layer asked for.
  returned: when O(stack) is given
  type: dict
  sample: {"kind": "thin", "name": "thin0", "layer": "metadata"}
state:
  description: The state asked for.
  returned: always
  type: str
  sample: injected
record:
  description: The path of the device's fault record.
  returned: always
  type: str
  sample: /var/lib/sts-devicemapper/faults/thin0_meta.json
fault:
  description: The fault, normalised (with O(state=healed), the one the record held).
  returned: when a fault is injected or was healed
  type: dict
  sample: {"type": "flakey", "up_interval": 8, "down_interval": 2, "features": ["error_writes"]}
start:
  description: The first sector of the range.
  returned: when a fault is injected or was healed
  type: int
  sample: 0
length:
  description: The sectors in the range.
  returned: when a fault is injected or was healed
  type: int
  sample: 8192
healthy_table:
  description: The healthy table (the one the heal puts back).
  returned: when the device exists
  type: list
  elements: str
  sample: ["0 8192 linear 254:16 2048"]
table:
  description: The device's live table after the run (in check mode, the one it would have).
  returned: when the device exists
  type: list
  elements: str
  sample: ["0 8192 error"]
commands:
  description: The C(dmsetup) commands that changed something.
  returned: when the device exists
  type: list
  elements: list
  sample: [["dmsetup", "load", "thin0_meta"], ["dmsetup", "resume", "thin0_meta"]]
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.fault import FAULT_TYPES, RECORD_DIR
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import FaultRunner
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.names import STACK_KINDS

STACK_OPTIONS = dict(
    kind=dict(type='str', required=True, choices=list(STACK_KINDS)),
    name=dict(type='str', required=True),
    layer=dict(type='str', required=True, choices=['metadata', 'data', 'cache_data', 'origin']),
)
FAULT_OPTIONS = dict(
    type=dict(type='str', required=True, choices=list(FAULT_TYPES)),
    up_interval=dict(type='int'),
    down_interval=dict(type='int'),
    features=dict(type='list', elements='raw'),
    read_ms=dict(type='int'),
    write_ms=dict(type='int'),
    flush_ms=dict(type='int'),
    block_size=dict(type='int'),
    bad_blocks=dict(type='list', elements='int'),
    enabled=dict(type='bool'),
)


def main():
    FaultRunner.execute(dict(name=dict(type='str'),
                             stack=dict(type='dict', options=STACK_OPTIONS),
                             state=dict(type='str', choices=['injected', 'healed'], default='injected'),
                             fault=dict(type='dict', options=FAULT_OPTIONS), start=dict(type='str'),
                             length=dict(type='str'), replace=dict(type='bool', default=False),
                             record_dir=dict(type='path', default=RECORD_DIR),
                             udev_timeout=dict(type='int', default=10)),
                        required_if=[('state', 'injected', ('fault',))],
                        required_one_of=[('name', 'stack')], mutually_exclusive=[('name', 'stack')])


if __name__ == '__main__':
    main()
