#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dmpd_trim
short_description: Discard the free data blocks of an inactive thin pool with thin_trim
version_added: 0.1.0
description:
  - Reads the pool's metadata and discards every data block it does not map.
  - Refused while either device is held by an active device-mapper device.
  - Discards cannot be observed afterwards, so a real run always reports changed; check mode
    runs nothing and reports the command it would run.
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
  metadata_dev:
    description: The pool's thin metadata (block device or file).
    type: path
    required: true
  data_dev:
    description: The pool's data block device (a file must first be attached to a loop device).
    type: path
    required: true
'''

EXAMPLES = r'''
- name: Discard free blocks of a deactivated pool
  sts.devicemapper.dmpd_trim:
    metadata_dev: /dev/vdb1
    data_dev: /dev/vdc
'''

RETURN = r'''
cmd:
  description: The thin_trim argv (run, or in check mode that would run).
  returned: success
  type: list
  elements: str
tool_version:
  description: Version of the installed thin-provisioning-tools.
  returned: success
  type: str
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dmpd.ops import TrimRunner


def main():
    TrimRunner.execute(dict(
        metadata_dev=dict(type='path', required=True),
        data_dev=dict(type='path', required=True),
    ))


if __name__ == '__main__':
    main()
