#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_thin_repair
short_description: Recover a raw device-mapper thin pool whose metadata needs repair
version_added: 0.2.0
description:
  - Takes a thin pool whose metadata needs repair (the pool says C(needs_check), is read-only or has failed, or
    C(thin_check) of its metadata fails) through the whole recovery, in one run.
  - Stops the users of the pool in dependency order (filesystems on them unmounted, the thin devices and any
    device above them removed) and deactivates the pool by reloading its table with C(error); the pool device
    and its device number stay, so the users' tables still name it. Nothing is left suspended.
  - Copies the damaged metadata to a backup file, repairs it with C(thin_repair) into O(spare) (again with the
    superblock's figures from the pool's table and status when the superblock itself is unreadable), and checks
    the repaired metadata with C(thin_check) (which also clears a C(needs_check) flag the repair kept, once the
    check passes), then reads back which thin devices it holds (C(thin_dump --skip-mappings)). A spare that does
    not pass, or that lacks a thin device the pool's users need (a repair can lose a device and still exit 0), is
    refused; the pool then stays deactivated (not suspended) with its record.
  - Swaps the pool onto the repaired metadata by reloading the pool's table with O(spare) as its metadata device,
    makes its users again from their recorded tables, mounts their filesystems again, and, with O(stack), compares
    the known data of the stack's thin volumes with the checksums in the stack's record.
  - The pool's table, its users' tables and their mounts are kept in a record on the host (O(record_dir)),
    written before anything is stopped; a run that was cut short is completed by the next one.
  - A healthy pool is left alone (unless O(force)). LVM thin pools are out of scope (use C(lvconvert --repair)).
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dm.LOCK
attributes:
  check_mode:
    support: full
    details: Reads the pool's status and checks the spare; returns the steps a run would take, changes nothing.
  diff_mode:
    support: full
    details: The repair record before and after.
  platform:
    platforms: posix
options:
  pool:
    description: Name of the thin-pool device (C(/dev/mapper/POOL)).
    type: str
    required: true
  state:
    description:
      - V(repaired) takes the pool through the whole recovery (or only checks it when it is healthy).
      - V(deactivated) stops the pool's users and deactivates the pool as a repair would, and leaves it so, with
        its record, so that the metadata can be inspected (or damaged on purpose); V(repaired) takes it from there.
    type: str
    choices: [repaired, deactivated]
    default: repaired
  spare:
    description:
      - Block device the repaired metadata is written to, at least as big as the pool's metadata device, used by
        nothing, holding no metadata. The pool runs on it afterwards; the damaged metadata device is left as it
        is.
      - Required for a repair; a pool that needs one and has no spare given is refused before anything stops.
    type: path
  force:
    description: Repair even when the pool's status and C(thin_check) find nothing wrong.
    type: bool
    default: false
  stack:
    description:
      - Name of the thin stack (M(sts.devicemapper.dm_thin_stack)) the pool belongs to; its record's workload
        checksums are compared with what the thin volumes hold after the repair (a mismatch fails the task).
    type: str
  stack_dir:
    description: The directory holding the stacks' directories (the stack module's O(sts.devicemapper.dm_thin_stack#module:dir)).
    type: path
    default: /var/lib/sts-devicemapper
  record_dir:
    description: Directory of the repair records (C(POOL.json)) and of the backups of damaged metadata.
    type: path
    default: /var/lib/sts-devicemapper/repairs
  udev_timeout:
    description: Seconds to wait for udev to add or remove a device node.
    type: int
    default: 10
seealso:
  - module: sts.devicemapper.dmpd_repair
  - module: sts.devicemapper.dmpd_check
  - module: sts.devicemapper.dm_fault
'''

EXAMPLES = r'''
- name: Recover pool thin0_pool onto the spare device, and check the stack's data
  sts.devicemapper.dm_thin_repair:
    pool: thin0_pool
    spare: /dev/mapper/thin0_spare
    stack: thin0

- name: Stop the users of a pool and deactivate it, to look at its metadata offline
  sts.devicemapper.dm_thin_repair:
    pool: thin0_pool
    state: deactivated
'''

RETURN = r'''
reasons:
  description: Why the metadata was repaired (the pool's status, the checks' findings); empty for a healthy pool.
  returned: always
  type: list
  elements: str
repaired:
  description: Whether repaired metadata was written to O(spare) and the pool swapped onto it.
  returned: always
  type: bool
healthy:
  description: The pool's status after the run says nothing wrong (rw, no C(needs_check), not failed).
  returned: with state repaired
  type: bool
status_after:
  description: The pool's parsed status after the run (as M(sts.devicemapper.dm_info) gives it).
  returned: with state repaired
  type: dict
metadata:
  description: The metadata device the pool uses after the run (O(spare) after a repair).
  returned: when the pool was deactivated
  type: str
backup_file:
  description: The raw (sparse) copy of the damaged metadata, made before the repair; null when none was made.
  returned: always
  type: str
devices:
  description: The thin devices the repaired metadata holds, dev_id (as a string) to mapped data blocks.
  returned: when the metadata was repaired
  type: dict
  sample: {"1": 4, "2": 31}
data:
  description: Per thin volume of O(stack), the sha256 of its known data, the recorded one, and whether they match.
  returned: always
  type: list
  elements: dict
data_intact:
  description: Every volume's data matches its checksum; null without O(stack).
  returned: always
  type: bool
users:
  description: The devices stopped (state deactivated).
  returned: with state deactivated
  type: list
  elements: str
actions:
  description: What changed (in check mode, would change), in order.
  returned: always
  type: list
  elements: str
commands:
  description: The commands that changed something (dmsetup, mount, umount, cp).
  returned: always
  type: list
  elements: list
record:
  description: The path of the pool's repair record.
  returned: always
  type: str
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._stack.thin_repair import RECORD_DIR, ThinRepairRunner


def main():
    ThinRepairRunner.execute(dict(
        pool=dict(type='str', required=True),
        state=dict(type='str', choices=['repaired', 'deactivated'], default='repaired'),
        spare=dict(type='path'),
        force=dict(type='bool', default=False),
        stack=dict(type='str'),
        stack_dir=dict(type='path', default='/var/lib/sts-devicemapper'),
        record_dir=dict(type='path', default=RECORD_DIR),
        udev_timeout=dict(type='int', default=10)))


if __name__ == '__main__':
    main()
