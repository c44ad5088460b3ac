#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_message
short_description: Send a message to a device-mapper target, or run an idempotent thin-pool action
version_added: 0.1.0
description:
  - O(target_message) sends any target message (C(dmsetup message NAME SECTOR MESSAGE)); it always reports changed,
    and check mode sends nothing.
  - O(action) runs a thin-pool action that is idempotent, judged from the pool's status and its active thin
    devices; C(create_thin) and C(create_snap) of a dev_id that exists, and C(delete) of one that does not,
    report no change. C(create_snap) suspends the origin's active devices and resumes them whatever happens.
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dm
  - sts.devicemapper.dm.LOCK
attributes:
  check_mode:
    support: full
    details: A dev_id that no active device maps cannot be looked up without a message, so check mode reports
      C(create_thin), C(create_snap) and C(delete) of such an id as changes.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  name:
    description: The device (for O(action), a thin-pool).
    type: str
    required: true
  sector:
    description: The sector the message is for (which segment gets it).
    type: int
    default: 0
  target_message:
    description: The message and its arguments, separated by spaces (V(create_thin 1), V(@cancel_deferred_remove)).
    type: str
  action:
    description: A named thin-pool action.
    type: str
    choices: [create_thin, create_snap, delete, set_transaction_id, reserve_metadata_snap, release_metadata_snap]
  dev_id:
    description: The thin dev_id for V(create_thin), V(create_snap) and V(delete).
    type: int
  origin_id:
    description: The origin's dev_id for V(create_snap).
    type: int
  transaction_id:
    description: The transaction id V(set_transaction_id) sets (the current one is read from the pool's status).
    type: int
seealso:
  - module: sts.devicemapper.dm_target
'''

EXAMPLES = r'''
- name: A new thin dev_id in pool0 (not changed when it exists)
  sts.devicemapper.dm_message:
    name: pool0
    action: create_thin
    dev_id: 1

- name: Snapshot dev_id 1 as dev_id 2
  sts.devicemapper.dm_message:
    name: pool0
    action: create_snap
    dev_id: 2
    origin_id: 1

- name: Record transaction 7
  sts.devicemapper.dm_message:
    name: pool0
    action: set_transaction_id
    transaction_id: 7

- name: Any message, as it is
  sts.devicemapper.dm_message:
    name: pool0
    target_message: reserve_metadata_snap
'''

RETURN = r'''
name:
  description: The device.
  returned: always
  type: str
  sample: pool0
target_message:
  description: The message, as sent (or that would be sent in check mode).
  returned: when O(target_message) is given
  type: str
  sample: create_thin 1
sent:
  description: Whether the message was sent (not in check mode).
  returned: when O(target_message) is given
  type: bool
  sample: true
reply:
  description: What the target answered, if anything.
  returned: when O(target_message) was sent
  type: str
  sample: ""
action:
  description: The thin-pool action.
  returned: when O(action) is given
  type: str
  sample: create_thin
status_before:
  description: The pool's parsed status before the action (see M(sts.devicemapper.dm_info)).
  returned: when O(action) is given
  type: dict
  sample: {"transaction_id": 0, "held_metadata_root": null, "mode": "rw", "needs_check": false}
status_after:
  description: The pool's parsed status after the action.
  returned: when O(action) is given
  type: dict
  sample: {"transaction_id": 0, "held_metadata_root": null, "mode": "rw", "needs_check": false}
commands:
  description: The C(dmsetup) commands that changed something.
  returned: when something was sent
  type: list
  elements: list
  sample: [["dmsetup", "message", "--", "pool0", "0", "create_thin", "1"]]
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import THIN_ACTIONS, MessageRunner


def main():
    MessageRunner.execute(dict(name=dict(type='str', required=True), sector=dict(type='int', default=0),
                               target_message=dict(type='str'), action=dict(type='str', choices=list(THIN_ACTIONS)),
                               dev_id=dict(type='int'), origin_id=dict(type='int'), transaction_id=dict(type='int')),
                          mutually_exclusive=[('target_message', 'action')],
                          required_one_of=[('target_message', 'action')])


if __name__ == '__main__':
    main()
