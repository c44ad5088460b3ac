# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault planning: a healthy table and a fault -> the faulty table that breaks it, and the record
that lets a later run put the healthy table back exactly.

- ``Fault.from_params(params)``: one validated fault (error, zero, flakey, delay, dust).
- ``plan(healthy, fault, start, length)``: the faulty ``Table``. ``error`` and ``zero`` replace the
  segments in the range, whatever their target; ``flakey``, ``delay`` and ``dust`` wrap the device
  and offset of the linear segments in the range (a linear segment is split where the range
  starts or ends). A range that cuts a segment of another target, or a wrapping fault over one,
  is refused with what to break instead.
- ``FaultRecord``: the healthy table, the injected one and the fault, one JSON file per device,
  written (by rename) before the faulty table goes live and removed after the heal, so a run
  killed at any point leaves a record the next run completes or undoes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Segment, Table, validate_name
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import (
    Delay, DmError, Dust, Error, Flakey, Linear, Zero, _int)
from ansible_collections.sts.devicemapper.plugins.module_utils._json_file import save_json
from ansible_collections.sts.devicemapper.plugins.module_utils._units import SizeError, to_sectors

FAULT_TYPES = ('error', 'zero', 'flakey', 'delay', 'dust')
WRAPPING = ('flakey', 'delay', 'dust')
RECORD_DIR = '/var/lib/sts-devicemapper/faults'
RECORD_VERSION = 1

# the options of each fault type, beside "type"
OPTIONS = {
    'error': (),
    'zero': (),
    'flakey': ('up_interval', 'down_interval', 'features'),
    'delay': ('read_ms', 'write_ms', 'flush_ms'),
    'dust': ('block_size', 'bad_blocks', 'enabled'),
}


class Fault(object):
    """One fault, validated; ``spec`` is its normalised dict (what records and results hold)."""

    def __init__(self, spec):
        self.spec = spec
        self.type = spec['type']

    @classmethod
    def from_params(cls, params):
        if not isinstance(params, dict):
            raise DmError('fault %r: expected a dict with a type (%s)' % (params, ', '.join(FAULT_TYPES)))
        params = dict((k, v) for k, v in params.items() if v is not None)
        kind = params.pop('type', None)
        if kind not in FAULT_TYPES:
            raise DmError('fault type %r: expected one of %s' % (kind, ', '.join(FAULT_TYPES)))
        unknown = sorted(set(params) - set(OPTIONS[kind]))
        if unknown:
            raise DmError('fault %s: unknown option(s) %s; expected %s'
                          % (kind, ', '.join(unknown), ', '.join(OPTIONS[kind]) or 'none beside type'))
        spec = {'type': kind}
        if kind == 'flakey':
            spec['up_interval'] = _int(params.get('up_interval', 0), 'fault flakey up_interval (seconds)')
            spec['down_interval'] = _int(params.get('down_interval', 0), 'fault flakey down_interval (seconds)')
            if spec['up_interval'] + spec['down_interval'] == 0:
                raise DmError('fault flakey: up_interval 0 and down_interval 0; expected a total above 0 seconds '
                              '(the kernel refuses a zero period; down_interval alone breaks the device all the time)')
            features = params.get('features') or []
            if not isinstance(features, list):
                raise DmError('fault flakey features %r: expected a list' % (features,))
            spec['features'] = features
        elif kind == 'delay':
            spec['read_ms'] = _int(params.get('read_ms', 0), 'fault delay read_ms')
            if 'write_ms' in params:
                spec['write_ms'] = _int(params['write_ms'], 'fault delay write_ms')
            if 'flush_ms' in params:
                if 'write_ms' not in params:
                    raise DmError('fault delay flush_ms %r: given without write_ms (the kernel takes the classes in '
                                  'the order read, write, flush); expected write_ms too' % (params['flush_ms'],))
                spec['flush_ms'] = _int(params['flush_ms'], 'fault delay flush_ms')
        elif kind == 'dust':
            size = _int(params.get('block_size', 512), 'fault dust block_size (bytes)', 512, 1 << 30)
            if size & (size - 1):
                raise DmError('fault dust block_size: %d bytes; expected a power of two >= 512' % size)
            spec['block_size'] = size
            blocks = params.get('bad_blocks') or []
            if not isinstance(blocks, list):
                raise DmError('fault dust bad_blocks %r: expected a list of block numbers' % (blocks,))
            spec['bad_blocks'] = sorted(set(_int(b, 'fault dust bad_blocks item') for b in blocks))
            enabled = params.get('enabled', True)
            if not isinstance(enabled, bool):
                raise DmError('fault dust enabled %r: expected true or false' % (enabled,))
            spec['enabled'] = enabled
        fault = cls(spec)
        if kind in WRAPPING:
            fault.wrap('0:0', 0)   # the target's own checks, on a stand-in device
        return fault

    def wrap(self, device, offset):
        """The target of this fault over ``device`` from sector ``offset`` (wrapping faults)."""
        s = self.spec
        if self.type == 'flakey':
            return Flakey.from_params({'device': device, 'offset': offset, 'up_interval': s['up_interval'],
                                       'down_interval': s['down_interval'], 'features': s['features']})
        if self.type == 'delay':
            legs = {'read': {'device': device, 'offset': offset, 'delay_ms': s['read_ms']}}
            for key in ('write', 'flush'):
                if key + '_ms' in s:
                    legs[key] = {'device': device, 'offset': offset, 'delay_ms': s[key + '_ms']}
            return Delay.from_params(legs)
        if self.type == 'dust':
            return Dust.from_params({'device': device, 'offset': offset, 'block_size_bytes': s['block_size']})
        raise DmError('fault %s does not wrap a device' % self.type)

    def replacement(self):
        return Error() if self.type == 'error' else Zero()

    def describe(self):
        words = [self.type] + ['%s=%s' % (k, self.spec[k]) for k in OPTIONS[self.type] if k in self.spec]
        return ' '.join(words)


