# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Option docs shared by the dmpd_* modules, one fragment per argument-spec group."""

    DOCUMENTATION = r'''
requirements:
  - thin-provisioning-tools 0.9.x or 1.x on the managed host (C(thin_check), C(thin_dump), ...).
notes:
  - Works on metadata devices and on plain metadata files; it needs neither root nor kernel
    device-mapper for files.
  - Tool generations differ; an option the installed generation lacks fails with a message
    naming the option and the installed version.
options: {}
'''

    FAMILY = r'''
options:
  family:
    description:
      - Metadata family, which picks the tool (C(thin_*), C(cache_*) or C(era_*)).
      - V(auto) reads it from the superblock magic of binary metadata, or from the attributes
        of the first element of an XML dump.
    type: str
    choices: [auto, thin, cache, era]
    default: auto
'''

    SAFETY = r'''
options:
  force:
    description:
      - Replace O(dest) when it already holds different metadata or other data.
      - Without it such a O(dest) is left untouched and the task fails saying what it holds.
      - Metadata that an active device-mapper device uses is never written, whatever O(force) says.
    type: bool
    default: false
  backup:
    description:
      - When O(force) replaces something, first keep it in O(backup_dir) (mode 0600) as an XML dump
        when the tools can read it, otherwise as a sparse raw copy. Its path is returned as RV(backup_file).
    type: bool
    default: true
  backup_dir:
    description:
      - Directory for the backup; defaults to the directory of O(dest).
    type: path
'''

    THIN_OVERRIDES = r'''
options:
  transaction_id:
    description:
      - Thin metadata only; override the transaction id written into the superblock.
    type: int
  data_block_size:
    description:
      - Thin metadata only; override the pool's data block size.
      - Sectors (512 bytes) as a number, or a size with a unit such as V(64KiB).
    type: raw
  nr_data_blocks:
    description:
      - Thin metadata only; override the number of data blocks of the pool.
    type: int
'''
