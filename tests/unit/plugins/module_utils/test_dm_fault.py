"""Unit tests of fault planning (_dm.fault) and of dm_fault's runner on a stateful stand-in of the
kernel's dm devices (test_dm_ops.StatefulKernel): the faulty tables, the refusals, the record, and
how a run completes or undoes what a killed run left. The faults themselves are tried on the lab
guests (tests/integration/dm/test_fault.py)."""

import json
import os

import pytest

from argv_check import assert_argv
from test_dm_ops import StatefulKernel
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.fault import (
    Fault, FaultRecord, dust_messages, plan, sector_range)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import FaultRunner
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import Table
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError

DISK = '0 2048 linear 7:0 4096'


def planned(lines, fault, start=None, length=None):
    return [seg.format() for seg in plan(Table.parse(lines), Fault.from_params(fault), start, length, 'd0')]


# -- planning -------------------------------------------------------------------------------
def test_error_and_zero_replace_the_whole_device_by_default():
    assert planned([DISK], {'type': 'error'}) == ['0 2048 error']
    assert planned(['0 100 linear 7:0 0', '100 50 thin-pool 7:1 7:2 128 0'], {'type': 'zero'}) == \
        ['0 100 zero', '100 50 zero']


def test_a_range_splits_a_linear_segment_and_keeps_the_offsets_of_the_rest():
    assert planned([DISK], {'type': 'error'}, start='10', length='20') == \
        ['0 10 linear 7:0 4096', '10 20 error', '30 2018 linear 7:0 4126']
    assert planned([DISK], {'type': 'error'}, start='1K') == ['0 2 linear 7:0 4096', '2 2046 error']


def test_wrapping_faults_wrap_each_linear_segment_at_its_own_offset():
    lines = ['0 100 linear 7:0 0', '100 100 linear 7:5 900']
    assert planned(lines, {'type': 'flakey', 'up_interval': 8, 'down_interval': 2, 'features': ['error_writes']},
                   start='50', length='100') == \
        ['0 50 linear 7:0 0', '50 50 flakey 7:0 50 8 2 1 error_writes', '100 50 flakey 7:5 900 8 2 1 error_writes',
         '150 50 linear 7:5 950']
    assert planned([DISK], {'type': 'delay', 'read_ms': 50}) == ['0 2048 delay 7:0 4096 50']
    assert planned([DISK], {'type': 'delay', 'read_ms': 5, 'write_ms': 200, 'flush_ms': 0}) == \
        ['0 2048 delay 7:0 4096 5 7:0 4096 200 7:0 4096 0']
    assert planned([DISK], {'type': 'dust', 'block_size': 4096, 'bad_blocks': [3, 1, 3]}) == \
        ['0 2048 dust 7:0 4096 4096']


def test_what_cannot_be_wrapped_or_split_is_refused_with_what_to_do_instead():
    pool = ['0 2048 thin-pool 7:1 7:2 128 0']
    with pytest.raises(DmError, match=r'fault flakey wraps a device and an offset, and sectors 0 to 2047 are a '
                                      r'thin-pool segment, not linear: put the fault under the device it maps'):
        planned(pool, {'type': 'flakey', 'up_interval': 1, 'down_interval': 1})
    with pytest.raises(DmError, match=r'cuts its thin-pool segment \(sectors 0 to 2047\); only a linear segment'):
        planned(pool, {'type': 'error'}, start='8')
    assert planned(pool, {'type': 'error'}) == ['0 2048 error']
    crypt = ['0 2048 crypt aes-xts-plain64 %s 0 7:0 0' % ('ab' * 32)]
    with pytest.raises(DmError, match='holds key material') as err:
        planned(crypt, {'type': 'error'})
    assert 'ab' * 32 not in err.value.msg


