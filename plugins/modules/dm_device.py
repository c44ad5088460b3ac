#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_device
short_description: Create, reload, suspend, resume and remove device-mapper devices from their tables
version_added: 0.1.0
description:
  - Makes a device-mapper device exist with a given table (table lines, or segment dicts with typed
    target options), or not exist.
  - Compares the wanted table with the live one exactly, the way the kernel echoes it back (device paths as
    C(major:minor), sizes in sectors, features in the kernel's order), so a second run reports no change.
  - Several devices can be given at once in O(devices); they are applied in dependency order (a device after
    the devices its table uses; removals in the reverse order), in one task.
  - To declare tables with typed, validated options instead of table lines, see M(sts.devicemapper.dm_target).
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dm
  - sts.devicemapper.dm.LOCK
  - sts.devicemapper.dm.DEVICE
attributes:
  check_mode:
    support: full
    details: A thin dev_id that no active device maps cannot be looked up without a message, so check mode
      reports its creation.
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  table:
    description:
      - The table, needed to create the device and compared with an existing one.
      - A list whose items are table lines (C(0 2097152 linear /dev/vdb 0), several lines in one string
        allowed) or segment dicts with C(type), C(length) (sectors, or a size such as V(1G)), optional C(start)
        (following on from the previous segment when left out) and C(options), the typed target options of
        M(sts.devicemapper.dm_target).
      - Omitted, an existing device's table is left as it is.
    type: raw
  devices:
    description:
      - Several devices in one task, each a dict of the options above; applied in dependency order.
      - Mutually exclusive with O(name). O(state), O(reload), O(force), O(deferred) and O(readonly) given at
        the top level are the defaults of the items.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the device.
        type: str
      rename_from:
        description: As O(rename_from).
        type: str
      state:
        description: As O(state).
        type: str
        choices: [present, active, suspended, absent]
      table:
        description: As O(table).
        type: raw
      uuid:
        description: As O(uuid).
        type: str
      readonly:
        description: As O(readonly).
        type: bool
      reload:
        description: As O(reload).
        type: bool
      force:
        description: As O(force).
        type: bool
      deferred:
        description: As O(deferred).
        type: bool
seealso:
  - module: sts.devicemapper.dm_target
  - module: sts.devicemapper.dm_info
'''

EXAMPLES = r'''
- name: A linear device over the first GiB of a disk
  sts.devicemapper.dm_device:
    name: lin0
    table:
      - 0 2097152 linear /dev/vdb 0

- name: The same table from segment dicts, sizes in units
  sts.devicemapper.dm_device:
    name: lin0
    table:
      - type: linear
        length: 1G
        options: {device: /dev/vdb, offset: 0}

- name: Grow it by swapping a two-segment table in (atomically; no user-space suspend)
  sts.devicemapper.dm_device:
    name: lin0
    reload: true
    table:
      - 0 2097152 linear /dev/vdb 0
      - 2097152 2097152 linear /dev/vdc 0

- name: Suspend it, then resume it
  sts.devicemapper.dm_device:
    name: lin0
    state: "{{ item }}"
  loop: [suspended, active]

- name: A stack in one task (applied in dependency order)
  sts.devicemapper.dm_device:
    devices:
      - name: top0
        table: ["0 1024 linear /dev/mapper/base0 0"]
      - name: base0
        table: ["0 2048 zero"]

- name: Remove them (users first), even if something still has one open
  sts.devicemapper.dm_device:
    state: absent
    force: true
    devices:
      - name: base0
      - name: top0

- name: Rename lin0 to data0 (no change once data0 exists) and give it a uuid it lacks
  sts.devicemapper.dm_device:
    name: data0
    rename_from: lin0
    uuid: STS-data0

- name: Remove every device whose name starts with test- (users first)
  sts.devicemapper.dm_device:
    name_prefix: test-
    state: absent
'''

RETURN = r'''
name:
  description: The device (one device only; see RV(devices) for a batch).
  returned: when O(name) is given
  type: str
  sample: lin0
state:
  description: The state asked for.
  returned: when O(name) is given
  type: str
  sample: present
before:
  description:
    - The device before the task; C(exists) false when there was none.
    - C(table) holds the table lines as the kernel echoes them, crypt keys masked.
  returned: when O(name) is given
  type: dict
  sample: {"exists": true, "uuid": null, "devno": "254:0", "table": ["0 2097152 linear 254:16 0"],
           "suspended": false, "readonly": false, "open_count": 0, "holders": [], "target_types": ["linear"]}
after:
  description: The device after the task, read back from the kernel (in check mode, what it would be).
  returned: when O(name) is given
  type: dict
  sample: {"exists": true, "uuid": null, "devno": "254:0", "table": ["0 4194304 linear 254:16 0"],
           "suspended": false, "readonly": false, "open_count": 0, "holders": [], "target_types": ["linear"]}
differences:
  description: How the live table differed from the wanted one (empty when it did not).
  returned: when O(name) is given, and in the failure of a table that differs without O(reload)
  type: list
  elements: str
  sample: ["segment 0 length: wanted 4194304, live 2097152"]
commands:
  description: The C(dmsetup) commands that changed something (the three reads are not listed).
  returned: when O(name) is given
  type: list
  elements: list
  sample: [["dmsetup", "load", "lin0"], ["dmsetup", "resume", "lin0"]]
deferred_remove:
  description: True when O(deferred) left the removal to the kernel until the device is closed.
  returned: when a deferred removal is pending
  type: bool
  sample: true
renamed_from:
  description: The name the device had before this task renamed it (O(rename_from)); in check mode, would rename it.
  returned: when the device was renamed
  type: str
  sample: lin-old
selected:
  description: The devices O(name_prefix) or O(uuid_prefix) selected for removal (sorted; empty when none).
  returned: when O(name_prefix) or O(uuid_prefix) is given
  type: list
  elements: str
  sample: [stack-base0, stack-base1, stack-top]
devices:
  description: One result per device of O(devices) (keys as above, plus C(changed)), in the order applied.
  returned: when O(devices), O(name_prefix) or O(uuid_prefix) is given
  type: list
  elements: dict
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import (
    DEVICE_MODULE_KWARGS, DeviceRunner, device_argument_spec)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Table


class DeviceModule(DeviceRunner):
    def table_of(self, item):
        return Table.from_params(item['table']) if item.get('table') is not None else None


def main():
    DeviceModule.execute(device_argument_spec(dict(table=dict(type='raw'))), **DEVICE_MODULE_KWARGS)


if __name__ == '__main__':
    main()
