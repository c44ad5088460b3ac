# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Events layer: wait, with a timeout, until a device's event counter passes a value or a thin
pool's data or metadata usage reaches a threshold (dm_wait).

``Condition(option, value)`` is one of ``CONDITIONS``: ``events_above`` (the device's
``events`` counter, from ``dmsetup info -c``, greater than the value: what ``dmsetup wait NAME
EVENT_NR`` waits for), ``data_usage`` or ``metadata_usage`` (a thin-pool's used blocks, from
``dmsetup status``, at least a percentage of its blocks (``'80%'``), a number of blocks
(``'1000'``), or ``'low_water_mark'``: as few blocks free as the low water mark, the point where
the kernel raises the pool's event; the table's for data, the status's for metadata).
``Waiter(run, name, condition, timeout, interval).wait()`` polls and returns the result: met,
waited, polls, the first and last values seen, and the device as dm_info shows it then.

Why polls and not ``dmsetup wait``: ``dmsetup wait`` blocks in the kernel with no timeout of
its own, so a run killed while it waits (a task timeout, a SIGKILL) would leave it behind, for
ever when no event comes; a poll is one short ``dmsetup`` command every ``interval`` seconds
(0.06-0.2 s each on the lab's TCG guests), so no process outlives the run, and the same loop
serves the usage thresholds, which change without an event. An event is seen at most
``interval`` seconds late; the counter only grows, so none is missed. One command per poll:
``info -c`` of the device for the counter, ``status`` of the pool for usage; the device's
other outputs are read once, at the end.

What raises a device's event on the lab kernels (6.1 and 6.12, wait_capture_guest.py): a
thin-pool whose free data blocks fall to its low water mark (once; again after the pool is
resumed), a rename; not a target message, a suspend or resume, or a reload of the same table.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time
from decimal import Decimal, InvalidOperation

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.discovery import (
    device_argvs, parse_info, read_device, run_device)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import DmRunner
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.status import parse_status
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Table, validate_name
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError

CONDITIONS = ('events_above', 'data_usage', 'metadata_usage')
LOW_WATER_MARK = 'low_water_mark'
# usage option -> (what the messages call it, key of the used blocks, key of the total, in the thin-pool status)
USAGE = {
    'data_usage': ('data', 'used_data_blocks', 'total_data_blocks'),
    'metadata_usage': ('metadata', 'used_metadata_blocks', 'total_metadata_blocks'),
}


def _ceil(value):
    whole = int(value)
    return whole + 1 if whole < value else whole


class Condition(object):
    """What to wait for: ``events_above`` N, or ``data_usage`` / ``metadata_usage`` reaching a threshold."""

    def __init__(self, option, value):
        if option not in CONDITIONS:
            raise DmError('condition %r: expected one of %s' % (option, ', '.join(CONDITIONS)))
        self.option = option
        self.kind = None
        self.amount = None
        if option == 'events_above':
            self.kind = 'events'
            self.amount = self._whole(value, option)
        else:
            self._threshold(value)

    @staticmethod
    def _whole(value, option):
        try:
            number = -1 if isinstance(value, bool) else int(str(value).strip())
        except ValueError:
            number = -1
        if number < 0:
            raise DmError('%s %r: expected a whole number >= 0' % (option, value))
        return number

    def _threshold(self, value):
        text = '' if value is None or isinstance(value, bool) else str(value).strip()
        if text == LOW_WATER_MARK:
            self.kind = LOW_WATER_MARK
            return
        if text.endswith('%'):
            try:
                percent = Decimal(text[:-1].strip())
            except InvalidOperation:
                percent = None
            if percent is None or not percent.is_finite() or not 0 < percent <= 100:
                raise DmError('%s %r: expected a percentage above 0 and at most 100 (80%%, 12.5%%)'
                              % (self.option, value))
            self.kind, self.amount = 'percent', percent
            return
        if text.isdigit():
            self.kind, self.amount = 'blocks', int(text)
            return
        raise DmError('%s %r: expected a percentage of the pool\'s blocks (80%%), a number of blocks (1000) '
                      'or %s' % (self.option, value, LOW_WATER_MARK))

    @property
    def needs_status(self):
        return self.option in USAGE

    def needed(self, pool, table=None):
        """The used blocks that meet a usage condition, for this status (``pool``: a parsed thin-pool status)."""
        what, _used, total_key = USAGE[self.option]
        total = pool[total_key]
        if self.kind == 'percent':
            return _ceil(self.amount * total / 100)
        if self.kind == 'blocks':
            return self.amount
        if self.option == 'data_usage':
            mark = pool_segment(table).target.params['low_water_mark']
        else:
            mark = pool.get('metadata_low_watermark')
            if mark is None:
                raise DmError('metadata_usage %s: this kernel\'s thin-pool status shows no metadata low water mark'
                              % LOW_WATER_MARK)
        # the kernel raises the event when the free blocks fall to the mark (free <= mark)
        return max(total - mark, 0)

    def describe(self, pool=None, table=None):
        """The condition in words, with the blocks it means when the pool's status is known."""
        if self.kind == 'events':
            return 'event counter above %d' % self.amount
        what, _used, total_key = USAGE[self.option]
        if self.kind == 'percent':
            goal = '%s%% of its %s blocks' % (self.amount, what)
        elif self.kind == 'blocks':
            goal = '%d %s blocks' % (self.amount, what)
        else:
            goal = 'its %s low water mark' % what
        if pool is None:
            return '%s usage reaching %s' % (what, goal)
        needed = self.needed(pool, table)
        if self.kind == 'blocks':
            return '%s usage reaching %s (of %d)' % (what, goal, pool[total_key])
        return '%s usage reaching %s (%d of %d blocks used)' % (what, goal, needed, pool[total_key])

    def check(self, value, pool=None, table=None):
        if self.kind == 'events':
            return value > self.amount
        return value >= self.needed(pool, table)


def pool_segment(table):
    for seg in table or []:
        if seg.target_type == 'thin-pool':
            return seg
    return None


def pool_status(name, status_text):
    """The parsed thin-pool segment of one device's ``dmsetup status`` output; DmError without one."""
    types = []
    for line in (status_text or '').splitlines():
        words = line.split()
        if len(words) < 3:
            continue
        types.append(words[2])
        if words[2] == 'thin-pool':
            parsed = parse_status('thin-pool', words[3:])
            if parsed.get('failed') or 'used_data_blocks' not in parsed:
                raise DmError('device %s: its thin-pool status is %r; expected the pool\'s usage (has the pool '
                              'failed?)' % (name, ' '.join(words[3:])))
            return parsed
    raise DmError('device %s: a usage condition needs a thin-pool device; its targets: %s'
                  % (name, ', '.join(types) or 'none (no table)'))


class NoDevice(DmError):
    """The device named does not exist (or no longer)."""


class Waiter(object):
    """Polls one device until the condition is met or ``timeout`` seconds have gone by.

    ``run(argv) -> (rc, stdout, stderr)``; ``clock`` and ``sleep`` are ``time.monotonic`` and
    ``time.sleep`` unless given (tests). ``wait()`` returns the result, or raises DmError: no
    such device, the device gone while waiting, a usage condition on a device that is no
    thin-pool, and, unless ``fail_on_timeout`` is false, a condition not met in time (the error's
    details carry the same result)."""

    def __init__(self, run, name, condition, timeout, interval, fail_on_timeout=True, clock=None, sleep=None):
        self.run = run
        self.name = validate_name(name)
        self.condition = condition
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise DmError('timeout %r: expected seconds >= 0' % (timeout,))
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0.05 <= interval <= 3600:
            raise DmError('interval %r: expected seconds from 0.05 to 3600' % (interval,))
        self.timeout = timeout
        self.interval = interval
        self.fail_on_timeout = fail_on_timeout
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        # the outputs read last, by key of device_argvs (info, table, status): the result's device reuses them
        self.texts = {}
        self.table = None
        self.pool = None

    def _read(self, key):
        argv = dict(zip(('info', 'table', 'status'), device_argvs(self.name)))[key]
        text = run_device(self.run, argv)
        if text is None:
            raise NoDevice('device %s: no such device' % self.name)
        self.texts[key] = text
        return text

    def first_look(self):
        """A usage condition: the device is a thin-pool and the threshold fits the pool."""
        self.table = Table.parse(self._read('table').splitlines())
        # read again at the end, for the result's device
        self.texts.pop('table')
        if pool_segment(self.table) is None:
            raise DmError('device %s: %s needs a thin-pool device; its targets: %s'
                          % (self.name, self.condition.option,
                             ', '.join(seg.target_type for seg in self.table) or 'none (no table)'))
        pool = pool_status(self.name, self._read('status'))
        needed = self.condition.needed(pool, self.table)
        what, _used, total_key = USAGE[self.condition.option]
        if needed > pool[total_key]:
            raise DmError('device %s: %s %s blocks is more than the pool has (%d %s blocks); expected at most %d'
                          % (self.name, self.condition.option, self.condition.amount, pool[total_key], what,
                             pool[total_key]))

    def value(self):
        """One poll (one command): the value the condition compares (events, or used blocks)."""
        if self.condition.needs_status:
            self.pool = pool_status(self.name, self._read('status'))
            return self.pool[USAGE[self.condition.option][1]]
        row = parse_info(self._read('info')).get(self.name)
        if row is None:
            raise DmError('dmsetup info of device %s: expected its row, got %r' % (self.name, self.texts['info']))
        return row['events']

    def describe(self):
        return self.condition.describe(self.pool, self.table)

    def wait(self):
        started = self.clock()
        polls, first, value, met = 0, None, None, False
        try:
            if self.condition.needs_status:
                self.first_look()
            deadline = started + self.timeout
            while True:
                value = self.value()
                polls += 1
                if first is None:
                    first = value
                met = self.condition.check(value, self.pool, self.table)
                now = self.clock()
                if met or now >= deadline:
                    break
                self.sleep(min(self.interval, deadline - now))
        except NoDevice:
            if not polls:
                raise DmError('device %s: no such device; expected a device to wait for its %s'
                              % (self.name, self.describe()))
            raise DmError('device %s: gone while waiting for its %s (removed or renamed); last value seen: %s'
                          % (self.name, self.describe(), self.seen(value)), met=False,
                          waited=round(self.clock() - started, 3), polls=polls, first_value=first, value=value,
                          condition=self.describe())
        result = dict(met=met, waited=round(self.clock() - started, 3), polls=polls, first_value=first,
                      value=value, condition=self.describe())
        result['device'] = self.device()
        if not met and self.fail_on_timeout:
            raise DmError('device %s: %s not met within %s s; last value seen: %s'
                          % (self.name, result['condition'], self.timeout, self.seen(value)), **result)
        return result

    def seen(self, value):
        """The last value in words."""
        if not self.condition.needs_status:
            return '%d events' % value
        what, _used, total_key = USAGE[self.condition.option]
        total = self.pool[total_key]
        return '%d of %d %s blocks used (%.1f%%)' % (value, total, what, 100.0 * value / total if total else 0)

    def device(self):
        """The device as dm_info shows it, from the last poll's output and the rest read now; None if it is gone."""
        read = read_device(self.run, self.name, known=self.texts)
        return read[0] if read else None


class WaitRunner(DmRunner):
    """dm_wait: one ``Waiter`` run; never changes anything, so no host lock, and check mode waits too."""

    def run(self):
        p = self.params
        given = [option for option in CONDITIONS if p.get(option) is not None]
        if len(given) != 1:
            raise DmError('expected exactly one of %s; got %s' % (', '.join(CONDITIONS), ', '.join(given) or 'none'))
        waiter = Waiter(self.run_argv, p['name'], Condition(given[0], p[given[0]]), p['timeout'], p['interval'],
                        fail_on_timeout=p['fail_on_timeout'])
        self.result['name'] = p['name']
        self.result.update(waiter.wait())
