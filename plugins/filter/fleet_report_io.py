# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
name: fleet_report_io
short_description: The rows of the fleet report's I/O section, formatted for its Markdown page
version_added: 0.2.0
description:
  - Gives the I/O per device of the fleet report that the playbook C(sts.devicemapper.report) builds, one row
    per host, stack and device. These are the rows of the I/O table of P(sts.devicemapper.fleet_report_html#filter),
    in the same order (hosts by name with numbers in names in numeric order, then thin, cache, era, then
    devices by name).
  - The devices are the keys of each stack report's C(io), the device-mapper statistics of the devices the
    stack gives its users (option C(stats) of the stack modules, C(thin_stack_stats), C(cache_stack_stats) and
    C(era_stack_stats) of the roles). A stack report without C(io), or with C(io) null, gives no row.
  - Every value is a text, so that a template only places them. Counts are whole numbers, sectors are shown
    in MiB with two decimals, and a counter that is missing, or every counter of a device that maps to null
    (not there), is C(-).
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
options:
  _input:
    description:
      - The report, a mapping whose key C(hosts) holds the rows, one per host, as for
        P(sts.devicemapper.fleet_report_html#filter).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: The I/O rows of the fleet report
  ansible.builtin.debug:
    msg: "{{ {'hosts': rows} | sts.devicemapper.fleet_report_io }}"

- name: A Markdown table of them
  ansible.builtin.copy:
    content: |
      | host | device | MiB written |
      |---|---|---|
      {% for r in {'hosts': rows} | sts.devicemapper.fleet_report_io %}
      | {{ r.host }} | {{ r.device }} | {{ r.mib_written }} |
      {% endfor %}
    dest: /srv/reports/io.md
    mode: "0644"
'''


RETURN = r'''
_value:
  description:
    - One mapping per host, stack and device, with the keys C(host), C(stack) (kind and name, such as
      C(thin sts_thin)), C(device), C(reads), C(writes), C(mib_read), C(mib_written) and C(io_ticks_ms).
  type: list
  elements: dict
'''

from ansible_collections.sts.devicemapper.plugins.filter.fleet_report_html import (
    _is_number, io_rows, mib, report_rows)


def _count(counters, key):
    return str(counters[key]) if _is_number(counters.get(key)) else '-'


def _mib(counters, key):
    return mib(counters[key]) if _is_number(counters.get(key)) else '-'


def fleet_report_io(report):
    """The I/O rows of the fleet report {'hosts': rows}: one mapping of texts per host, stack and device."""
    out = []
    for host, stack, name, device, counters in io_rows(report_rows(report, 'fleet_report_io')):
        c = counters or {}
        out.append({'host': host, 'stack': '%s %s' % (stack, name), 'device': device, 'reads': _count(c, 'reads'),
                    'writes': _count(c, 'writes'), 'mib_read': _mib(c, 'sectors_read'),
                    'mib_written': _mib(c, 'sectors_written'), 'io_ticks_ms': _count(c, 'io_ticks')})
    return out


class FilterModule:
    """sts.devicemapper's filters."""

    def filters(self):
        return {'fleet_report_io': fleet_report_io}
