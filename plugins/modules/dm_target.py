#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_target
short_description: Declare device-mapper devices by target type and typed, validated options
version_added: 0.1.0
description:
  - The typed way to write a device's table, a target O(type) with its O(options) (or several O(segments)),
    validated before anything runs, with errors naming the value and what was expected. No table strings.
  - Every kernel target is known (linear, striped, error, zero, delay, flakey, dust, thin-pool, thin, cache,
    era, snapshot, snapshot-origin, snapshot-merge, mirror, raid, crypt, integrity, verity, writecache,
    multipath, unstriped, switch, vdo).
  - For O(type=thin) it also makes sure the thin's dev_id exists in its pool (C(create_thin), or
    C(create_snap) of O(snapshot_of), suspending the active origin and resuming it whatever happens);
    for O(type=thin-pool) it can reserve or release the pool's metadata snapshot.
  - Otherwise it behaves as M(sts.devicemapper.dm_device), with exact idempotence, safe reloads and batches in
    dependency order.
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
  type:
    description:
      - The target type of a one-segment table. Use O(segments) for several.
    type: str
    choices: [cache, crypt, delay, dust, era, error, flakey, integrity, linear, mirror, multipath, raid,
              snapshot, snapshot-merge, snapshot-origin, striped, switch, thin, thin-pool, unstriped, vdo, verity,
              writecache, zero]
  length:
    description:
      - Length of the one segment, in 512-byte sectors (a number) or as a size (V(64KiB), V(1G), V(2TiB)).
    type: raw
  options:
    description:
      - The typed options of O(type). Sizes take sectors or units; devices take paths or C(major:minor).
      - "V(linear): C(device), C(offset). V(striped): C(chunk_size), C(devices) (list of C(device)/C(offset)).
        V(error), V(zero): none. V(delay): C(read), C(write), C(flush), each C(device), C(offset), C(delay_ms).
        V(flakey): C(device), C(offset), C(up_interval), C(down_interval), C(features) (C(drop_writes),
        C(error_writes), C(error_reads), C(corrupt_bio_byte), C(random_read_corrupt), C(random_write_corrupt)).
        V(dust): C(device), C(offset), C(block_size_bytes)."
      - "V(thin-pool): C(metadata_dev), C(data_dev), C(block_size) (multiple of 64 KiB, 64 KiB to 1 GiB),
        C(low_water_mark) (blocks), C(features) (C(skip_block_zeroing), C(ignore_discard),
        C(no_discard_passdown), C(read_only), C(error_if_no_space)). V(thin): C(pool), C(dev_id),
        C(external_origin)."
      - "V(cache): C(metadata_dev), C(cache_dev), C(origin), C(block_size), C(mode) (C(writethrough),
        C(writeback), C(passthrough)), C(metadata2), C(discard_passdown), C(policy) (C(smq), C(cleaner)),
        C(policy_args) (dict). V(era): C(metadata_dev), C(origin), C(block_size)."
      - "V(snapshot), V(snapshot-merge): C(origin), C(cow), C(persistent) (C(P), C(PO), C(N)), C(chunk_size).
        V(snapshot-origin): C(origin)."
      - "V(crypt): C(cipher), C(key) (hex, never shown; or a keyring reference
        C(:<size>:<logon|user|encrypted|trusted>:<description>)), C(iv_offset), C(device), C(offset),
        C(options). V(integrity): C(device), C(reserved_sectors), C(tag_size), C(mode), C(options).
        V(verity): C(version), C(data_dev), C(hash_dev), C(data_block_size), C(hash_block_size),
        C(num_data_blocks), C(hash_start_block), C(algorithm), C(digest), C(salt), C(options).
        V(writecache): C(kind) (C(p) or C(s)), C(origin), C(cache_dev), C(block_size), C(options)."
      - "V(mirror): C(log_type), C(region_size), C(log_args), C(nosync), C(devices). V(raid): C(raid_type),
        C(chunk_size), C(raid_params), C(devices) (C(metadata), C(data)). V(multipath): C(features),
        C(hw_handler), C(groups) (C(selector), C(paths)), C(first_group). V(unstriped): C(stripes),
        C(chunk_size), C(stripe), C(device), C(offset). V(switch): C(region_size), C(devices), C(options)."
      - "V(vdo) (kernel 6.9 or later; storage formatted by C(vdoformat) first, whose logical size is the segment's
        O(length)): C(storage_dev), C(physical_size) (required: the size C(vdoformat) gave the volume), C(minimum_io_size)
        (V(512) or V(4096) bytes; default V(4096)), C(block_map_cache_size) (default V(128MiB); at least 16 MiB per
        logical thread), C(block_map_period) (V(1) to V(16380), the default), the thread counts C(ack_threads),
        C(bio_threads), C(bio_rotation_interval), C(cpu_threads), C(hash_threads), C(logical_threads),
        C(physical_threads) (the last three all 0 or all > 0), C(max_discard) (a size), C(deduplication) and
        C(compression) (booleans). Sizes are whole 4 KiB blocks. An option left out is left out of the table
        and takes the kernel's default; the kernel echoes the table as it was loaded, and a table that names a
        default, or names the same values in another order, is the same device."
    type: dict
  segments:
    description:
      - Several segments, in order; each a dict with C(type), C(length), optional C(start) and C(options)
        as above. Mutually exclusive with O(type).
    type: list
    elements: dict
  create_thin:
    description:
      - For O(type=thin), make sure the dev_id exists in the pool before the thin device is created
        (C(create_thin), or C(create_snap) with O(snapshot_of)). An existing dev_id is left as it is.
    type: bool
    default: true
  snapshot_of:
    description:
      - For O(type=thin), create the dev_id as a snapshot of this origin, given as its dev_id (a number) or the name
        of an active thin device of the same pool. Active devices of the origin are suspended for the
        message and resumed whatever happens.
    type: raw
  delete_thin:
    description:
      - For O(type=thin) with O(state=absent), also delete the dev_id from the pool (its data is lost).
        An absent dev_id is not an error.
    type: bool
    default: false
  reserve_metadata_snap:
    description:
      - For O(type=thin-pool), V(true) holds a metadata snapshot (for C(thin_check --metadata-snap),
        C(thin_dump --metadata-snap) on the live pool), V(false) releases it. Omitted, left as it is.
    type: bool
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
      type:
        description: As O(type).
        type: str
        choices: [cache, crypt, delay, dust, era, error, flakey, integrity, linear, mirror, multipath, raid,
                  snapshot, snapshot-merge, snapshot-origin, striped, switch, thin, thin-pool, unstriped, vdo, verity,
                  writecache, zero]
      length:
        description: As O(length).
        type: raw
      options:
        description: As O(options).
        type: dict
      segments:
        description: As O(segments).
        type: list
        elements: dict
      create_thin:
        description: As O(create_thin); default V(true).
        type: bool
      snapshot_of:
        description: As O(snapshot_of).
        type: raw
      delete_thin:
        description: As O(delete_thin).
        type: bool
      reserve_metadata_snap:
        description: As O(reserve_metadata_snap).
        type: bool
