#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dmpd_dump
short_description: Dump thin, cache or era metadata to a file with thin_dump, cache_dump or era_dump
version_added: 0.1.0
description:
  - The tool writes the dump into a temporary file beside O(dest); it never passes through
    Python memory. O(dest) is replaced only when the content differs, so the task reports
    changed only when the dump changed.
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dmpd
  - sts.devicemapper.dmpd.family
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the digests of the old and new dump.
  platform:
    platforms: posix
options:
  path:
    description: Metadata block device or file to dump.
    type: path
    required: true
  dest:
    description: File to write the dump to. Its directory must exist.
    type: path
    required: true
  format:
    description: V(xml), or V(human_readable) for thin metadata.
    type: str
    choices: [xml, human_readable]
    default: xml
  repair:
    description: Repair the metadata while dumping it (the source is not written).
    type: bool
    default: false
  metadata_snap:
    description: Thin metadata only; dump the metadata snapshot, the way to read an active pool.
    type: bool
    default: false
  dev_id:
    description: Thin metadata only; dump only this thin device.
    type: int
  skip_mappings:
    description: Thin metadata only; leave the mappings out.
    type: bool
    default: false
  logical:
    description: Era metadata only; fold unprocessed write sets into the era array.
    type: bool
    default: false
  mode:
    description: Mode of O(dest) when it is written, as an octal string.
    type: str
    default: '0600'
'''

EXAMPLES = r'''
- name: Dump a thin pool's metadata as XML
  sts.devicemapper.dmpd_dump:
    path: /dev/mapper/pool_tmeta
    dest: /var/tmp/pool.xml

- name: Dump one thin device of a live pool through its metadata snapshot
  sts.devicemapper.dmpd_dump:
    path: /dev/mapper/pool_tmeta
    dest: /var/tmp/thin1.xml
    metadata_snap: true
    dev_id: 1
'''

RETURN = r'''
dest:
  description: The dump file.
  returned: success
  type: str
family:
  description: Metadata family dumped.
  returned: success
  type: str
  sample: thin
sha256:
  description: SHA-256 of the dump.
  returned: success
  type: str
size:
  description: Size of the dump in bytes.
  returned: success
  type: int
cmd:
  description: The dump tool's argv.
  returned: success
  type: list
  elements: str
tool_version:
  description: Version of the installed thin-provisioning-tools.
  returned: success
  type: str
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.ops import DumpRunner, FAMILY_SPEC


def main():
    spec = dict(
        path=dict(type='path', required=True),
        dest=dict(type='path', required=True),
        format=dict(type='str', default='xml', choices=['xml', 'human_readable']),
        repair=dict(type='bool', default=False),
        metadata_snap=dict(type='bool', default=False),
        dev_id=dict(type='int'),
        skip_mappings=dict(type='bool', default=False),
        logical=dict(type='bool', default=False),
        mode=dict(type='str', default='0600'),
    )
    spec.update(FAMILY_SPEC)
    DumpRunner.execute(spec)


if __name__ == '__main__':
    main()