@pytest.mark.parametrize('fault, needle', [
    ({'type': 'eror'}, "fault type 'eror': expected one of error, zero, flakey, delay, dust"),
    ({}, 'fault type None: expected one of'),
    ('error', "fault 'error': expected a dict"),
    ({'type': 'error', 'read_ms': 5}, 'fault error: unknown option(s) read_ms; expected none beside type'),
    ({'type': 'flakey'}, 'up_interval 0 and down_interval 0; expected a total above 0'),
    ({'type': 'flakey', 'up_interval': -1, 'down_interval': 1}, 'up_interval (seconds): -1 is out of range'),
    ({'type': 'flakey', 'up_interval': 1, 'features': ['drop_reads']}, "flakey features: 'drop_reads' is not one of"),
    ({'type': 'delay', 'read_ms': 1, 'flush_ms': 2}, 'flush_ms 2: given without write_ms'),
    ({'type': 'delay', 'read_ms': 'slow'}, "fault delay read_ms: 'slow' is not a whole number"),
    ({'type': 'dust', 'block_size': 1000}, 'fault dust block_size: 1000 bytes; expected a power of two >= 512'),
    ({'type': 'dust', 'block_size': 256}, 'block_size (bytes): 256 is out of range; expected 512 to 1073741824'),
    ({'type': 'dust', 'bad_blocks': 3}, 'fault dust bad_blocks 3: expected a list'),
    ({'type': 'dust', 'enabled': 'yes'}, "fault dust enabled 'yes': expected true or false"),
])
def test_bad_faults_are_refused_naming_the_value(fault, needle):
    with pytest.raises(DmError) as err:
        Fault.from_params(fault)
    assert needle in err.value.msg


@pytest.mark.parametrize('start, length, needle', [
    ('2048', None, 'fault length: 0 sectors from sector 2048; expected > 0 sectors within the device (2048 sectors)'),
    ('0', '0', 'fault length: 0 sectors'),
    ('2000', '100', 'fault range: sectors 2000 to 2099; expected within the device (2048 sectors)'),
    ('1.5s', None, '1.5s'),
    ('-1', None, '-1'),
])
def test_bad_ranges_are_refused_naming_them(start, length, needle):
    with pytest.raises(DmError) as err:
        sector_range(Table.parse([DISK]), start, length)
    assert needle in err.value.msg


def test_dust_numbers_blocks_within_one_dust_target_and_gets_them_by_message():
    fault = Fault.from_params({'type': 'dust', 'block_size': 512, 'bad_blocks': [7, 2]})
    with pytest.raises(DmError, match='bad_blocks 2048: beyond the range, which holds blocks 0 to 2047 of 512 bytes'):
        plan(Table.parse([DISK]), Fault.from_params({'type': 'dust', 'bad_blocks': [2048]}))
    with pytest.raises(DmError, match='the range covers 2 linear segments; expected a range within one'):
        plan(Table.parse(['0 8 linear 7:0 0', '8 8 linear 7:1 0']), fault)
    table = plan(Table.parse(['0 8 zero', '8 2048 linear 7:0 0']), fault, start=8)
    assert dust_messages(table, fault) == [(8, ['addbadblock', '2']), (8, ['addbadblock', '7']), (8, ['enable'])]


# -- the record -------------------------------------------------------------------------------
def test_a_record_is_written_whole_and_a_broken_one_is_refused_with_its_path(tmp_path):
    record = FaultRecord(str(tmp_path / 'faults'), 'd0')
    assert record.load() is None
    record.save({'healthy': [DISK], 'injected': ['0 2048 error'], 'fault': {'type': 'error'}})
    assert record.load()['healthy'] == [DISK]
    assert sorted(os.listdir(str(tmp_path / 'faults'))) == ['d0.json']
    with open(record.path, 'w') as handle:
        handle.write('{"name": "d0", "heal')
    with pytest.raises(DmError, match='fault record %s: not JSON' % record.path):
        record.load()
    with open(record.path, 'w') as handle:
        json.dump({'name': 'other', 'healthy': [], 'injected': [], 'fault': {}}, handle)
    with pytest.raises(DmError, match='expected the keys name, healthy, injected, fault for device d0'):
        record.load()
    with pytest.raises(DmError, match="record_dir 'faults': expected an absolute path"):
        FaultRecord('faults', 'd0')
    with pytest.raises(DmError):
        FaultRecord(str(tmp_path), '../d0')


