#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dmpd_repair
short_description: Repair damaged thin, cache or era metadata into a new device or file
version_added: 0.1.0
description:
  - Reads damaged binary metadata from O(src) and writes a repaired copy to O(dest) with
    thin_repair, cache_repair or era_repair (era_repair needs tools 1.x).
  - The repaired metadata is first built in a scratch file and checked; metadata that does not pass the
    checker never replaces O(dest). When O(dest) already holds the same metadata the task reports ok and
    writes nothing. O(src) is never written.
  - The same safety as M(sts.devicemapper.dmpd_restore) applies to O(dest).
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dmpd
  - sts.devicemapper.dmpd.family
  - sts.devicemapper.dmpd.safety
  - sts.devicemapper.dmpd.thin_overrides
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  src:
    description:
      - Damaged binary metadata (block device or file). With O(family=auto) its superblock
        magic must still be readable; give O(family) otherwise.
    type: path
    required: true
  dest:
    description: Metadata block device or file to write the repaired metadata to.
    type: path
    required: true
seealso:
  - module: sts.devicemapper.dmpd_check
  - module: sts.devicemapper.dmpd_restore
'''

EXAMPLES = r'''
- name: Repair a pool's damaged metadata into a spare file
  sts.devicemapper.dmpd_repair:
    src: /dev/vg0/pool_tmeta
    dest: /var/tmp/pool-repaired.meta
'''

RETURN = r'''
changed:
  description: Whether O(dest) was (or in check mode would be) written.
  returned: always
  type: bool
family:
  description: Metadata family repaired.
  returned: success
  type: str
backup_file:
  description: Backup of what O(dest) held before it was replaced; null when nothing was backed up.
  returned: success
  type: str
cmd:
  description: The repair tool's argv, as run into the scratch file.
  returned: success
  type: list
  elements: str
tool_version:
  description: Version of the installed thin-provisioning-tools.
  returned: success
  type: str
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.ops import (
    FAMILY_SPEC, SAFETY_SPEC, THIN_OVERRIDES_SPEC, RepairRunner)


def main():
    spec = dict(
        src=dict(type='path', required=True),
        dest=dict(type='path', required=True),
    )
    for group in (FAMILY_SPEC, SAFETY_SPEC, THIN_OVERRIDES_SPEC):
        spec.update(group)
    RepairRunner.execute(spec)


if __name__ == '__main__':
    main()
