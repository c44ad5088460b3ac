#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: dm_stats
short_description: Keep I/O statistics of a device-mapper device (dm-stats regions), read and clear them
version_added: 0.2.0
description:
  - Makes sure a statistics region of the kernel's dm-stats exists on a device (a sector range cut into areas,
    optionally with a latency histogram), reads its counters, zeroes them, or deletes the region. The kernel
    counts the I/O of every area from the moment the region is created; nothing else about the device changes.
  - The region is created, read, cleared and deleted with the kernel's C(@stats_create), C(@stats_list),
    C(@stats_print), C(@stats_print_clear) and C(@stats_delete) messages (C(dmsetup message)); see the kernel's
    C(Documentation/admin-guide/device-mapper/statistics.rst).
  - A region of this module is known by its program id (O(program_id)) and aux data (O(aux_data)), two words the
    kernel keeps with the region and shows back. Regions of other program ids (C(dmsetup stats) uses
    C(dmstats)) or other aux data are never touched; give another O(aux_data) to keep several regions of one
    program id on a device.
  - Every result holds the region's counters as they are after the run, summed over its areas and per area,
    with the histogram buckets and their bounds; a task with O(state=present) run again is a read of them.
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sts.devicemapper.dm
  - sts.devicemapper.dm.LOCK
attributes:
  check_mode:
    support: full
    details: Reads the regions and their counters and reports what would be created, deleted or cleared; no
      region is created, deleted or cleared. A region that would be created has no counters yet (null).
  diff_mode:
    support: full
    details: The regions of the program id and aux data, before and after; with O(state=cleared) whether their
      counters held anything.
  platform:
    platforms: posix
options:
  name:
    description: The device (C(/dev/mapper/NAME)); it must exist and have a live table.
    type: str
    required: true
  state:
    description:
      - V(present) a region with exactly these parameters (O(start), O(length), O(area_size) or O(areas),
        O(histogram), O(precise_timestamps)) exists, created when missing. A region of the same O(program_id) and
        O(aux_data) with other parameters is refused unless O(force).
      - V(cleared) the same, and its counters zeroed (all but C(in_flight)); changed when they held anything.
        The counters zeroed are returned as RV(cleared_counters), printed and zeroed in one message, so no I/O
        counted in between is lost.
      - V(absent) no region of this O(program_id) and O(aux_data) is left (whatever its parameters).
    type: str
    choices: [present, cleared, absent]
    default: present
  start:
    description:
      - The region's first sector (a number of 512-byte sectors, or a size such as V(1M)); omitted, 0.
    type: str
  length:
    description:
      - The region's size (sectors, or a size such as V(64M)); omitted, up to the end of the device as its table
        is now. A region keeps the size it was created with when the device grows or shrinks later, so a task
        without O(length) then finds it with other parameters.
    type: str
  area_size:
    description:
      - The size of each area counted apart (sectors or a size); the last area may be shorter.
      - Mutually exclusive with O(areas); with neither, the region is one area.
    type: str
  areas:
    description:
      - The number of areas to cut the region into; the kernel makes the area size the region's length divided by
        this number, rounded up (so it may make fewer areas).
    type: int
  histogram:
    description:
      - Bounds of a latency histogram, increasing, each above 0, in milliseconds (nanoseconds with
        O(precise_timestamps)). V([1, 5, 20]) counts the I/Os that took under 1, 1 to 5, 5 to 20 and 20 or more.
      - Omitted or empty, the region has no histogram.
    type: list
    elements: int
  precise_timestamps:
    description:
      - Times (and histogram bounds) in nanoseconds from a precise clock instead of milliseconds from the kernel's
        ticks; slightly slower to count.
    type: bool
    default: false
  program_id:
    description:
      - "The kernel's program id of the region, a word (letters, digits and C(#+-.:=@_,/%)) of up to 128
        characters; C(-), what the kernel shows for none, is refused."
    type: str
    default: sts-devicemapper
  aux_data:
    description:
      - The region's aux data, a word like O(program_id); with O(program_id) it names the region, so several tasks
        can keep regions of their own on one device. Omitted, the region has none (the kernel shows C(-)).
    type: str
  force:
    description:
      - With O(state=present) or O(state=cleared), delete the regions of this O(program_id) and O(aux_data) that
        have other parameters and create the wanted one (their counters are lost). V(false) fails the task
        instead, naming both.
    type: bool
    default: false
notes:
  - The kernel counts the I/O of bio-based devices (linear, striped, thin, cache, crypt ...) only; a region of a
    request-based multipath device stays at zero.
  - Creating a region suspends and resumes the device inside the kernel for an instant, so that no I/O is in
    flight when counting starts.
  - A region lives as long as the device; removing the device drops it.
  - C(dmsetup stats report) (libdm) reads the regions it reports with C(@stats_print_clear), so it zeroes their
    counters; with C(--allprograms) that includes this module's regions (seen on both lab kernels). This module
    reads with C(@stats_print), which zeroes nothing.