# -- the runner -------------------------------------------------------------------------------
class DustKernel(StatefulKernel):
    """A kernel whose ``dmsetup targets`` lists ``targets``."""

    targets = ('linear', 'error', 'zero', 'flakey', 'delay')

    def __call__(self, argv, data=None):
        if list(argv) == ['dmsetup', 'targets']:
            return 0, ''.join('%-16s v1.0.0\n' % t for t in self.targets), ''
        return super(DustKernel, self).__call__(argv, data)


class FaultModule(object):
    """AnsibleModule's part the runner uses; dmsetup goes to the stand-in kernel."""

    def __init__(self, kernel, params, check_mode=False):
        self.kernel = kernel
        self.params = dict(dict(state='injected', fault=None, start=None, length=None, replace=False,
                                udev_timeout=0), **params)
        self.check_mode = check_mode
        self._diff = True
        self.no_log_values = set()
        self.warnings = []
        self.others = []

    def get_bin_path(self, name, required=False):
        return '/usr/sbin/' + name

    def run_command(self, argv, data=None, binary_data=False, environ_update=None):
        assert_argv(argv)
        if os.path.basename(argv[0]) != 'dmsetup':
            self.others.append(list(argv))
            return 1, '', 'modprobe: FATAL: Module %s not found\n' % argv[-1]
        return self.kernel(['dmsetup'] + list(argv[1:]), data)

    def warn(self, msg):
        self.warnings.append(msg)


@pytest.fixture
def kernel():
    kernel = DustKernel()
    kernel.add('d0', DISK)
    return kernel


def run(kernel, tmp_path, check_mode=False, **params):
    name = None if params.get('stack') else params.get('name', 'd0')
    module = FaultModule(kernel, dict(params, name=name, record_dir=str(tmp_path)),
                         check_mode=check_mode)
    runner = FaultRunner(module)
    runner.run()
    return runner.result, module


def loads(kernel):
    return [data for verb, _name, data in kernel.verbs() if verb == 'load']


ERROR = {'type': 'error'}


def test_inject_re_run_heal_and_heal_again_four_steps(kernel, tmp_path):
    result, _m = run(kernel, tmp_path, fault=ERROR, length='1024')
    assert result['changed'] and kernel.devices['d0']['live'] == '0 1024 error\n1024 1024 linear 7:0 5120'
    assert result['table'] == ['0 1024 error', '1024 1024 linear 7:0 5120']
    assert result['healthy_table'] == [DISK] and (result['start'], result['length']) == (0, 1024)
    assert json.load(open(result['record']))['healthy'] == [DISK]
    assert 'fault: none' in result['diff']['before'] and 'fault: error, sectors 0 to 1023' in result['diff']['after']
    assert [v for v, _n, _d in kernel.verbs()] == ['load', 'resume']

    again, _m = run(kernel, tmp_path, fault=ERROR, length='1024')
    assert not again['changed'] and again['commands'] == [] and len(loads(kernel)) == 1

    healed, _m = run(kernel, tmp_path, state='healed')
    assert healed['changed'] and kernel.devices['d0']['live'] == DISK and not kernel.devices['d0']['suspended']
    assert not os.path.exists(healed['record']) and healed['fault'] == ERROR

    twice, module = run(kernel, tmp_path, state='healed', fault=ERROR)
    assert not twice['changed'] and twice['commands'] == [] and module.warnings == []
    assert len(loads(kernel)) == 2