seealso:
  - module: sts.devicemapper.dm_device
  - module: sts.devicemapper.dm_info
  - module: sts.devicemapper.dm_message
'''

EXAMPLES = r'''
- name: A thin pool, a thin volume and its snapshot, carved from two disks, in one task
  sts.devicemapper.dm_target:
    devices:
      - name: pool0
        type: thin-pool
        length: 2G
        options:
          metadata_dev: /dev/vdc
          data_dev: /dev/vdb
          block_size: 64KiB
          low_water_mark: 1024
          features: [skip_block_zeroing]
      - name: thin1
        type: thin
        length: 1G
        options: {pool: /dev/mapper/pool0, dev_id: 1}
      - name: snap1
        type: thin
        length: 1G
        options: {pool: /dev/mapper/pool0, dev_id: 2}
        snapshot_of: thin1

- name: A dm-cache in writeback over an origin
  sts.devicemapper.dm_target:
    name: cached0
    type: cache
    length: 4G
    options:
      metadata_dev: /dev/mapper/cmeta
      cache_dev: /dev/mapper/cdata
      origin: /dev/mapper/corig
      block_size: 64KiB
      mode: writeback
      policy: smq

- name: A crypt device (the key never shows in the output)
  sts.devicemapper.dm_target:
    name: secret0
    type: crypt
    length: 1G
    options:
      cipher: aes-xts-plain64
      key: "{{ crypt_key_hex }}"
      device: /dev/vdb
  no_log: true

