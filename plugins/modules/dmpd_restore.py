#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dmpd_restore
short_description: Restore thin, cache or era metadata from an XML dump
version_added: 0.1.0
description:
  - Writes binary metadata from an XML dump with thin_restore, cache_restore or era_restore.
  - The metadata is first built in a scratch file (beside a file O(dest), so that replacing it is one
    rename) and checked with the family's checker; metadata that does not pass never replaces O(dest).
    A block device O(dest) is written in place once its candidate passed, and checked again.
    When O(dest) already holds the same metadata the task reports ok and writes nothing.
  - When O(dest) holds other metadata or data it is refused unless O(force); with O(force) the
    old content is backed up first (see O(backup)).
  - Never writes to metadata that an active device-mapper device uses.
  - A missing O(dest) file is created (mode 0600) and sized as the tools need.
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
    details: The diff says what O(dest) held and will hold, with the digests of both dumps.
  platform:
    platforms: posix
options:
  src:
    description: XML dump on the managed host.
    type: path
    required: true
  dest:
    description: Metadata block device or file to write. A missing file is created.
    type: path
    required: true
  metadata_version:
    description: Cache metadata only; metadata format version to write.
    type: str
    choices: ['1', '2']
  omit_clean_shutdown:
    description: Cache metadata only; do not set the clean shutdown flag.
    type: bool
    default: false
seealso:
  - module: sts.devicemapper.dmpd_dump
  - module: sts.devicemapper.dmpd_repair
'''

EXAMPLES = r'''
- name: Restore a pool's metadata into a file
  sts.devicemapper.dmpd_restore:
    src: /var/tmp/pool.xml
    dest: /var/tmp/pool.meta

- name: Replace different metadata on a device, keeping a dump of the old one
  sts.devicemapper.dmpd_restore:
    src: /var/tmp/pool.xml
    dest: /dev/vg0/pool_tmeta
    force: true
    backup_dir: /var/tmp/backups
'''

RETURN = r'''
changed:
  description: Whether O(dest) was (or in check mode would be) written.
  returned: always
  type: bool
family:
  description: Metadata family restored.
  returned: success
  type: str
  sample: thin
backup_file:
  description: Backup of what O(dest) held before it was replaced; null when nothing was backed up.
  returned: success
  type: str
  sample: /var/tmp/pool.meta.20261126T061500.4242.xml
cmd:
  description: The restore tool's argv, as run into the scratch file.
  returned: success
  type: list
  elements: str
tool_version:
  description: Version of the installed thin-provisioning-tools.
  returned: success
  type: str
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.ops import (
    FAMILY_SPEC, SAFETY_SPEC, THIN_OVERRIDES_SPEC, RestoreRunner)


def main():
    spec = dict(
        src=dict(type='path', required=True),
        dest=dict(type='path', required=True),
        metadata_version=dict(type='str', choices=['1', '2']),
        omit_clean_shutdown=dict(type='bool', default=False),
    )
    for group in (FAMILY_SPEC, SAFETY_SPEC, THIN_OVERRIDES_SPEC):
        spec.update(group)
    RestoreRunner.execute(spec)


if __name__ == '__main__':
    main()
