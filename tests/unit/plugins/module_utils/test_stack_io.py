"""The stacks' option ``stats`` (Stack.count_io / Stack.read_io) on the fake hosts of the thin, cache
and era planner tests, whose kernels get test_dm_stats' dm-stats (StatsKernel): one whole-device
region of program id sts-devicemapper-stack on each device the stack gives its users, made before
anything writes it, kept on a run again, other programs' regions left alone, nothing sent in check
mode, the counters in the report's ``io``; and no statistics message at all without ``stats``."""

import test_stack_cache as cache_t
import test_stack_era as era_t
import test_stack_thin as thin_t
from test_dm_stats import StatsKernel

from ansible_collections.sts.devicemapper.plugins.module_utils._stack.base import STATS_PROGRAM_ID

MAPPER = '/dev/mapper/'
THIN_USERS = ['lab_fs', 'lab_raw', 'lab_raw_snap']


class ThinStatsKernel(StatsKernel):
    pass


class CacheStatsKernel(StatsKernel, cache_t.CacheKernel):
    pass


class EraStatsKernel(StatsKernel, era_t.EraKernel):
    pass


def counting(host, io):
    """What the workload and mkfs write to a device (and the workload reads back) is counted by the
    device's regions, as the kernel would: only the regions there at the time count it."""
    kernel = host.kernel
    write, sha256 = io.write, io.sha256

    def count(target, nbytes, is_write):
        name = target[len(MAPPER):] if target.startswith(MAPPER) else None
        if name in kernel.regions:
            kernel.io(name, 0, nbytes // 512, write=is_write)

    def counted_write(target, data):
        count(target, len(data), True)
        write(target, data)

    def counted_sha256(target, nbytes):
        count(target, nbytes, False)
        return sha256(target, nbytes)
    io.write, io.sha256 = counted_write, counted_sha256
    tool = host.__class__.__call__

    def call(argv, data=None):
        argv = list(argv)
        if argv[0].startswith('mkfs.'):
            count(argv[1], 4096, True)
        return tool(host, argv, data)
    host.__call__ = call
    return io


class Host(object):
    """A fake host whose instance call is what the stack runs (so ``counting`` can wrap it)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, argv, data=None):
        return self.inner.__call__(argv, data)


def stats_messages(kernel):
    return [(argv[2], argv[4]) for argv, _data in kernel.calls if argv[1] == 'message' and argv[4].startswith('@stats')]


def region_actions(actions):
    return [a.rsplit(' ', 1)[-1] for a in actions if a.startswith('create the I/O statistics region')]


# -- the thin stack -----------------------------------------------------------------------------
def thin_host():
    host = thin_t.FakeHost()
    host.kernel = ThinStatsKernel()
    return Host(host)


def thin_run(host, tmp_path, check_mode=False, **kw):
    io = counting(host.inner, thin_t.FakeIO())
    stack, _io = thin_t.stack_of(host, thin_t.params(tmp_path, **kw), check_mode=check_mode, io=io)
    report = stack.present()
    return stack, report


def test_thin_each_volume_and_snapshot_gets_one_whole_device_region_before_anything_writes_it(tmp_path):
    host = thin_host()
    stack, report = thin_run(host, tmp_path, stats=True)
    kernel = host.kernel
    for name in THIN_USERS:
        [region] = kernel.regions[name].values()
        sectors = int(kernel.devices[name]['live'].split()[1])
        assert (region['start'], region['length'], region['step'], region['program']) == (0, sectors, sectors,
                                                                                          STATS_PROGRAM_ID), name
    assert not [n for n in kernel.regions if n not in THIN_USERS], 'a region on a device users do not get'
    # the regions of the volumes come before mkfs and the workload, the snapshot's when it is made
    actions = stack.actions
    assert region_actions(actions) == THIN_USERS
    first = actions.index('create the I/O statistics region (program id %s) of device lab_fs' % STATS_PROGRAM_ID)
    assert first < actions.index('make ext4 on lab_fs')
    assert actions.index('create the I/O statistics region (program id %s) of device lab_raw' % STATS_PROGRAM_ID) \
        < actions.index('write the workload pattern to /dev/mapper/lab_raw') \
        < actions.index('create device lab_raw_snap') \
        < actions.index('create the I/O statistics region (program id %s) of device lab_raw_snap' % STATS_PROGRAM_ID)
    # so the report counts the workload: 256 KiB written and read back on the raw volume, mkfs on the other
    io = report['io']
    assert sorted(io) == sorted(THIN_USERS)
    assert (io['lab_raw']['writes'], io['lab_raw']['sectors_written']) == (1, 512)
    assert (io['lab_raw']['reads'], io['lab_raw']['sectors_read']) == (1, 512)
    assert io['lab_fs']['sectors_written'] == 8
    assert io['lab_raw_snap']['sectors_written'] == 0 and set(io['lab_raw_snap']) >= {'io_ticks', 'reads'}
    assert stack.problems == []


def test_thin_a_run_again_keeps_the_regions_and_changes_nothing(tmp_path):
    host = thin_host()
    thin_run(host, tmp_path, stats=True)
    regions = dict((name, dict(host.kernel.regions[name])) for name in THIN_USERS)
    host.kernel.calls = []
    stack, report = thin_run(host, tmp_path, stats=True)
    assert stack.actions == []
    # looked for before mkfs and the workload, read at the end; none made
    assert stats_messages(host.kernel) == [(n, '@stats_list') for n in THIN_USERS] + \
        [(n, verb) for n in THIN_USERS for verb in ('@stats_list', '@stats_print')]
    assert dict((name, dict(host.kernel.regions[name])) for name in THIN_USERS) == regions
    assert report['io']['lab_raw']['sectors_written'] == 512


def test_thin_a_region_of_another_program_is_left_and_one_of_ours_is_kept_whatever_its_range(tmp_path):
    host = thin_host()
    thin_run(host, tmp_path)
    kernel = host.kernel
    kernel(['dmsetup', 'message', '--', 'lab_raw', '0', '@stats_create', '0+64', '64', '0', 'dmstats'])
    kernel(['dmsetup', 'message', '--', 'lab_fs', '0', '@stats_create', '0+128', '8', '0', STATS_PROGRAM_ID])
    kernel.calls = []
    stack, report = thin_run(host, tmp_path, stats=True)
    assert region_actions(stack.actions) == ['lab_raw', 'lab_raw_snap']
    assert [(r['program'], r['length']) for _id, r in sorted(kernel.regions['lab_raw'].items())] == [
        ('dmstats', 64), (STATS_PROGRAM_ID, 32768)]
    assert [(r['program'], r['length'], r['step']) for r in kernel.regions['lab_fs'].values()] == [
        (STATS_PROGRAM_ID, 128, 8)]
    assert not [words for words, _d in kernel.calls if words[4:5] == ['@stats_delete']]
    assert report['io']['lab_raw']['writes'] == 0 and report['io']['lab_fs'] is not None


def test_thin_check_mode_lists_the_regions_and_sends_nothing(tmp_path):
    host = thin_host()
    stack, report = thin_run(host, tmp_path, check_mode=True, stats=True)
    assert region_actions(stack.actions) == THIN_USERS
    assert stats_messages(host.kernel) == [] and host.kernel.regions == {}
    assert report['io'] == dict((name, None) for name in THIN_USERS)
    # on a stack built without stats: the regions are looked for, none is made
    thin_run(host, tmp_path)
    host.kernel.calls = []
    stack, report = thin_run(host, tmp_path, check_mode=True, stats=True)
    assert region_actions(stack.actions) == THIN_USERS
    assert set(verb for _name, verb in stats_messages(host.kernel)) == {'@stats_list'}
    assert host.kernel.regions == dict((name, {}) for name in THIN_USERS)
    assert report['io'] == dict((name, None) for name in THIN_USERS)


def test_thin_without_stats_no_statistics_message_is_sent_and_io_is_null(tmp_path):
    host = thin_host()
    for _run in range(2):
        stack, report = thin_run(host, tmp_path)
        assert report['io'] is None and not region_actions(stack.actions)
    thin_run(host, tmp_path, check_mode=True)
    assert stats_messages(host.kernel) == [] and host.kernel.regions == {}


def test_thin_teardown_reports_no_io(tmp_path):
    host = thin_host()
    thin_run(host, tmp_path, stats=True)
    stack, _io = thin_t.stack_of(host, thin_t.params(tmp_path, state='absent', stats=True))
    assert stack.absent()['io'] is None


# -- the cache stack ----------------------------------------------------------------------------
def cache_run(host, tmp_path, check_mode=False, **kw):
    io = host.__dict__.get('io') or counting(host, cache_t.CacheIO())
    host.io = io
    stack, _io = cache_t.stack_of(host, cache_t.params(tmp_path, **kw), check_mode=check_mode, io=io)
    return stack, stack.present()


def cache_host():
    host = cache_t.CacheHost()
    host.kernel = CacheStatsKernel()
    return host


def test_cache_the_cache_device_is_counted_from_before_the_known_data_is_written(tmp_path):
    host = cache_host()
    stack, report = cache_run(host, tmp_path, stats=True)
    assert list(host.kernel.regions) == ['lab']
    [region] = host.kernel.regions['lab'].values()
    assert (region['start'], region['program'], region['step']) == (0, STATS_PROGRAM_ID, region['length'])
    assert stack.actions.index('create the I/O statistics region (program id %s) of device lab' % STATS_PROGRAM_ID) \
        < stack.actions.index('write the known data to /dev/mapper/lab')
    # compared, written, read back: 4 MiB = 8192 sectors each way after the first compare
    assert report['io'] == {'lab': dict(report['io']['lab'], writes=1, sectors_written=8192, reads=2,
                                        sectors_read=16384)}
    # a run again: the region kept, the known data compared (a read), nothing changed
    stack, report = cache_run(host, tmp_path, stats=True)
    assert stack.actions == [] and len(host.kernel.regions['lab']) == 1
    assert (report['io']['lab']['reads'], report['io']['lab']['sectors_written']) == (3, 8192)


def test_cache_check_mode_and_no_stats(tmp_path):
    host = cache_host()
    stack, report = cache_run(host, tmp_path, check_mode=True, stats=True)
    assert region_actions(stack.actions) == ['lab'] and report['io'] == {'lab': None}
    assert stats_messages(host.kernel) == []
    stack, report = cache_run(host, tmp_path)
    assert report['io'] is None and stats_messages(host.kernel) == [] and host.kernel.regions == {}


# -- the era stack ------------------------------------------------------------------------------
def era_run(host, tmp_path, check_mode=False, **kw):
    io = getattr(host, 'io', None) or counting(host, era_t.EraIO())
    stack, _io = era_t.stack_of(host, era_t.params(tmp_path, **kw), check_mode=check_mode, io=io)
    return stack, stack.present()


def era_host():
    host = era_t.EraHost()
    host.kernel = EraStatsKernel()
    return host


def test_era_the_era_device_is_counted_from_before_the_known_data_is_written(tmp_path):
    host = era_host()
    stack, report = era_run(host, tmp_path, stats=True)
    assert list(host.kernel.regions) == ['lab']
    assert [r['program'] for r in host.kernel.regions['lab'].values()] == [STATS_PROGRAM_ID]
    assert stack.actions.index('create the I/O statistics region (program id %s) of device lab' % STATS_PROGRAM_ID) \
        < [i for i, a in enumerate(stack.actions) if a.startswith('write the known data')][0]
    assert report['io']['lab']['sectors_written'] == 512 and report['io']['lab']['writes'] == 1
    stack, report = era_run(host, tmp_path, stats=True)
    assert stack.actions == [] and len(host.kernel.regions['lab']) == 1
    assert report['io']['lab']['sectors_written'] == 512


def test_era_a_suspended_era_device_gets_no_statistics_message(tmp_path):
    host = era_host()
    era_run(host, tmp_path)
    host.kernel.devices['lab']['suspended'] = True
    host.kernel.calls = []
    stack, report = era_run(host, tmp_path, stats=True, workload=False)
    assert stats_messages(host.kernel) == [] and report['io'] == {'lab': None}
    assert not region_actions(stack.actions)
    assert any('suspended' in p for p in stack.problems)


def test_era_check_mode_and_no_stats(tmp_path):
    host = era_host()
    stack, report = era_run(host, tmp_path, check_mode=True, stats=True)
    assert region_actions(stack.actions) == ['lab'] and report['io'] == {'lab': None}
    assert stats_messages(host.kernel) == []
    stack, report = era_run(host, tmp_path)
    assert report['io'] is None and stats_messages(host.kernel) == []
