"""dm_wait's conditions and polling loop, on what the lab kernels showed while a thin pool filled
(fixtures/dm/wait-<distro>.json, wait_capture.sh): the pool's status and event counter after each
write, replayed one step per poll by a stand-in kernel with a stand-in clock."""

import json
import os
from decimal import Decimal

import pytest

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.discovery import device_argvs
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.wait import (
    CONDITIONS, Condition, Waiter, WaitRunner, pool_status)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'dm')
DISTROS = ('debian12', 'debian13')
POOL = 'stsit-wait-cap-pool'


def capture(distro):
    with open(os.path.join(FIXTURES, 'wait-%s.json' % distro)) as handle:
        return json.load(handle)


def with_events(info_row, events):
    cols = info_row.rstrip('\n').split('|')
    cols[7] = str(events)
    return '|'.join(cols) + '\n'


class Kernel(object):
    """The captured pool, one step of the capture per poll: ``steps`` are the captured step names
    to replay (the last one stays); each sleep moves to the next. ``gone_at``: from that step on
    the device no longer exists."""

    def __init__(self, distro, steps, gone_at=None):
        cap = capture(distro)
        by_name = dict((s['what'], s) for s in cap['steps'])
        self.states = [by_name[name] for name in steps]
        self.info = cap['info_single']['stdout']
        self.table = cap['table_single']['stdout']
        self.missing = cap['info_missing']['stderr']
        self.gone_at = gone_at
        self.index = 0
        self.now = 100.0
        self.calls = []
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        self.index = min(self.index + 1, len(self.states) - 1)

    def run(self, argv):
        self.calls.append(list(argv))
        if self.gone_at is not None and self.index >= self.gone_at:
            return 1, '', self.missing
        state = self.states[self.index]
        info, table, status = device_argvs(POOL)
        if argv == info:
            return 0, with_events(self.info, state['events'][POOL]), ''
        if argv == table:
            return 0, self.table, ''
        if argv == status:
            return 0, state['pool_status'], ''
        raise AssertionError('unexpected argv %r' % argv)


FILLING = ['created', 'write 8 MiB', 'write to 24 MiB', 'write to 32 MiB']


def waiter(kernel, option, value, timeout=60, interval=1.0, fail_on_timeout=True):
    return Waiter(kernel.run, POOL, Condition(option, value), timeout, interval, fail_on_timeout=fail_on_timeout,
                  clock=kernel.clock, sleep=kernel.sleep)


@pytest.mark.parametrize('distro', DISTROS)
def test_the_capture_saw_the_low_water_mark_raise_one_event(distro):
    # what the tests below replay: 1024 data blocks, low water mark 768 free; the event comes with
    # the write that leaves 640 free, and no other step before the pool's resume raises one
    steps = dict((s['what'], s) for s in capture(distro)['steps'])
    used = [pool_status(POOL, steps[name]['pool_status'])['used_data_blocks'] for name in FILLING]
    assert used == [0, 128, 384, 512]
    assert [steps[name]['events'][POOL] for name in FILLING] == [0, 0, 1, 1]
    for name in ('message set_transaction_id', 'suspend lin', 'resume lin', 'resume lin after load'):
        assert steps[name]['events'][POOL] == 1 and steps[name]['events']['stsit-wait-cap-lin'] == 0
    assert steps['rename lin back']['events']['stsit-wait-cap-lin'] == 2
    assert steps['write to 40 MiB (after the resume)']['events'][POOL] == 2
    assert any('reached low water mark for data device: sending event' in line for line in capture(distro)['dmesg'])


@pytest.mark.parametrize('distro', DISTROS)
def test_waiting_for_the_next_event_polls_info_until_the_counter_passes(distro):
    kernel = Kernel(distro, FILLING)
    result = waiter(kernel, 'events_above', 0, interval=2).wait()
    assert (result['met'], result['first_value'], result['value'], result['polls']) == (True, 0, 1, 3)
    assert result['waited'] == 4.0 and kernel.sleeps == [2, 2]
    assert result['condition'] == 'event counter above 0'
    # one info per poll; then the rest of the device, once
    info, table, status = device_argvs(POOL)
    assert kernel.calls == [info, info, info, table, status]
    assert result['device']['events'] == 1 and result['device']['status'][0]['used_data_blocks'] == 384


@pytest.mark.parametrize('distro', DISTROS)
def test_waiting_for_the_data_low_water_mark_ends_where_the_kernel_raised_its_event(distro):
    kernel = Kernel(distro, FILLING)
    result = waiter(kernel, 'data_usage', 'low_water_mark').wait()
    assert (result['met'], result['first_value'], result['value'], result['polls']) == (True, 0, 384, 3)
    assert result['condition'] == 'data usage reaching its data low water mark (256 of 1024 blocks used)'
    info, table, status = device_argvs(POOL)
    # the table (low water mark) and status once to check the pool, one status per poll, then info and table
    assert kernel.calls == [table, status, status, status, status, info, table]
    device = result['device']
    assert device['events'] == 1 and device['status'][0]['used_data_blocks'] == result['value']


