# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Option docs shared by the dm_* modules; DEVICE pairs with _dm.module.DEVICE_SPEC."""

    DOCUMENTATION = r'''
requirements:
  - C(dmsetup) (Debian and Fedora package C(dmsetup), part of LVM2) and a kernel with device-mapper
    on the managed host; root.
notes:
  - Three C(dmsetup) calls read every device, its table and its status, whatever the number of devices.
  - Commands run as argument lists; tables go to C(dmsetup) on its standard input, never on a command line.
options: {}
'''

    DEVICE = r'''
notes:
  - A table is changed only through the kernel's inactive table slot (C(dmsetup load), then
    C(dmsetup resume), which swaps atomically). When the new table does not load, the inactive slot is
    cleared and the live table stays. When the device does not resume with it, the previous table is
    loaded back and the device resumed. The device is never left suspended unless O(state=suspended).
  - After every change the device is read back and compared with what was asked; a mismatch fails the task.
  - Crypt keys never appear in results, diffs or errors; the kernel echoes them as zeros.
options:
  name:
    description:
      - "Name of the device (C(/dev/mapper/NAME)). At most 127 bytes of letters, digits and C(# + - . : = @ _);
        not C(.), C(..) or C(control), and not starting with C(-) (dmsetup would read it as an option)."
      - Required unless O(devices), O(name_prefix) or O(uuid_prefix) is given.
    type: str
  rename_from:
    description:
      - The name the device has now, to rename it to O(name) (C(dmsetup rename OLD NEW)).
      - When only the old name exists the device is renamed; when only O(name) exists nothing is renamed (a
        repeat reports no change). When both exist, or neither does, the task fails naming both, in check mode
        too (neither existing is not taken as a device to create).
      - After the rename the device is made what the other options say, as any device named O(name).
      - Not with O(devices) at the top level; give it in an item there.
    type: str
  name_prefix:
    description:
      - With O(state=absent), remove every device whose name starts with this, in one batch (devices that use
        others first).
      - A set that a device outside it holds is refused before anything is removed (unless O(deferred)), and
        so is a device of the set that something else has open (unless O(force) or O(deferred)).
      - No device selected is no change. An empty prefix, or one no device name can start with, fails the task.
      - The result lists the devices in RV(devices) and their names in RV(selected). Mutually exclusive with
        O(name), O(devices) and O(uuid_prefix); options that describe a device (a table, O(uuid)...) are refused
        with it.
    type: str
  uuid_prefix:
    description:
      - As O(name_prefix), for every device whose uuid starts with this (devices without a uuid are never
        selected).
    type: str
  state:
    description:
      - V(present) the device exists with the table given (a new device is active).
      - V(active) present and not suspended (a suspended device is resumed).
      - V(suspended) present and suspended (C(dmsetup suspend)).
      - V(absent) the device does not exist; refused while it is open or used by another device unless
        O(force) or O(deferred).
      - In O(devices), the default of every item without its own.
    type: str
    choices: [present, active, suspended, absent]
    default: present
  uuid:
    description:
      - The device's uuid, set when it is created, or on an existing device that has none
        (C(dmsetup rename NAME --setuuid UUID)).
      - The kernel cannot change a uuid once set; a different one fails the task, naming both uuids.
    type: str
  readonly:
    description:
      - V(true) the device is read-only, V(false) writable. Changing it on an existing device needs O(reload).
      - Omitted, an existing device stays as it is and a new one is writable, except one with a C(verity)
        segment, which the kernel loads read-only only (V(false) with such a table fails).
    type: bool
  reload:
    description:
      - When an existing device's table (or O(readonly)) differs from the one wanted, swap the table in
        through the inactive slot.
      - V(false) fails the task instead and lists the differences.
      - An existing device with no live table at all (what a C(dmsetup create) cut short between its create
        and load leaves) gets the wanted table loaded without O(reload), with a warning.
      - In O(devices), the default of every item without its own.
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), remove the device even when it is open (C(dmsetup remove --force) first
        replaces its table with the error target).
      - A device another device-mapper device uses is still refused, before anything is touched; remove
        its users first, or list them in the same O(devices) batch.
      - In O(devices), the default of every item without its own.
    type: bool
    default: false
  deferred:
    description:
      - With O(state=absent), a device that is open is removed when its last user closes it
        (C(dmsetup remove --deferred)); the result says RV(deferred_remove).
      - In O(devices), the default of every item without its own.
    type: bool
    default: false
  udev_timeout:
    description:
      - Seconds to wait for udev to create (or remove) C(/dev/mapper/NAME) before making the node with
        C(dmsetup mknodes).
    type: int
    default: 10
'''

    LOCK = r'''
notes:
  - A run that changes device-mapper state holds the host's lock (an exclusive C(flock) on
    C(/run/lock/sts-devicemapper.lock)) from its first read to its last change, so two plays or ad-hoc runs
    managing the same host at once are serialised instead of interleaving their commands. The kernel drops
    the lock when the run ends, however it ends. Check mode takes no lock.
options:
  lock_timeout:
    description:
      - Seconds to wait for the host's lock held by another run of this collection's modules.
      - When it is not free in time the task fails before anything is read or changed, naming the process
        that holds it.
    type: int
    default: 300
'''

    STACK = r'''
options:
  stats:
    description:
      - With O(state=present), keep I/O statistics of each device the stack hands to its users (the thin volumes and
        snapshots of M(sts.devicemapper.dm_thin_stack), the cache device of M(sts.devicemapper.dm_cache_stack), the
        era device of M(sts.devicemapper.dm_era_stack)) through device-mapper statistics, one region over the whole
        device, of program id C(sts-devicemapper-stack), made with the kernel's C(@stats_create) message (as
        M(sts.devicemapper.dm_stats) makes its regions) right after the device is there and before C(mkfs) and
        O(workload) write it, so their writes are counted. A thin snapshot made on the first build gets its region
        when it is made, after the workload.
      - A device that has a region of that program id keeps it, so a run again changes nothing; regions of other
        program ids are left alone. Each region made is listed in RV(actions). Only messages are sent; nothing is
        suspended.
      - The counters are returned in RV(report.io), read at the end of the run. The kernel keeps them while the
        device exists. V(false) sends no statistics message.
    type: bool
    default: false
  udev_timeout:
    description: Seconds to wait for udev to make a new device's node.
    type: int
    default: 10
'''
