# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module layer of dm_stats: ``StatsRunner`` on top of ``_dm.stats`` (parsers, the region a task
asks for, the messages) and ``_dm.ops.DmHost`` (the device, its size, the resume of what a killed
run left suspended).

Kept apart from ``_dm.module`` so that ``_dm.module`` (dm_info) can import ``_dm.stats.device_stats``
without an import cycle.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import DmRunner
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.stats import (
    RegionSpec, Stats, counting, describe, totals)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import validate_name
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError

STATES = ('present', 'cleared', 'absent')


def _text(regions, counters=False):
    lines = []
    for region in regions:
        lines.append(describe(region))
        if counters and region.get('counters') is not None:
            c = region['counters']
            lines.append('  counters: %s' % ('reads %d, writes %d, sectors read %d, sectors written %d'
                                             % (c['reads'], c['writes'], c['sectors_read'], c['sectors_written'])
                                             if counting(c) else 'zero'))
    return ''.join(line + '\n' for line in lines)


class StatsRunner(DmRunner):
    """dm_stats: one statistics region of a device, known by its program id and aux data.

    ``present``: a region with exactly the task's parameters exists (created when missing); a region
    of the same program id and aux data with other parameters is refused unless ``force``, which
    deletes it and creates the wanted one. ``cleared``: the same, and its counters zeroed (changed
    when they held anything). ``absent``: no region of that program id and aux data is left. Every
    result holds the region's counters as they are after the run."""

    locks = True

    def run(self):
        p = self.params
        name = validate_name(p['name'])
        program_id, aux = RegionSpec.identity(p)
        state = p['state']
        host = self.host()
        if name not in host.facts:
            raise DmError('device %s does not exist; expected a live dm device to keep statistics of' % name)
        self.result.update(name=name, state=state, program_id=program_id, aux_data=aux)
        stats = Stats(host.dmsetup, name)
        mine = [r for r in stats.regions(program_id) if r['aux_data'] == aux]
        if state == 'absent':
            before = _text(mine)
            self.result['changed'] = bool(mine)
            if not self.check_mode:
                for region in mine:
                    stats.delete(region['region_id'])
            self.result.update(region=None, deleted=[r['region_id'] for r in mine], commands=host.dmsetup.commands)
            self.set_diff(before, '')
            return
        table = host.tables.get(name)
        if table is None or not table.length:
            raise DmError('device %s has no live table; expected a device with one to keep statistics of' % name)
        spec = RegionSpec.from_params(p, table.length, name)
        keep = next((r for r in mine if spec.same(r)), None)
        extra = [r for r in mine if r is not keep]
        if extra and not p['force']:
            raise DmError('device %s: region(s) of program_id %s and aux_data %s with other parameters are there: %s; '
                          'wanted %s. Set force: true to replace them (their counters are lost), or give another '
                          'aux_data to keep both' % (name, program_id, aux or '-', '; '.join(describe(r) for r in extra),
                                                     describe(spec.planned())))
        cleared = state == 'cleared'
        before_regions = [stats.read(r) for r in mine] if cleared else mine
        self.result['changed'] = bool(extra) or keep is None
        self.result['deleted'] = [r['region_id'] for r in extra]
        if not self.check_mode:
            for region in extra:
                stats.delete(region['region_id'])
            if keep is None:
                region_id = stats.create(spec)
                keep = next((r for r in stats.regions(program_id) if r['region_id'] == region_id), None)
                if keep is None or not spec.same(keep):
                    raise DmError('device %s: region %d was created but @stats_list shows it as %s; expected %s'
                                  % (name, region_id, describe(keep) if keep else 'missing', describe(spec.planned())))
                self.result['created'] = region_id
        if keep is None:
            region = dict(spec.planned(), counters=None, histogram=None, areas=None)
        else:
            region = next((r for r in before_regions if r['region_id'] == keep['region_id']), None) \
                if cleared else None
            region = region or stats.read(keep)
        if cleared and region['counters'] is not None and counting(region['counters']):
            self.result['changed'] = True
            if self.check_mode:
                self.result['cleared_counters'] = region['counters']
            else:
                # print and zero at once: nothing counted between a read and the clear is lost
                self.result['cleared_counters'] = totals(stats.areas(keep, clear=True))
                region = stats.read(keep)
        self.result['region'] = region
        self.result['commands'] = host.dmsetup.commands
        self.set_diff(_text(before_regions, cleared), _text([region], cleared))