def test_check_mode_plans_and_changes_nothing(kernel, tmp_path):
    result, _m = run(kernel, tmp_path, check_mode=True, fault={'type': 'delay', 'read_ms': 9})
    assert result['changed'] and result['table'] == ['0 2048 delay 7:0 4096 9']
    assert kernel.verbs() == [] and os.listdir(str(tmp_path)) == []
    run(kernel, tmp_path, fault={'type': 'delay', 'read_ms': 9})
    healed, _m = run(kernel, tmp_path, check_mode=True, state='healed')
    assert healed['changed'] and healed['table'] == [DISK]
    assert kernel.devices['d0']['live'] == '0 2048 delay 7:0 4096 9' and os.path.exists(healed['record'])


def test_another_fault_is_refused_unless_replace_and_then_built_from_the_healthy_table(kernel, tmp_path):
    run(kernel, tmp_path, fault=ERROR)
    flakey = {'type': 'flakey', 'up_interval': 1, 'down_interval': 1, 'features': ['drop_writes']}
    with pytest.raises(DmError) as err:
        run(kernel, tmp_path, fault=flakey)
    assert 'has a fault injected already (error, sectors 0 to 2047' in err.value.msg
    assert 'wanted flakey' in err.value.msg and 'set replace: true' in err.value.msg
    with pytest.raises(DmError, match='has a fault injected already'):
        run(kernel, tmp_path, fault=ERROR, start='8')
    result, _m = run(kernel, tmp_path, fault=flakey, replace=True)
    assert result['changed'] and kernel.devices['d0']['live'] == '0 2048 flakey 7:0 4096 1 1 1 drop_writes'
    record = json.load(open(result['record']))
    assert 'previous' not in record and record['healthy'] == [DISK] and record['fault']['type'] == 'flakey'
    run(kernel, tmp_path, state='healed')
    assert kernel.devices['d0']['live'] == DISK


def test_a_run_killed_between_the_record_and_the_swap_is_completed_or_undone(kernel, tmp_path):
    record = FaultRecord(str(tmp_path), 'd0')
    record.save({'healthy': [DISK], 'injected': ['0 2048 error'], 'fault': ERROR, 'start': 0, 'length': 2048})
    result, module = run(kernel, tmp_path, fault=ERROR)
    assert result['changed'] and kernel.devices['d0']['live'] == '0 2048 error'
    assert 'was cut short (the live table is its healthy one)' in module.warnings[0]

    kernel.devices['d0']['live'] = DISK     # a heal killed after its swap, before the record went
    result, module = run(kernel, tmp_path, state='healed')
    assert result['changed'] and not os.path.exists(record.path) and len(loads(kernel)) == 1
    assert 'its healthy table is live already' in module.warnings[0]


def test_a_replace_killed_before_its_swap_is_completed_from_its_previous_table(kernel, tmp_path):
    record = FaultRecord(str(tmp_path), 'd0')
    kernel.devices['d0']['live'] = '0 2048 error'
    zero = {'type': 'zero'}
    record.save({'healthy': [DISK], 'injected': ['0 2048 zero'], 'previous': ['0 2048 error'], 'fault': zero,
                 'start': 0, 'length': 2048})
    result, module = run(kernel, tmp_path, fault=zero)
    assert result['changed'] and kernel.devices['d0']['live'] == '0 2048 zero'
    assert 'live table is its previous one' in module.warnings[0]
    assert 'previous' not in json.load(open(record.path))


def test_a_table_changed_outside_is_refused_and_left_alone(kernel, tmp_path):
    run(kernel, tmp_path, fault=ERROR)
    kernel.devices['d0']['live'] = '0 2048 zero'
    for params in ({'state': 'healed'}, {'fault': ERROR}):
        with pytest.raises(DmError) as err:
            run(kernel, tmp_path, **params)
        assert 'matches neither the healthy nor the injected table of its fault record %s' % tmp_path in err.value.msg
        assert 'Live: 0 2048 zero; healthy: %s' % DISK in err.value.msg
    assert len(loads(kernel)) == 1


def test_a_table_that_does_not_load_leaves_the_device_and_no_record(tmp_path):
    kernel = DustKernel(fail={'load': ['refused']})
    kernel.add('d0', DISK)
    with pytest.raises(DmError, match='did not load'):
        run(kernel, tmp_path, fault=ERROR)
    assert kernel.devices['d0']['live'] == DISK and os.listdir(str(tmp_path)) == []