@pytest.mark.parametrize('distro', DISTROS)
@pytest.mark.parametrize('option, value, polls, condition', [
    ('data_usage', '12.5%', 2, 'data usage reaching 12.5% of its data blocks (128 of 1024 blocks used)'),
    ('data_usage', '12.6%', 3, 'data usage reaching 12.6% of its data blocks (130 of 1024 blocks used)'),
    ('data_usage', '500', 4, 'data usage reaching 500 data blocks (of 1024)'),
    ('data_usage', 0, 1, 'data usage reaching 0 data blocks (of 1024)'),
    ('metadata_usage', '114', 3, 'metadata usage reaching 114 metadata blocks (of 1024)'),
])
def test_usage_thresholds(distro, option, value, polls, condition):
    kernel = Kernel(distro, FILLING)
    result = waiter(kernel, option, value).wait()
    assert result['met'] is True and result['polls'] == polls and result['condition'] == condition


@pytest.mark.parametrize('distro', DISTROS)
def test_a_condition_met_already_returns_after_one_look(distro):
    kernel = Kernel(distro, ['write to 32 MiB'])
    result = waiter(kernel, 'data_usage', 'low_water_mark').wait()
    assert result['met'] and result['polls'] == 1 and result['waited'] == 0 and kernel.sleeps == []


@pytest.mark.parametrize('distro', DISTROS)
def test_a_timeout_fails_naming_the_device_the_condition_and_the_last_value(distro):
    kernel = Kernel(distro, ['created', 'write 8 MiB'])
    with pytest.raises(DmError) as err:
        waiter(kernel, 'data_usage', '90%', timeout=5, interval=2).wait()
    assert err.value.msg == ('device %s: data usage reaching 90%% of its data blocks (922 of 1024 blocks used) not met '
                             'within 5 s; last value seen: 128 of 1024 data blocks used (12.5%%)' % POOL)
    details = err.value.details
    assert (details['met'], details['polls'], details['first_value'], details['value']) == (False, 4, 0, 128)
    # the last look is at the deadline, not an interval after it
    assert kernel.sleeps == [2, 2, 1] and details['waited'] == 5
    assert details['device']['status'][0]['used_data_blocks'] == 128


@pytest.mark.parametrize('distro', DISTROS)
def test_an_event_timeout_says_the_counter_seen(distro):
    kernel = Kernel(distro, ['created'])
    with pytest.raises(DmError) as err:
        waiter(kernel, 'events_above', 0, timeout=1, interval=0.5).wait()
    assert err.value.msg == 'device %s: event counter above 0 not met within 1 s; last value seen: 0 events' % POOL


@pytest.mark.parametrize('distro', DISTROS)
def test_no_fail_on_timeout_returns_what_was_seen(distro):
    kernel = Kernel(distro, ['created', 'write 8 MiB'])
    result = waiter(kernel, 'events_above', 0, timeout=3, fail_on_timeout=False).wait()
    assert (result['met'], result['value'], result['polls']) == (False, 0, 4)
    assert result['device']['name'] == POOL


@pytest.mark.parametrize('distro', DISTROS)
def test_timeout_zero_looks_once(distro):
    kernel = Kernel(distro, FILLING)
    result = waiter(kernel, 'events_above', 0, timeout=0, fail_on_timeout=False).wait()
    assert (result['met'], result['polls']) == (False, 1) and kernel.sleeps == []


@pytest.mark.parametrize('distro', DISTROS)
def test_no_such_device(distro):
    kernel = Kernel(distro, FILLING, gone_at=0)
    for option, value in (('events_above', 3), ('data_usage', '50%')):
        with pytest.raises(DmError) as err:
            waiter(kernel, option, value).wait()
        assert err.value.msg.startswith('device %s: no such device; expected a device to wait for its ' % POOL)
    assert err.value.msg.endswith('data usage reaching 50% of its data blocks')


@pytest.mark.parametrize('distro', DISTROS)
def test_a_device_gone_while_waited_on(distro):
    kernel = Kernel(distro, FILLING, gone_at=2)
    with pytest.raises(DmError) as err:
        waiter(kernel, 'data_usage', '90%').wait()
    assert err.value.msg == ('device %s: gone while waiting for its data usage reaching 90%% of its data blocks '
                             '(922 of 1024 blocks used) (removed or renamed); last value seen: 128 of 1024 data '
                             'blocks used (12.5%%)' % POOL)
    assert err.value.details['polls'] == 2 and err.value.details['met'] is False


def test_a_usage_condition_on_a_device_that_is_no_pool():
    with open(os.path.join(FIXTURES, 'debian13.json')) as handle:
        dev = [d for d in json.load(handle)['devices'] if d['name'] == 'stscap-linear'][0]

    def run(argv):
        return 0, dev[{'table': 'table', 'status': 'status'}[argv[1]]]['stdout'], ''
    with pytest.raises(DmError, match='device stscap-linear: metadata_usage needs a thin-pool device; its targets: '
                                      'linear'):
        Waiter(run, 'stscap-linear', Condition('metadata_usage', '50%'), 1, 1).wait()


