"""Unit tests of the thin pool recovery (_stack.thin_repair) on a stateful stand-in of the kernel's dm
devices (test_dm_ops.StatefulKernel) with stand-ins of the dmpd tools, of findmnt and of block I/O:
the order of the steps, every refusal before anything stops, a spare that fails its check, a run
that goes on from the record, check mode, the data compared with a stack's checksums. The real
recovery runs on the lab guests (tests/integration/dm/test_fault_playbooks.py)."""

import json
import os
import stat

import pytest

from test_dm_ops import POOL_STATUS, StatefulKernel, stateful_host
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._stack.thin_repair import (
    RepairRecord, RepairTools, ThinRepair, devno_path, stack_checksums)

SPARE = '/dev/loop9'
FAILED = 'Fail'


class PoolKernel(StatefulKernel):
    """A pool ``p`` on ``m`` and ``d`` with thins ``t1`` and ``t2``; the pool's status is ``status`` until
    its table names the spare."""

    def __init__(self, status=FAILED, **kw):
        super(PoolKernel, self).__init__(**kw)
        self.status = status
        self.add('m', '0 8192 linear 7:0 0')
        self.add('d', '0 2048 linear 7:0 8192')
        self.add('p', '0 2048 thin-pool /dev/mapper/m /dev/mapper/d 128 0')
        self.add('t1', '0 1024 thin /dev/mapper/p 1')
        self.add('t2', '0 1024 thin /dev/mapper/p 2')

    def _status(self):
        out = super(PoolKernel, self)._status()
        if SPARE in self.devices.get('p', {}).get('live', ''):
            return out
        return out.replace('thin-pool ' + POOL_STATUS, 'thin-pool ' + self.status)


class Result(object):
    def __init__(self, cmd, ok, stderr='', stdout=''):
        self.cmd, self.ok, self.rc, self.stdout, self.stderr = cmd, ok, 0 if ok else 1, stdout, stderr
        self.outcome = 'ok' if ok else 'damaged'


class FakeDmpd(object):
    """thin_check / thin_repair / thin_dump: ``bad`` paths fail the check; ``repair_fails`` first repairs
    fail; a repair writes the pool's thin devices (dev_id 1 and 2, as t1 and t2) but those in ``lost``."""

    def __init__(self, bad=(), repair_fails=0, lost=()):
        self.bad = set(bad)
        self.repair_fails = repair_fails
        self.lost = set(lost)
        self.written = {}
        self.calls = []

    def run(self, tool, **options):
        self.calls.append((tool, options))
        if tool == 'thin_check':
            return Result([tool], options['input'] not in self.bad, 'bad checksum in superblock')
        if tool == 'thin_dump':
            devices = ''.join('<device dev_id="%d" mapped_blocks="%d"></device>' % (d, 8 * d)
                              for d in self.written[options['input']])
            return Result([tool], True, stdout='<superblock uuid="" time="1">%s</superblock>' % devices)
        if self.repair_fails:
            self.repair_fails -= 1
            return Result([tool], False, 'transaction id needs to be given')
        self.bad.discard(options['output'])
        self.written[options['output']] = [d for d in (1, 2) if d not in self.lost]
        return Result([tool], True)

    def run_ok(self, tool, what=None, **options):
        res = self.run(tool, **options)
        if not res.ok:
            raise DmError('%s failed' % (what or tool))
        return res


class Mounts(object):
    """findmnt, mount, umount and cp on a list of mounts."""

    def __init__(self, rows=(), kernel=None):
        self.rows = [dict(r) for r in rows]
        self.argvs = []
        # a mounted filesystem holds its dm device open: the kernel's open counts follow the mounts
        self.kernel = kernel
        for row in self.rows:
            self._opened(row['source'], 1)

    def _opened(self, source, by):
        if self.kernel is not None and source.startswith('/dev/mapper/'):
            name = source[len('/dev/mapper/'):]
            self.kernel.opens[name] = self.kernel.opens.get(name, 0) + by

    def __call__(self, argv, data=None):
        self.argvs.append(list(argv))
        if argv[0] == 'findmnt':
            return 0, json.dumps({'filesystems': self.rows}), ''
        if argv[0] == 'umount':
            for row in [r for r in self.rows if r['target'] == argv[1]]:
                self._opened(row['source'], -1)
            self.rows = [r for r in self.rows if r['target'] != argv[1]]
        elif argv[0] == 'mount':
            self.rows.append(dict(source=argv[-2], target=argv[-1], fstype=argv[2], options=argv[4]))
            self._opened(argv[-2], 1)
        return 0, '', ''


class Superblock(object):
    def __init__(self, family='thin', needs_check=False):
        self.family, self.needs_check = family, needs_check


