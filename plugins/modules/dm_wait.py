#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_wait
short_description: Wait until a device-mapper device's event counter passes a value or a thin pool fills to a threshold
version_added: 0.2.0
description:
  - Waits, at most O(timeout) seconds, for one condition on one device, then returns the device as
    M(sts.devicemapper.dm_info) shows it at that moment (its table and parsed status), how long it waited and
    whether the condition was met.
  - O(events_above) waits until the device's event counter (the C(events) of M(sts.devicemapper.dm_info),
    what C(dmsetup wait) waits on) is greater than the value. On the Debian 12 and 13 kernels a thin-pool
    raises an event when its free data blocks fall to its low water mark (once; again after the pool is
    resumed), and a rename raises one on the renamed device; target messages, suspend, resume and reloads do not.
  - O(data_usage) and O(metadata_usage) wait until a thin-pool's used data or metadata blocks reach a threshold.
  - A condition already met returns at once, after one look.
  - It polls, one short C(dmsetup) command every O(interval) seconds (C(dmsetup info -c) of the device for the
    counter, C(dmsetup status) for usage), rather than running C(dmsetup wait), which blocks in the kernel with
    no timeout of its own and would outlive a run that is killed (a task timeout, a lost connection) for as long
    as no event comes. So no process of this module outlives it, and an event is seen at most O(interval)
    seconds late (the counter only grows, so none is missed).
  - It changes nothing (C(changed) is always false) and takes no host lock, so it can wait while other tasks,
    or other hosts' runs, change the device.
  - Fails when the device does not exist, when it disappears (removed or renamed) while waited on, when a usage
    condition names a device that is not a thin-pool or a number of blocks the pool does not have, and, unless
    O(fail_on_timeout=false), when the condition is not met in time; the message names the device, the
    condition and the last value seen.
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
requirements:
  - C(dmsetup) (Debian and Fedora package C(dmsetup), part of LVM2) and a kernel with device-mapper
    on the managed host; root.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only, so check mode waits exactly as a real run does (a play in check mode that waits for a
      pool to fill gets the same answer).
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  name:
    description: The device to wait on (C(/dev/mapper/NAME)); it must exist.
    type: str
    required: true
  events_above:
    description:
      - Wait until the device's event counter is greater than this (C(dmsetup wait NAME EVENT_NR)). Give the
        C(events) that M(sts.devicemapper.dm_info) or an earlier run of this module (RV(value)) returned.
      - One of O(events_above), O(data_usage) and O(metadata_usage) is required.
    type: int
  data_usage:
    description:
      - Wait until the thin-pool's used data blocks reach this, given as a percentage of its data blocks (V(80%),
        V(12.5%)), a number of blocks (V(1000)), or V(low_water_mark), as few blocks free as the pool table's
        low water mark, the point where the kernel raises the pool's event (with a low water mark of 0, a full pool).
      - A percentage follows the pool's size if it is resized while waited on.
    type: str
  metadata_usage:
    description:
      - As O(data_usage), for the thin-pool's metadata blocks; V(low_water_mark) is the metadata low water mark
        that the kernel sets itself and shows in the pool's status (the smaller of a quarter of the metadata blocks
        and 1024 blocks, 4 MiB).
    type: str
  timeout:
    description:
      - Seconds to wait at most. V(0) looks once.
    type: int
    default: 300
  interval:
    description: Seconds between two looks, from 0.05 to 3600.
    type: float
    default: 1.0
  fail_on_timeout:
    description:
      - Whether a condition not met within O(timeout) fails the task. With V(false) the task returns with
        RV(met) false, the last value seen and the device, and does not fail.
    type: bool
    default: true
seealso:
  - module: sts.devicemapper.dm_info
  - module: sts.devicemapper.dm_message
'''

EXAMPLES = r'''
- name: The pool's event counter now
  sts.devicemapper.dm_info:
    names: [pool0]
  register: before

- name: Wait for the pool's next event (its low water mark passed), at most ten minutes
  sts.devicemapper.dm_wait:
    name: pool0
    events_above: "{{ before.devices.pool0.events }}"
    timeout: 600
  register: event

- name: Wait until the pool's data is 80% used, without failing when it is not within a minute
  sts.devicemapper.dm_wait:
    name: pool0
    data_usage: 80%
    timeout: 60
    interval: 5
    fail_on_timeout: false
  register: usage

- name: Grow the pool's data device when it did fill
  ansible.builtin.debug:
    msg: "{{ usage.device.status[0].used_data_blocks }} of {{ usage.device.status[0].total_data_blocks }} blocks used"
  when: usage.met

- name: Stop when the pool's metadata has already reached its low water mark (one look, no wait)
  sts.devicemapper.dm_wait:
    name: pool0
    metadata_usage: low_water_mark
    timeout: 0
    fail_on_timeout: false
  register: metadata
  failed_when: metadata.met
'''

RETURN = r'''
name:
  description: The device waited on.
  returned: always
  type: str
  sample: pool0
met:
  description: Whether the condition was met (false only after O(timeout) with O(fail_on_timeout=false), and in the
    failed result of a timeout).
  returned: always
  type: bool
  sample: true
waited:
  description: Seconds from the start to the look that ended the wait.
  returned: always
  type: float
  sample: 12.043
polls:
  description: How many times the device was looked at (one C(dmsetup) command each).
  returned: always
  type: int
  sample: 13
condition:
  description: The condition in words, with the blocks a usage threshold means for this pool.
  returned: always
  type: str
  sample: data usage reaching its data low water mark (256 of 1024 blocks used)
first_value:
  description: The value at the first look (event counter, or used blocks); the same as RV(value) when the
    condition was met at once.
  returned: always
  type: int
  sample: 0
value:
  description: The value at the last look (event counter, or used blocks).
  returned: always
  type: int
  sample: 1
device:
  description:
    - The device as M(sts.devicemapper.dm_info) returns it (name, uuid, devno, suspended, events, table, status
      parsed per segment, ...), read right after the last look; the counter or usage the condition compared is
      the one in it. Null when the device was removed in between.
  returned: always
  type: dict
  sample:
    name: pool0
    events: 1
    suspended: false
    target_types: [thin-pool]
    table: ["0 131072 thin-pool 253:0 253:1 128 768 0"]
    status:
      - {start: 0, length: 131072, target_type: thin-pool, transaction_id: 0, used_metadata_blocks: 114,
         total_metadata_blocks: 1024, used_data_blocks: 384, total_data_blocks: 1024, held_metadata_root: null,
         mode: rw, discard: discard_passdown, no_space: queue, needs_check: false, metadata_low_watermark: 256,
         read_only: false, out_of_data_space: false, failed: false}
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.wait import CONDITIONS, WaitRunner


def main():
    WaitRunner.execute(dict(name=dict(type='str', required=True),
                            events_above=dict(type='int'),
                            data_usage=dict(type='str'),
                            metadata_usage=dict(type='str'),
                            timeout=dict(type='int', default=300),
                            interval=dict(type='float', default=1.0),
                            fail_on_timeout=dict(type='bool', default=True)),
                       mutually_exclusive=[CONDITIONS], required_one_of=[CONDITIONS])


if __name__ == '__main__':
    main()
