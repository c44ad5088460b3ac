#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dmpd_info
short_description: Read facts from thin-provisioning-tools without changing anything
version_added: 0.1.0
description:
  - Tool version and generation, the family and needs_check flag of a metadata path,
    C(thin_ls) rows, C(thin_delta) differences, and metadata size estimates in bytes and
    sectors whatever the tool generation prints.
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dmpd
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  path:
    description: Metadata block device or file to read.
    type: path
  metadata_snap:
    description: Read thin metadata through its metadata snapshot (the way to read an active pool).
    type: bool
    default: false
  thin_ls:
    description: Return the thin devices of O(path) as RV(thin_ls).
    type: bool
    default: false
  thin_ls_fields:
    description: C(thin_ls) fields to return, as named by the tool.
    type: list
    elements: str
    default: [DEV, MAPPED_BLOCKS, EXCLUSIVE_BLOCKS, SHARED_BLOCKS, MAPPED_SECTORS, TRANSACTION, CREATE_TIME, SNAP_TIME]
  thin_delta:
    description: Compare two thin devices of O(path) and return the ranges as RV(thin_delta).
    type: dict
    suboptions:
      thin1:
        description: First thin device id.
        type: int
        required: true
      thin2:
        description: Second thin device id.
        type: int
        required: true
  metadata_size:
    description: Estimate the metadata size a pool or cache needs, as RV(metadata_size).
    type: dict
    suboptions:
      family:
        description: V(thin) (thin_metadata_size) or V(cache) (cache_metadata_size).
        type: str
        choices: [thin, cache]
        required: true
      block_size:
        description:
          - Thin pool data block size, or cache block size.
          - Sectors as a number, or a size with a unit such as V(64KiB).
        type: raw
      pool_size:
        description: Thin only; size of the pool's data device (sectors, or a size with a unit).
        type: raw
      max_thins:
        description: Thin only; the most thin devices and snapshots the pool will hold.
        type: int
      device_size:
        description: Cache only; size of the fast device (sectors, or a size with a unit).
        type: raw
      nr_blocks:
        description: Cache only; number of cache blocks (instead of O(metadata_size.block_size) and O(metadata_size.device_size)).
        type: int
      max_hint_width:
        description: Cache only; hint width in bytes.
        type: int
'''

EXAMPLES = r'''
- name: Size a thin pool's metadata device
  sts.devicemapper.dmpd_info:
    metadata_size:
      family: thin
      block_size: 64KiB
      pool_size: 100G
      max_thins: 20
  register: meta

- name: List thin devices and compare two of them
  sts.devicemapper.dmpd_info:
    path: /var/tmp/pool.meta
    thin_ls: true
    thin_delta:
      thin1: 1
      thin2: 2
'''

RETURN = r'''
tool_version:
  description: Version of the installed thin-provisioning-tools.
  returned: always
  type: str
  sample: 1.1.0
tool_generation:
  description: V(0.9) for the C++ tools, V(1) for the Rust tools.
  returned: always
  type: str
family:
  description: Family read from the superblock magic of O(path); null when none is recognised.
  returned: when O(path) is given
  type: str
needs_check:
  description: The needs_check flag of O(path) (null for era metadata).
  returned: when O(path) is given
  type: bool
thin_ls:
  description: One dict per thin device, keyed by the lower-case field names.
  returned: when O(thin_ls=true)
  type: list
  elements: dict
  sample: [{dev: 1, mapped_blocks: 10713, transaction: 0}]
thin_delta:
  description: Ranges (in data blocks) by type V(same), V(different), V(left_only), V(right_only).
  returned: when O(thin_delta) is given
  type: dict
  sample: {left: 1, right: 2, data_block_size: 128, ranges: [{type: same, begin: 0, length: 4}]}
metadata_size:
  description: The estimate in bytes and 512-byte sectors.
  returned: when O(metadata_size) is given
  type: dict
  sample: {bytes: 577536, sectors: 1128}
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.ops import InfoRunner


def main():
    InfoRunner.execute(dict(
        path=dict(type='path'),
        metadata_snap=dict(type='bool', default=False),
        thin_ls=dict(type='bool', default=False),
        thin_ls_fields=dict(type='list', elements='str', default=[
            'DEV', 'MAPPED_BLOCKS', 'EXCLUSIVE_BLOCKS', 'SHARED_BLOCKS', 'MAPPED_SECTORS',
            'TRANSACTION', 'CREATE_TIME', 'SNAP_TIME']),
        thin_delta=dict(type='dict', options=dict(
            thin1=dict(type='int', required=True),
            thin2=dict(type='int', required=True),
        )),
        metadata_size=dict(type='dict', options=dict(
            family=dict(type='str', required=True, choices=['thin', 'cache']),
            block_size=dict(type='raw'),
            pool_size=dict(type='raw'),
            max_thins=dict(type='int'),
            device_size=dict(type='raw'),
            nr_blocks=dict(type='int'),
            max_hint_width=dict(type='int'),
        )),
    ))


if __name__ == '__main__':
    main()