def io(sums=None, spare_family=None, spare_needs_check=False):
    blk = os.stat_result((stat.S_IFBLK | 0o600,) + (0,) * 9)
    return dict(sha256=lambda path, n: (sums or {}).get(path, 'other'), size=lambda path: 4 << 20,
                superblock=lambda path: (Superblock(spare_family, spare_needs_check) if path == SPARE
                                         else Superblock()),
                held=lambda path: [], stat=lambda path: blk, stamp=lambda: 'STAMP')


def repair_of(kernel, tmp_path, dmpd=None, mounts=None, check_mode=False, **kw):
    host = stateful_host(kernel)
    host.check_mode = check_mode
    warnings = []
    repair = ThinRepair(host, dmpd or FakeDmpd(), RepairTools(mounts or Mounts(), check_mode),
                        RepairRecord(str(tmp_path / 'repairs'), 'p'), check_mode=check_mode, warn=warnings.append,
                        io=io(**kw))
    return repair, warnings


def verbs(kernel):
    return [(verb, name) for verb, name, _data in kernel.verbs()]


def test_a_healthy_pool_is_checked_through_a_metadata_snapshot_and_left_alone(tmp_path):
    kernel = PoolKernel(status=POOL_STATUS)
    dmpd = FakeDmpd()
    repair, _w = repair_of(kernel, tmp_path, dmpd)
    result = repair.repaired(None)
    assert result['healthy'] and not result['repaired'] and repair.actions == []
    assert [argv[-1] for argv, _d in kernel.calls] == ['reserve_metadata_snap', 'release_metadata_snap']
    assert dmpd.calls == [('thin_check', {'input': '/dev/mapper/m', 'metadata_snap': True})]
    assert not os.path.exists(str(tmp_path / 'repairs'))


def test_a_failed_pool_is_stopped_repaired_into_the_spare_swapped_and_started_again(tmp_path):
    kernel = PoolKernel()
    # t1 and t2 are open while their filesystems are mounted (the facts read before the unmounts say so)
    mounts = Mounts([dict(source='/dev/mapper/t1', target='/mnt/t1', fstype='ext4', options='rw,relatime'),
                     dict(source='/dev/mapper/t2', target='/mnt/t2', fstype='xfs', options='ro')], kernel)
    dmpd = FakeDmpd(bad=['/dev/mapper/m', SPARE])
    repair, _w = repair_of(kernel, tmp_path, dmpd, mounts)
    result = repair.repaired(SPARE)
    assert result['reasons'][0] == 'the pool p has failed (status Fail)'
    assert 'thin_check of /dev/mapper/m failed: ' in result['reasons'][1]
    assert result['repaired'] and result['healthy'] and result['metadata'] == SPARE
    assert result['backup_file'] == str(tmp_path / 'repairs' / 'p.STAMP.meta.bin')
    order = verbs(kernel)
    assert sorted(order[:2]) == [('remove', 't1'), ('remove', 't2')] and order[2:4] == [('load', 'p'), ('resume', 'p')]
    loads = [(name, data) for verb, name, data in kernel.verbs() if verb == 'load']
    assert loads[0] == ('p', '0 2048 error\n') and loads[1][0] == 'p' and SPARE in loads[1][1]
    assert order[4:6] == [('load', 'p'), ('resume', 'p')]
    assert sorted(n for v, n in order[6:] if v == 'create') == ['t1', 't2']
    assert kernel.devices['p']['live'].startswith('0 2048 thin-pool %s 253:1 128 0' % SPARE)
    assert kernel.devices['t1']['live'] == '0 1024 thin 253:2 1' and not kernel.devices['t1']['suspended']
    assert [t for t, _o in dmpd.calls] == ['thin_check', 'thin_repair', 'thin_check', 'thin_dump']
    assert dmpd.calls[1][1] == {'input': '/dev/mapper/m', 'output': SPARE}
    # the spare's check clears a needs_check flag when it passes; the spare had none: no such action
    assert dmpd.calls[2][1] == {'input': SPARE, 'clear_needs_check_flag': True}
    assert dmpd.calls[3][1] == {'input': SPARE, 'skip_mappings': True}
    assert not [a for a in repair.actions if a.startswith('clear the needs_check')]
    assert result['devices'] == {'1': 8, '2': 16}
    argvs = [a for a in mounts.argvs if a[0] != 'findmnt']
    assert argvs[:3] == [['umount', '/mnt/t2'], ['umount', '/mnt/t1'],
                         ['cp', '--sparse=always', '/dev/mapper/m', result['backup_file']]]
    assert sorted(argvs[3:]) == [['mount', '-t', 'ext4', '-o', 'rw,relatime', '/dev/mapper/t1', '/mnt/t1'],
                                 ['mount', '-t', 'xfs', '-o', 'ro', '/dev/mapper/t2', '/mnt/t2']]
    assert kernel.opens == {'t1': 1, 't2': 1}
    assert not os.path.exists(repair.record.path)
    assert not any(d['suspended'] for d in kernel.devices.values())