- name: Hold a metadata snapshot of the live pool for thin_check
  sts.devicemapper.dm_target:
    name: pool0
    reserve_metadata_snap: true

- name: Two segments, the second failing every I/O
  sts.devicemapper.dm_target:
    name: half_bad
    segments:
      - {type: linear, length: 1G, options: {device: /dev/vdb, offset: 0}}
      - {type: error, length: 1G}
'''

RETURN = r'''
name:
  description: The device (one device only; see RV(devices) for a batch).
  returned: when O(name) is given
  type: str
  sample: thin1
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
  sample: {"exists": false}
after:
  description: The device after the task, read back from the kernel (in check mode, what it would be).
  returned: when O(name) is given
  type: dict
  sample: {"exists": true, "uuid": null, "devno": "254:3", "table": ["0 2097152 thin 254:2 1"],
           "suspended": false, "readonly": false, "open_count": 0, "holders": [], "target_types": ["thin"]}
differences:
  description: How the live table differed from the wanted one (empty when it did not).
  returned: when O(name) is given, and in the failure of a table that differs without O(reload)
  type: list
  elements: str
  sample: ["segment 0 thin-pool args: wanted '254:0 254:1 128 0 0', live '254:0 254:1 128 1024 0'"]
commands:
  description: The C(dmsetup) commands that changed something (the three reads are not listed).
  returned: when O(name) is given
  type: list
  elements: list
  sample: [["dmsetup", "message", "--", "pool0", "0", "create_thin", "1"], ["dmsetup", "create", "thin1"]]
thin_created:
  description: The dev_ids created in the pool by this task.
  returned: when a thin dev_id was created
  type: list
  elements: int
  sample: [1]
thin_deleted:
  description: The dev_ids deleted from the pool by this task (O(delete_thin)).
  returned: when a thin dev_id was deleted
  type: list
  elements: int
  sample: [1]
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
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import TARGETS, DmError

TARGET_SPEC = dict(
    type=dict(type='str', choices=sorted(TARGETS)),
    length=dict(type='raw'),
    options=dict(type='dict'),
    segments=dict(type='list', elements='dict'),
    create_thin=dict(type='bool'),
    snapshot_of=dict(type='raw'),
    delete_thin=dict(type='bool'),
    reserve_metadata_snap=dict(type='bool'),
)


class TargetModule(DeviceRunner):
    def table_of(self, item):
        if item.get('segments') is not None:
            return Table.from_params(item['segments'])
        if item.get('type') is None:
            if item.get('options') is not None or item.get('length') is not None:
                raise DmError('length and options need a type')
            return None
        return Table.from_params([dict(type=item['type'], length=item.get('length'), options=item.get('options') or {})])

    def extra(self, item):
        create_thin = item.get('create_thin')
        return dict(create_thin=True if create_thin is None else create_thin, snapshot_of=item.get('snapshot_of'),
                    delete_thin=bool(item.get('delete_thin')), metadata_snap=item.get('reserve_metadata_snap'))


def main():
    spec = device_argument_spec(TARGET_SPEC)
    spec['create_thin']['default'] = True
    spec['delete_thin']['default'] = False
    # one segment by type, or several by segments: the argument spec refuses both, at the top and in devices
    spec['devices']['mutually_exclusive'] = [('type', 'segments')]
    kwargs = dict(DEVICE_MODULE_KWARGS)
    kwargs['mutually_exclusive'] = kwargs['mutually_exclusive'] + [('type', 'segments')]
    TargetModule.execute(spec, **kwargs)


if __name__ == '__main__':
    main()
