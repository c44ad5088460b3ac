#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dmpd_check
short_description: Check thin, cache or era metadata with thin_check, cache_check or era_check
version_added: 0.1.0
description:
  - Runs the checker of the metadata family on a metadata device or file and reports its verdict,
    the transaction id and free metadata blocks (thin), and what the checker found.
  - A failed check fails the task unless O(fail_on_error=false), so an ad-hoc run across a fleet
    shows the hosts with damaged metadata.
  - Reading the metadata of an active pool is refused unless O(metadata_snap=true); options that
    write (O(clear_needs_check_flag), O(auto_repair)) are always refused on metadata in use.
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dmpd
  - sts.devicemapper.dmpd.family
attributes:
  check_mode:
    support: full
    details: The check runs without the options that write; RV(ignore:changed) says whether they would have.
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  path:
    description: Metadata block device or file to check.
    type: path
    required: true
  super_block_only:
    description: Check the superblock only.
    type: bool
    default: false
  skip_mappings:
    description: Do not check the mapping tree (thin) or array (cache).
    type: bool
    default: false
  skip_hints:
    description: Cache metadata only; do not check the hint array.
    type: bool
    default: false
  skip_discards:
    description: Cache metadata only; do not check the discard bitset.
    type: bool
    default: false
  ignore_non_fatal_errors:
    description:
      - Pass the check when only non-fatal errors are found.
      - For cache and era metadata this needs tools 1.x.
    type: bool
    default: false
  metadata_snap:
    description:
      - Thin metadata only; check the metadata snapshot instead of the live metadata.
      - The way to check the metadata of an active pool after reserving a metadata snapshot.
    type: bool
    default: false
  clear_needs_check_flag:
    description:
      - Clear the needs_check flag in the superblock when the check passes (thin and cache).
      - The task reports changed only when the flag was really cleared.
    type: bool
    default: false
  auto_repair:
    description:
      - Let the checker repair trivial issues. For cache metadata this needs tools 1.x.
      - The task reports changed only when the superblock was really rewritten.
    type: bool
    default: false
  fail_on_error:
    description: Fail the task when the check fails. With V(false) the verdict is in RV(healthy).
    type: bool
    default: true
seealso:
  - module: sts.devicemapper.dmpd_repair
  - module: sts.devicemapper.dmpd_dump
'''

EXAMPLES = r'''
- name: Check a thin pool's metadata device while the pool is inactive
  sts.devicemapper.dmpd_check:
    path: /dev/vg0/pool_tmeta

- name: Report, without failing, which hosts hold damaged metadata files
  sts.devicemapper.dmpd_check:
    path: /var/tmp/pool.meta
    fail_on_error: false
  register: meta_check

- name: Check a live pool through its reserved metadata snapshot
  sts.devicemapper.dmpd_check:
    path: /dev/mapper/pool_tmeta
    metadata_snap: true

- name: Clear the needs_check flag after a passing check
  sts.devicemapper.dmpd_check:
    path: /dev/mapper/pool_tmeta
    clear_needs_check_flag: true
'''

RETURN = r'''
healthy:
  description: Whether the checker passed.
  returned: always
  type: bool
  sample: true
family:
  description: The metadata family checked; null when nothing recognisable was found.
  returned: always
  type: str
  sample: thin
tool_version:
  description: Version of the installed thin-provisioning-tools.
  returned: when the tools were found
  type: str
  sample: 0.9.0
transaction_id:
  description: Transaction id the thin checker printed; null for cache and era metadata.
  returned: when the checker ran
  type: int
  sample: 21
metadata_free_blocks:
  description: Free metadata blocks the thin checker printed; null for cache and era metadata.
  returned: when the checker ran
  type: int
  sample: 16383
needs_check:
  description: The needs_check flag of the superblock after the task (null for era metadata).
  returned: when a superblock was recognised
  type: bool
  sample: false
findings:
  description: What the checker reported, without its progress lines.
  returned: always
  type: list
  elements: str
  sample: ["bad checksum in superblock, wanted 1490015127"]
rc:
  description: Exit code of the checker.
  returned: when the checker ran
  type: int
  sample: 0
cmd:
  description: The checker's argv.
  returned: when the checker ran
  type: list
  elements: str
  sample: [/usr/sbin/thin_check, /var/tmp/pool.meta]
stdout:
  description: Standard output of the checker.
  returned: when the checker ran
  type: str
stderr:
  description: Standard error of the checker.
  returned: when the checker ran
  type: str
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.ops import CheckRunner, FAMILY_SPEC


def main():
    spec = dict(
        path=dict(type='path', required=True),
        super_block_only=dict(type='bool', default=False),
        skip_mappings=dict(type='bool', default=False),
        skip_hints=dict(type='bool', default=False),
        skip_discards=dict(type='bool', default=False),
        ignore_non_fatal_errors=dict(type='bool', default=False),
        metadata_snap=dict(type='bool', default=False),
        clear_needs_check_flag=dict(type='bool', default=False),
        auto_repair=dict(type='bool', default=False),
        fail_on_error=dict(type='bool', default=True),
    )
    spec.update(FAMILY_SPEC)
    CheckRunner.execute(spec)


if __name__ == '__main__':
    main()