def test_no_spare_is_refused_before_anything_stops(tmp_path):
    kernel = PoolKernel(status='1 216/2048 64/2048 - ro discard_passdown queue_if_no_space needs_check 512')
    repair, _w = repair_of(kernel, tmp_path)
    with pytest.raises(DmError, match='spare: not given; a repair writes the repaired metadata to a spare area'):
        repair.repaired(None)
    assert kernel.calls == [] and not os.path.exists(repair.record.path)


@pytest.mark.parametrize('spare, kw, needle', [
    ('/dev/mapper/m', {}, "spare /dev/mapper/m is the pool's metadata device /dev/mapper/m; expected another"),
    (SPARE, {'spare_family': 'cache'}, 'spare /dev/loop9 holds cache metadata; expected a spare area with no'),
])
def test_a_spare_that_cannot_take_the_metadata_is_refused_naming_it(tmp_path, spare, kw, needle):
    kernel = PoolKernel()
    repair, _w = repair_of(kernel, tmp_path, **kw)
    with pytest.raises(DmError) as err:
        repair.repaired(spare)
    assert needle in err.value.msg and kernel.calls == []


def test_a_spare_that_fails_its_check_leaves_the_pool_deactivated_and_the_next_run_completes(tmp_path):
    kernel = PoolKernel()
    dmpd = FakeDmpd(bad=['/dev/mapper/m'])
    dmpd.run_bad_spare = True
    original = dmpd.run

    def spare_stays_bad(tool, **options):
        res = original(tool, **options)
        if tool == 'thin_repair':
            dmpd.bad.add(SPARE)
        return res
    dmpd.run = spare_stays_bad
    repair, _w = repair_of(kernel, tmp_path, dmpd)
    with pytest.raises(DmError, match='the metadata repaired into /dev/loop9 does not pass thin_check .*the pool p '
                                      'stays deactivated'):
        repair.repaired(SPARE)
    assert kernel.devices['p']['live'] == '0 2048 error' and not kernel.devices['p']['suspended']
    assert 't1' not in kernel.devices and json.load(open(repair.record.path))['phase'] == 'deactivated'

    again, _w = repair_of(kernel, tmp_path, FakeDmpd(bad=['/dev/mapper/m']))
    result = again.repaired(SPARE)
    assert result['repaired'] and 't1' in kernel.devices and not os.path.exists(again.record.path)


def test_a_needs_check_flag_the_repair_kept_is_cleared_by_the_spare_s_passing_check(tmp_path):
    # thin_repair 0.9.0 keeps the superblock's flags: the pool would start read-only again
    kernel = PoolKernel(status='1 216/2048 64/2048 - ro discard_passdown queue_if_no_space needs_check 512')
    dmpd = FakeDmpd(bad=['/dev/mapper/m'])
    repair, _w = repair_of(kernel, tmp_path, dmpd, spare_needs_check=True)
    result = repair.repaired(SPARE)
    assert ('thin_check', {'input': SPARE, 'clear_needs_check_flag': True}) in dmpd.calls
    cleared = [a for a in repair.actions if a.startswith('clear the needs_check')]
    assert cleared == ['clear the needs_check flag the repair kept in /dev/loop9 (thin_check '
                       '--clear-needs-check-flag, the check passed)'], repair.actions
    assert repair.actions.index(cleared[0]) == repair.actions.index('thin_repair /dev/mapper/m into /dev/loop9') + 1


def test_a_repair_that_lost_a_thin_device_is_refused_before_the_swap(tmp_path):
    # thin_repair 0.9.0 guesses the roots of an unreadable superblock; a wrong guess can lose a device's
    # trees, exit 0 and pass thin_check: the pool must not start on that
    kernel = PoolKernel()
    dmpd = FakeDmpd(bad=['/dev/mapper/m'], lost=[2])
    repair, _w = repair_of(kernel, tmp_path, dmpd)
    with pytest.raises(DmError) as err:
        repair.repaired(SPARE)
    assert ('the metadata repaired into /dev/loop9 lacks the thin device(s) with dev_id 2 (t2); it holds dev_id(s) 1. '
            'The pool p stays deactivated (error table, not suspended)') in err.value.msg
    assert kernel.devices['p']['live'] == '0 2048 error' and not kernel.devices['p']['suspended']
    assert 't1' not in kernel.devices and 't2' not in kernel.devices
    assert json.load(open(repair.record.path))['phase'] == 'deactivated'