@pytest.mark.parametrize('distro', DISTROS)
def test_more_blocks_than_the_pool_has_is_refused_before_waiting(distro):
    kernel = Kernel(distro, FILLING)
    with pytest.raises(DmError, match="data_usage 1025 blocks is more than the pool has \\(1024 data blocks\\); "
                                      "expected at most 1024"):
        waiter(kernel, 'data_usage', '1025').wait()
    assert kernel.sleeps == []


def test_a_failed_pool_has_no_usage_to_compare():
    with pytest.raises(DmError, match="device p: its thin-pool status is 'Fail'; expected the pool's usage"):
        pool_status('p', '0 1024 thin-pool Fail\n')


@pytest.mark.parametrize('option, value, kind, amount', [
    ('data_usage', '80%', 'percent', Decimal('80')),
    ('data_usage', ' 12.5 % ', 'percent', Decimal('12.5')),
    ('data_usage', '100%', 'percent', Decimal('100')),
    ('metadata_usage', '1000', 'blocks', 1000),
    ('metadata_usage', 1000, 'blocks', 1000),
    ('data_usage', 'low_water_mark', 'low_water_mark', None),
    ('events_above', 7, 'events', 7),
    ('events_above', '0', 'events', 0),
])
def test_conditions_accepted(option, value, kind, amount):
    cond = Condition(option, value)
    assert (cond.kind, cond.amount) == (kind, amount)


@pytest.mark.parametrize('option, value, message', [
    ('data_usage', '0%', "data_usage '0%': expected a percentage above 0 and at most 100"),
    ('data_usage', '101%', "data_usage '101%': expected a percentage above 0"),
    ('data_usage', 'nan%', "data_usage 'nan%': expected a percentage"),
    ('data_usage', 'x%', "data_usage 'x%': expected a percentage"),
    ('data_usage', '-5', "data_usage '-5': expected a percentage of the pool's blocks (80%), a number of blocks "
                         "(1000) or low_water_mark"),
    ('metadata_usage', '1G', "metadata_usage '1G': expected a percentage"),
    ('metadata_usage', True, "metadata_usage True: expected a percentage"),
    ('data_usage', None, "data_usage None: expected a percentage"),
    ('events_above', -1, 'events_above -1: expected a whole number >= 0'),
    ('events_above', 'many', "events_above 'many': expected a whole number >= 0"),
    ('events_above', True, 'events_above True: expected a whole number >= 0'),
    ('size', 3, "condition 'size': expected one of events_above, data_usage, metadata_usage"),
])
def test_conditions_refused_naming_the_value(option, value, message):
    with pytest.raises(DmError) as err:
        Condition(option, value)
    assert err.value.msg.startswith(message), err.value.msg


@pytest.mark.parametrize('timeout, interval, message', [
    (-1, 1, 'timeout -1: expected seconds >= 0'),
    (True, 1, 'timeout True: expected seconds >= 0'),
    (10, 0, 'interval 0: expected seconds from 0.05 to 3600'),
    (10, 0.01, 'interval 0.01: expected seconds from 0.05 to 3600'),
])
def test_timeout_and_interval_refused(timeout, interval, message):
    with pytest.raises(DmError, match=message):
        Waiter(None, 'p', Condition('events_above', 1), timeout, interval)


def test_a_bad_device_name_is_refused_before_anything_runs():
    with pytest.raises(DmError, match='-x'):
        Waiter(None, '-x', Condition('events_above', 1), 1, 1)


class _Module(object):
    def __init__(self, params, kernel, check_mode):
        self.params = params
        self.check_mode = check_mode
        self.no_log_values = set()
        self.kernel = kernel

    def get_bin_path(self, name, required=False):
        return '/usr/sbin/' + name

    def run_command(self, argv, data=None, binary_data=False, environ_update=None):
        assert argv[0] == '/usr/sbin/dmsetup' and environ_update == {'LC_ALL': 'C'}
        return self.kernel.run(['dmsetup'] + list(argv[1:]))


@pytest.mark.parametrize('check_mode', [False, True])
def test_the_module_waits_in_check_mode_too_and_never_changes_anything(check_mode, monkeypatch):
    kernel = Kernel('debian13', FILLING)
    monkeypatch.setattr('time.sleep', kernel.sleep)
    monkeypatch.setattr('time.monotonic', kernel.clock)
    params = dict(name=POOL, events_above=0, data_usage=None, metadata_usage=None, timeout=60, interval=1.0,
                  fail_on_timeout=True)
    runner = WaitRunner(_Module(params, kernel, check_mode))
    assert not runner.locks
    runner.run()
    assert runner.result['changed'] is False and runner.result['met'] is True and runner.result['polls'] == 3
    assert runner.result['name'] == POOL


def test_the_module_wants_exactly_one_condition():
    params = dict(name=POOL, events_above=0, data_usage='5%', metadata_usage=None, timeout=1, interval=1.0,
                  fail_on_timeout=True)
    with pytest.raises(DmError, match='expected exactly one of events_above, data_usage, metadata_usage; got '
                                      'events_above, data_usage'):
        WaitRunner(_Module(params, None, False)).run()
    assert CONDITIONS == ('events_above', 'data_usage', 'metadata_usage')
