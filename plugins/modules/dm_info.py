#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_info
short_description: Facts of every device-mapper device with its table and parsed status
version_added: 0.1.0
description:
  - Reads every device-mapper device with three C(dmsetup) calls whatever their number (C(info -c),
    C(table) and C(status) without a device argument), and returns each with its table (crypt keys masked)
    and its status parsed per target.
  - Parsed status per target; thin-pool (transaction id, used and total metadata and data blocks, held
    metadata root, mode C(rw), C(ro) or C(out_of_data_space) and the flags read_only and out_of_data_space,
    needs_check, discard mode), thin (mapped sectors, highest mapped sector), cache (metadata and cache usage,
    read and write hits and misses, dirty blocks, mode, policy, metadata mode, read_only, needs_check), era
    (current era), snapshot (usage, invalid or overflow), raid (per-device health, sync ratio, action), mirror,
    crypt, integrity, writecache, delay (queued I/O), dust (whether its bad blocks fail), vdo (mode, recovering,
    index state, deduplicating, compression state, used, total and free physical blocks, read_only).
  - A segment whose status is C(Fail) or C(Error) (a thin-pool or cache whose metadata device failed) has
    C(failed) true and nothing else parsed; a parsed thin-pool or cache status has C(failed) false.
  - Filters pick devices by name, target type or uuid prefix; all given filters must match.
  - Kernel facts (O(kernel_facts), both by default, one C(dmsetup) call each whatever the number of devices)
    are the targets the kernel has loaded with their versions (C(dmsetup targets)) and the device-mapper
    library and driver versions (C(dmsetup version)). No one C(dmsetup) command prints both, so the two
    cost two calls (five in all); O(kernel_facts=[]) leaves them out (the three calls of the devices only).
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dm
attributes:
  check_mode:
    support: full
    details: Reads only; check mode changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  names:
    description:
      - Only these devices.
      - A name that cannot name a dm device (see O(sts.devicemapper.dm_device#module:name)) fails the task.
    type: list
    elements: str
  target_types:
    description: Only devices with a segment of one of these target types (V(thin-pool), V(cache), ...).
    type: list
    elements: str
  uuid_prefix:
    description:
      - Only devices whose uuid starts with this (V(LVM-) for LVM's, for example).
      - A prefix with characters no dm uuid may hold fails the task.
    type: str
  kernel_facts:
    description:
      - Which kernel facts to return besides the devices, one C(dmsetup) call each.
      - V(targets) returns RV(targets) (C(dmsetup targets)); V(version) returns RV(version) (C(dmsetup version)).
      - The filters do not apply to them.
    type: list
    elements: str
    choices: [targets, version]
    default: [targets, version]
  stats:
    description:
      - Add C(stats) to each chosen device, its I/O statistics regions (every program's, as
        M(sts.devicemapper.dm_stats) or C(dmsetup stats) made them), each with its named counters, histogram and
        areas, read and not cleared.
      - Costs one C(dmsetup message @stats_list) per chosen device and one C(@stats_print) per region, so the
        number of calls grows with the devices; the filters limit it.
      - A device whose statistics cannot be read (removed meanwhile) gets no C(stats) and a warning.
    type: bool
    default: false
seealso:
  - module: sts.devicemapper.dm_device
  - module: sts.devicemapper.dm_target
'''

EXAMPLES = r'''
- name: Every thin pool
  sts.devicemapper.dm_info:
    target_types: [thin-pool]
  register: pools

- name: Data usage of each pool
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.status[0].used_data_blocks }}/{{ item.value.status[0].total_data_blocks }}"
  loop: "{{ pools.devices | dict2items }}"

- name: Refuse a kernel whose thin-pool target is older than 1.23 (loaded once a pool exists)
  sts.devicemapper.dm_info:
    target_types: [thin-pool]
  register: dm
  failed_when: dm.targets['thin-pool'] is not defined or dm.targets['thin-pool'] is version('1.23.0', '<')

- name: The device-mapper versions, without the targets' call
  sts.devicemapper.dm_info:
    kernel_facts: [version]
  register: dm

- name: Show them
  ansible.builtin.debug:
    msg: "driver {{ dm.version.driver }}, library {{ dm.version.library }}"

- name: The I/O counters of every region of the stack's devices
  sts.devicemapper.dm_info:
    names: [thin_pool, thin_vol]
    kernel_facts: []
    stats: true
  register: io

- name: Sectors written to each
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.stats | map(attribute='counters.sectors_written') | sum }}"
  loop: "{{ io.devices | dict2items }}"

- name: Is anything suspended?
  sts.devicemapper.dm_info:
  register: dm
  failed_when: dm.devices.values() | selectattr('suspended') | list | length > 0
'''

RETURN = r'''
devices:
  description:
    - The devices chosen, by name.
    - Each has name, uuid, blkdevname, major, minor, devno, live_table, inactive_table, suspended, readonly,
      open_count, segment_count, events, devnos_used, names_using_dev, target_types, table (lines, crypt
      keys masked) and status (one dict per segment with start, length, target_type and the target's
      parsed fields).
    - With O(stats), C(stats) too, a list of the device's statistics regions, each as
      RV(sts.devicemapper.dm_stats#module:region) (an empty list where the device has none).
  returned: always
  type: dict
  sample:
    pool0:
      name: pool0
      uuid: null
      devno: "254:2"
      suspended: false
      readonly: false
      open_count: 1
      target_types: [thin-pool]
      table: ["0 4194304 thin-pool 254:0 254:1 128 1024 1 skip_block_zeroing"]
      status:
        - {start: 0, length: 4194304, target_type: thin-pool, transaction_id: 2, used_metadata_blocks: 10,
           total_metadata_blocks: 1024, used_data_blocks: 16, total_data_blocks: 32768, held_metadata_root: null,
           mode: rw, discard: discard_passdown, no_space: queue, needs_check: false, metadata_low_watermark: 256}
names:
  description: The names of the devices chosen, sorted.
  returned: always
  type: list
  elements: str
  sample: [pool0, thin1]
count:
  description: How many devices were chosen.
  returned: always
  type: int
  sample: 2
targets:
  description:
    - The targets the kernel has loaded, by name, with their versions as C(major.minor.patch) (C(dmsetup targets)
      without the C(v)).
    - Only the loaded ones. Debian's cloud kernels build most targets as modules that load when a table first
      names them (C(thin-pool) appears once a pool was made; C(linear), C(striped) and C(error) are built in);
      a target the kernel lacks (C(dust) on Debian 12 and 13) is never there.
  returned: when O(kernel_facts) has V(targets)
  type: dict
  sample: {linear: 1.4.0, striped: 1.6.0, error: 1.7.0, thin-pool: 1.23.0, thin: 1.23.0}
version:
  description: The device-mapper library (C(libdevmapper) of C(dmsetup)) and kernel driver (ioctl interface) versions.
  returned: when O(kernel_facts) has V(version)
  type: dict
  contains:
    library:
      description: The library version (C(Library version) of C(dmsetup version), without its date).
      type: str
      sample: 1.02.205
    driver:
      description: The kernel driver's version (C(Driver version)).
      type: str
      sample: 4.48.0
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import InfoRunner


def main():
    InfoRunner.execute(dict(names=dict(type='list', elements='str'),
                            target_types=dict(type='list', elements='str'),
                            uuid_prefix=dict(type='str'),
                            kernel_facts=dict(type='list', elements='str', choices=['targets', 'version'],
                                              default=['targets', 'version']),
                            stats=dict(type='bool', default=False)))


if __name__ == '__main__':
    main()