def test_an_unreadable_superblock_is_repaired_again_with_the_figures_of_the_table_and_status(tmp_path):
    kernel = PoolKernel(status='7 216/2048 64/2048 - ro discard_passdown queue_if_no_space needs_check 512')
    dmpd = FakeDmpd(bad=['/dev/mapper/m'], repair_fails=1)
    repair, warnings = repair_of(kernel, tmp_path, dmpd)
    repair.repaired(SPARE)
    repairs = [o for t, o in dmpd.calls if t == 'thin_repair']
    assert repairs == [{'input': '/dev/mapper/m', 'output': SPARE},
                       dict(input='/dev/mapper/m', output=SPARE, data_block_size=128, nr_data_blocks=16,
                            transaction_id=7)]
    assert 'tried again with the superblock\'s figures' in warnings[0]


def test_deactivated_keeps_the_record_then_repaired_takes_it_from_there(tmp_path):
    kernel = PoolKernel(status=POOL_STATUS)
    repair, _w = repair_of(kernel, tmp_path)
    result = repair.deactivated()
    assert sorted(result['users']) == ['t1', 't2'] and result['phase'] == 'deactivated'
    assert kernel.devices['p']['live'] == '0 2048 error' and sorted(kernel.devices) == ['d', 'm', 'p']
    again, _w = repair_of(kernel, tmp_path)
    assert again.deactivated() and again.actions == []

    healthy, _w = repair_of(kernel, tmp_path, FakeDmpd())
    done = healthy.repaired(None)
    # the metadata passes its check: the pool goes back onto it, no spare needed
    assert not done['repaired'] and kernel.devices['p']['live'].startswith('0 2048 thin-pool 253:0 253:1 128 0')
    assert sorted(kernel.devices) == ['d', 'm', 'p', 't1', 't2']


def test_check_mode_plans_every_step_and_changes_nothing(tmp_path):
    kernel = PoolKernel()
    repair, _w = repair_of(kernel, tmp_path, check_mode=True)
    result = repair.repaired(SPARE)
    assert result['reasons'] == ['the pool p has failed (status Fail)']
    assert repair.actions[0] == 'write the repair record %s' % repair.record.path
    assert 'thin_repair /dev/mapper/m into /dev/loop9, then thin_check /dev/loop9' in repair.actions
    assert kernel.calls == [] and not os.path.exists(repair.record.path)
    with pytest.raises(DmError, match='spare: not given'):
        repair_of(kernel, tmp_path, check_mode=True)[0].repaired(None)


def test_the_data_is_compared_with_the_stack_s_checksums(tmp_path):
    state = tmp_path / 'stacks' / 's0'
    state.mkdir(parents=True)
    (state / 'state.json').write_text(json.dumps({'checksums': {'t1': 'aa', 't2': 'bb'}}))
    sums = stack_checksums('s0', str(tmp_path / 'stacks'))
    kernel = PoolKernel(status=POOL_STATUS)
    repair, _w = repair_of(kernel, tmp_path, sums={'/dev/mapper/t1': 'aa', '/dev/mapper/t2': 'cc'})
    result = repair.repaired(None, stack_checksums=sums)
    assert [(r['volume'], r['intact']) for r in result['data']] == [('t1', True), ('t2', False)]
    assert result['data_intact'] is False
    with pytest.raises(DmError, match='stack none: no record at '):
        stack_checksums('none', str(tmp_path / 'stacks'))


def test_a_missing_pool_and_a_broken_record_are_refused_naming_them(tmp_path):
    kernel = PoolKernel()
    del kernel.devices['t1'], kernel.devices['t2'], kernel.devices['p']
    repair, _w = repair_of(kernel, tmp_path)
    with pytest.raises(DmError, match='pool p: no such device; expected an active thin-pool device'):
        repair.repaired(SPARE)
    os.makedirs(repair.record.directory)
    with open(repair.record.path, 'w') as handle:
        json.dump({'pool': 'p', 'phase': 'nowhere'}, handle)
    with pytest.raises(DmError, match='repair record .*p.json: expected the keys'):
        repair.repaired(SPARE)
    with pytest.raises(DmError, match="record_dir 'rel': expected an absolute path"):
        RepairRecord('rel', 'p')


def test_devno_path_reads_sysfs(tmp_path):
    (tmp_path / '7:9').mkdir()
    (tmp_path / '7:9' / 'uevent').write_text('MAJOR=7\nMINOR=9\nDEVNAME=loop9\n')
    assert devno_path('7:9', str(tmp_path)) == '/dev/loop9'
    assert devno_path('/dev/vdb', str(tmp_path)) == '/dev/vdb'
    with pytest.raises(DmError, match='device 7:10: no block device with that number'):
        devno_path('7:10', str(tmp_path))