seealso:
  - module: sts.devicemapper.dm_info
  - name: dmstats(8)
    description: The C(dmsetup stats) front end to the same kernel regions.
    link: https://man7.org/linux/man-pages/man8/dmstats.8.html
'''

EXAMPLES = r'''
- name: Count the I/O of vol0 in 8 areas, with a latency histogram
  sts.devicemapper.dm_stats:
    name: vol0
    areas: 8
    histogram: [1, 5, 20, 100]
  register: vol0_stats

- name: Show what was written
  ansible.builtin.debug:
    msg: "{{ vol0_stats.region.counters.sectors_written }} sectors in {{ vol0_stats.region.counters.writes }} writes"

- name: Zero the counters before a workload
  sts.devicemapper.dm_stats:
    name: vol0
    areas: 8
    histogram: [1, 5, 20, 100]
    state: cleared

- name: A second region of the first 64 MiB, known by its aux data
  sts.devicemapper.dm_stats:
    name: vol0
    length: 64M
    aux_data: head

- name: Stop counting
  sts.devicemapper.dm_stats:
    name: vol0
    state: absent
'''

RETURN = r'''
name:
  description: The device.
  returned: always
  type: str
  sample: vol0
state:
  description: The state asked for.
  returned: always
  type: str
  sample: present
program_id:
  description: The program id of the region.
  returned: always
  type: str
  sample: sts-devicemapper
aux_data:
  description: The aux data of the region (null for none).
  returned: always
  type: str
  sample: head
region:
  description:
    - The region after the run (null with O(state=absent)). Sizes are in sectors; times in C(time_unit) (C(ms), or C(ns) with O(precise_timestamps)).
    - C(counters) are the areas' summed; C(histogram) has one bucket per bound and one above the last, each with
      its C(lower) and C(upper) bound (null for the last) and C(count), the reads and writes that took that long;
      C(areas) has the C(start), C(length), counters and C(histogram) counts of each area.
  returned: success, unless O(state=absent)
  type: dict
  sample:
    region_id: 0
    start: 0
    length: 65536
    area_size: 16384
    area_count: 4
    program_id: sts-devicemapper
    aux_data: null
    precise_timestamps: false
    time_unit: ms
    histogram_bounds: [1, 5, 20, 100]
    counters: {reads: 2, reads_merged: 0, sectors_read: 16, read_time: 0, writes: 4, writes_merged: 0,
               sectors_written: 8192, write_time: 12, in_flight: 0, io_ticks: 12, time_in_queue: 12,
               read_ticks: 0, write_ticks: 12}
    histogram: [{lower: 0, upper: 1, count: 3}, {lower: 1, upper: 5, count: 1}, {lower: 5, upper: 20, count: 2},
                {lower: 20, upper: 100, count: 0}, {lower: 100, upper: null, count: 0}]
    areas: [{start: 0, length: 16384, reads: 2, reads_merged: 0, sectors_read: 16, read_time: 0, writes: 4,
             writes_merged: 0, sectors_written: 8192, write_time: 12, in_flight: 0, io_ticks: 12, time_in_queue: 12,
             read_ticks: 0, write_ticks: 12, histogram: [3, 1, 2, 0, 0]}]
cleared_counters:
  description: With O(state=cleared), the counters zeroed (in check mode, the ones that would be).
  returned: when counters were cleared
  type: dict
  sample: {reads: 2, reads_merged: 0, sectors_read: 16, read_time: 0, writes: 4, writes_merged: 0,
           sectors_written: 8192, write_time: 12, in_flight: 0, io_ticks: 12, time_in_queue: 12, read_ticks: 0,
           write_ticks: 12}
created:
  description: The region id the kernel gave the region created.
  returned: when a region was created
  type: int
  sample: 0
deleted:
  description: The region ids deleted (in check mode, that would be).
  returned: success
  type: list
  elements: int
  sample: [1]
commands:
  description: The C(dmsetup message) commands that changed something (reads are not listed).
  returned: success
  type: list
  elements: list
  sample: [["dmsetup", "message", "--", "vol0", "0", "@stats_create", "0+65536", "16384", "1", "histogram:1,5,20,100",
            "sts-devicemapper"]]
'''

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.stats import PROGRAM_ID
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.stats_runner import STATES, StatsRunner


def main():
    StatsRunner.execute(dict(name=dict(type='str', required=True),
                             state=dict(type='str', choices=list(STATES), default='present'),
                             start=dict(type='str'), length=dict(type='str'), area_size=dict(type='str'),
                             areas=dict(type='int'), histogram=dict(type='list', elements='int'),
                             precise_timestamps=dict(type='bool', default=False),
                             program_id=dict(type='str', default=PROGRAM_ID), aux_data=dict(type='str'),
                             force=dict(type='bool', default=False)),
                        mutually_exclusive=[('area_size', 'areas')])


if __name__ == '__main__':
    main()