def test_a_missing_device_is_refused_for_inject_and_its_stale_record_removed_by_heal(kernel, tmp_path):
    with pytest.raises(DmError, match='device d9 does not exist; expected a live dm device'):
        run(kernel, tmp_path, name='d9', fault=ERROR)
    FaultRecord(str(tmp_path), 'd9').save({'healthy': [DISK], 'injected': [], 'fault': ERROR})
    result, module = run(kernel, tmp_path, name='d9', state='healed')
    assert result['changed'] and os.listdir(str(tmp_path)) == [] and 'does not exist' in module.warnings[0]


def test_dust_is_refused_on_a_kernel_without_it_before_anything_changes(kernel, tmp_path):
    with pytest.raises(DmError) as err:
        run(kernel, tmp_path, fault={'type': 'dust', 'bad_blocks': [1]})
    assert 'needs the kernel target dust, which this kernel lacks (dmsetup targets lists delay, error, flakey' \
        in err.value.msg and 'modprobe dm-dust: modprobe: FATAL' in err.value.msg
    assert kernel.verbs() == [] and os.listdir(str(tmp_path)) == []


def test_dust_gets_its_bad_blocks_by_message_after_the_swap(kernel, tmp_path):
    kernel.targets = DustKernel.targets + ('dust',)
    run(kernel, tmp_path, fault={'type': 'dust', 'bad_blocks': [5, 1]})
    assert [(v, d) for v, _n, d in kernel.verbs()][:2] == [('load', '0 2048 dust 7:0 4096 512\n'), ('resume', None)]
    messages = [argv[3:] for argv, _d in kernel.calls if argv[1] == 'message']
    assert messages == [['0', 'addbadblock', '1'], ['0', 'addbadblock', '5'], ['0', 'enable']]


def test_a_stack_layer_is_its_carved_device_and_a_missing_one_says_which_layer(kernel, tmp_path):
    kernel.add('thin0_data', DISK)
    stack = {'kind': 'thin', 'name': 'thin0', 'layer': 'data'}
    result, _m = run(kernel, tmp_path, stack=stack, fault=ERROR)
    assert result['changed'] and result['name'] == 'thin0_data' and result['stack'] == stack
    assert kernel.devices['thin0_data']['live'] == '0 2048 error' and kernel.devices['d0']['live'] == DISK
    healed, _m = run(kernel, tmp_path, stack=stack, state='healed')
    assert healed['changed'] and kernel.devices['thin0_data']['live'] == DISK
    with pytest.raises(DmError, match='device cache0_corig, the origin layer of cache stack cache0, does not exist; '
                                      'expected the stack built on a loop file or one disk'):
        run(kernel, tmp_path, stack={'kind': 'cache', 'name': 'cache0', 'layer': 'origin'}, fault=ERROR)
    assert [v for v, _n, _d in kernel.verbs()] == ['load', 'resume', 'load', 'resume']


def test_a_device_somebody_suspended_is_refused_not_resumed_behind_their_back(kernel, tmp_path):
    kernel.devices['d0']['suspended'] = True
    with pytest.raises(DmError, match=r'device d0 is suspended; expected an active device .*dmsetup resume d0'):
        run(kernel, tmp_path, fault=ERROR)
    assert kernel.verbs() == [] and os.listdir(str(tmp_path)) == [] and kernel.devices['d0']['suspended']
    kernel.devices['d0']['suspended'] = False
    run(kernel, tmp_path, fault=ERROR)
    kernel.devices['d0']['suspended'] = True
    with pytest.raises(DmError, match='device d0 is suspended'):
        run(kernel, tmp_path, state='healed')
    assert kernel.devices['d0']['live'] == '0 2048 error' and os.listdir(str(tmp_path)) == ['d0.json']
    again, _m = run(kernel, tmp_path, fault=ERROR)
    assert not again['changed'] and kernel.devices['d0']['suspended']