def sector_range(table, start, length):
    """``(first, end)`` sectors of the range to break; the whole device when both are None."""
    try:
        first = to_sectors(start if start is not None else 0, 'fault start')
        size = to_sectors(length, 'fault length') if length is not None else None
    except SizeError as exc:
        raise DmError(str(exc))
    if size is None:
        size = table.length - first
    if size <= 0:
        raise DmError('fault length: %d sectors from sector %d; expected > 0 sectors within the device (%d sectors)'
                      % (size, first, table.length))
    if first + size > table.length:
        raise DmError('fault range: sectors %d to %d; expected within the device (%d sectors)'
                      % (first, first + size - 1, table.length))
    return first, first + size


def plan(healthy, fault, start=None, length=None, name='device'):
    """The faulty Table: ``healthy`` with ``fault`` over the range (see the module docstring)."""
    first, end = sector_range(healthy, start, length)
    for seg in healthy:
        if seg.redacted() != seg.format():
            raise DmError('device %s: its table holds key material (%s segment at sector %d); a fault record would '
                          'keep it on disk: break the device under it instead' % (name, seg.target_type, seg.start))
    segments = []
    wrapped = 0
    for seg in healthy:
        seg_end = seg.start + seg.length
        lo, hi = max(seg.start, first), min(seg_end, end)
        if lo >= hi:
            segments.append(seg)
            continue
        linear = isinstance(seg.target, Linear)
        if not linear and (lo > seg.start or hi < seg_end):
            raise DmError('device %s: the fault range (sectors %d to %d) cuts its %s segment (sectors %d to %d); only a '
                          'linear segment can be split: give a range that covers the segment whole, or none'
                          % (name, first, end - 1, seg.target_type, seg.start, seg_end - 1))
        if not linear and fault.type in WRAPPING:
            raise DmError('device %s: fault %s wraps a device and an offset, and sectors %d to %d are a %s segment, not '
                          'linear: put the fault under the device it maps (a carved data or metadata device), or use '
                          'error or zero' % (name, fault.type, seg.start, seg_end - 1, seg.target_type))
        for part_lo, part_hi, broken in ((seg.start, lo, False), (lo, hi, True), (hi, seg_end, False)):
            if part_lo >= part_hi:
                continue
            if not broken:
                target = Linear(device=seg.target.params['device'],
                                offset=seg.target.params['offset'] + part_lo - seg.start)
            elif fault.type in WRAPPING:
                target = fault.wrap(seg.target.params['device'], seg.target.params['offset'] + part_lo - seg.start)
                wrapped += 1
            else:
                target = fault.replacement()
            segments.append(Segment(part_lo, part_hi - part_lo, target))
    table = Table(segments).validate()
    if fault.type == 'dust':
        dust = [seg for seg in table if seg.target_type == 'dust']
        if wrapped != 1:
            raise DmError('device %s: fault dust numbers its bad blocks from the start of one dust target, and the range '
                          'covers %d linear segments; expected a range within one' % (name, wrapped))
        blocks = dust[0].length * 512 // fault.spec['block_size']
        beyond = [b for b in fault.spec['bad_blocks'] if b >= blocks]
        if beyond:
            raise DmError('fault dust bad_blocks %s: beyond the range, which holds blocks 0 to %d of %d bytes'
                          % (', '.join(str(b) for b in beyond), blocks - 1, fault.spec['block_size']))
    return table


def dust_messages(table, fault):
    """(sector, words) of the messages that give a new dust target its bad blocks and enable it."""
    out = []
    for seg in table:
        if seg.target_type == 'dust':
            out += [(seg.start, ['addbadblock', str(b)]) for b in fault.spec['bad_blocks']]
            if fault.spec['enabled']:
                out.append((seg.start, ['enable']))
    return out


class FaultRecord(object):
    """The state record of one device's fault: ``directory/NAME.json``."""

    def __init__(self, directory, name):
        if not directory or not os.path.isabs(directory):
            raise DmError('record_dir %r: expected an absolute path' % (directory,))
        self.directory = directory
        self.name = validate_name(name)
        self.path = os.path.join(directory, self.name + '.json')

    def load(self):
        """The record's dict, or None when there is none."""
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (IOError, OSError) as exc:
            if not os.path.exists(self.path):
                return None
            raise DmError('fault record %s: cannot be read (%s)' % (self.path, exc))
        except ValueError as exc:
            raise DmError('fault record %s: not JSON (%s); expected what dm_fault wrote: check the device, then remove '
                          'the file' % (self.path, exc))
        keys = ('name', 'healthy', 'injected', 'fault')
        if not isinstance(data, dict) or any(k not in data for k in keys) or data['name'] != self.name:
            raise DmError('fault record %s: expected the keys %s for device %s; check the device, then remove the file'
                          % (self.path, ', '.join(keys), self.name))
        return data

    def save(self, data):
        """Write the record whole (``_json_file.save_json``)."""
        save_json(self.path, dict(data, name=self.name, version=RECORD_VERSION))

    def remove(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
