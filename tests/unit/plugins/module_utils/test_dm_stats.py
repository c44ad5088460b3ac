"""Unit tests of dm statistics (_dm.stats): the parsers on the kernels' own answers captured on both
lab guests (fixtures/dm/stats-<distro>.json, capture_stats.sh), cross-checked with what
``dmsetup stats report`` made of the same counters; the region a task asks for and its refusals;
and dm_stats's runner (_dm.stats_runner) on a stand-in kernel whose answers have the captured form.
The module itself runs on the lab guests in tests/integration/dm/test_stats.py."""

import json
import os

import pytest

from argv_check import assert_argv, positional
from test_dm_ops import StatefulKernel
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.stats import (
    COUNTERS, RegionSpec, Stats, buckets, counting, device_stats, histogram_counts, parse_list, parse_print, totals)
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.stats_runner import StatsRunner
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.dmsetup import Dmsetup

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'dm')
DISTROS = ('debian12', 'debian13')
MIB = 2048


def capture(distro):
    with open(os.path.join(FIXTURES, 'stats-%s.json' % distro)) as handle:
        return json.load(handle)


def created_words(cap, key):
    """The @stats_create words the capture sent for region ``key``."""
    region_id = cap['ids'][key]
    for rec in cap['log']:
        if rec['argv'][:5] == ['dmsetup', 'message', cap['device'], '0', '@stats_create'] and \
                rec['stdout'].strip() == region_id:
            return rec['argv'][4:]
    raise AssertionError('no @stats_create of region %s in the capture' % key)


def regions_by_key(cap):
    listed = dict((r['region_id'], r) for r in parse_list(cap['list_before_io']['stdout']))
    return dict((key, listed[int(region_id)]) for key, region_id in cap['ids'].items())


# -- the parsers on the kernels' answers --------------------------------------------------------
@pytest.mark.parametrize('distro', DISTROS)
def test_the_list_shows_every_region_with_the_parameters_it_was_created_with(distro):
    cap = capture(distro)
    assert parse_list(cap['list_empty']['stdout']) == []
    regions = regions_by_key(cap)
    for key, region in regions.items():
        words = created_words(cap, key)
        rng, step = words[1], words[2]
        if rng == '-':
            assert (region['start'], region['length']) == (0, cap['size']), region
        else:
            assert '%d+%d' % (region['start'], region['length']) == rng, region
        if step.startswith('/'):
            assert region['area_size'] == -(-region['length'] // int(step[1:])), region
        else:
            assert region['area_size'] == int(step), region
        assert region['area_count'] == -(-region['length'] // region['area_size'])
        given = [w for w in words[3:] if w.startswith('histogram:')]
        assert region['histogram_bounds'] == ([int(b) for b in given[0][len('histogram:'):].split(',')] if given else [])
        assert region['precise_timestamps'] == ('precise_timestamps' in words)
        assert region['time_unit'] == ('ns' if 'precise_timestamps' in words else 'ms')
    assert regions['whole']['aux_data'] == 'aux-word' and regions['histogram']['aux_data'] is None
    assert regions['anonymous']['program_id'] is None
    assert all(regions[k]['program_id'] == cap['program_id'] for k in ('histogram', 'whole', 'precise'))
    # dmsetup stats create's region: its own program id, bounds given as 1ms,10ms kept in ms
    others = [r for r in parse_list(cap['list_before_io']['stdout']) if r['program_id'] == 'dmstats']
    assert [(r['length'], r['area_count'], r['histogram_bounds']) for r in others] == [(4 * MIB, 2, [1, 10])]
    # filtered by program id, the kernel lists ours only
    assert parse_list(cap['list_program']['stdout']) == \
        [r for r in parse_list(cap['list_before_io']['stdout']) if r['program_id'] == cap['program_id']]


def _report_rows(cap):
    fields = cap['dmsetup_report_fields']
    rows = {}
    for line in cap['dmsetup_report']['stdout'].splitlines():
        row = dict(zip(fields, line.split('|')))
        rows[(int(row['region_id']), int(row['area_id']))] = row
    return rows


REPORT_FIELDS = {'reads': 'read_count', 'reads_merged': 'reads_merged_count', 'sectors_read': 'read_sector_count',
                 'read_time': 'read_time', 'writes': 'write_count', 'writes_merged': 'writes_merged_count',
                 'sectors_written': 'write_sector_count', 'write_time': 'write_time',
                 'in_flight': 'in_progress_count', 'io_ticks': 'io_ticks', 'time_in_queue': 'queue_ticks',
                 'read_ticks': 'read_ticks', 'write_ticks': 'write_ticks'}
TIMES = ('read_time', 'write_time', 'io_ticks', 'time_in_queue', 'read_ticks', 'write_ticks')


@pytest.mark.parametrize('distro', DISTROS)
def test_every_counter_is_the_one_dmsetup_stats_report_names_so(distro):
    """dmsetup stats report (libdm) read the same counters right after: each of our names holds the
    value its field shows (times in ns there; in ms here unless precise)."""
    cap = capture(distro)
    rows = _report_rows(cap)
    compared = 0
    for key, region in regions_by_key(cap).items():
        areas = parse_print(cap['print_after_io'][key]['stdout'], region)
        assert len(areas) == region['area_count']
        for area_id, area in enumerate(areas):
            row = rows[(region['region_id'], area_id)]
            assert area['start'] == int(row['area_start'])
            for ours, theirs in REPORT_FIELDS.items():
                scale = 10 ** 6 if ours in TIMES and not region['precise_timestamps'] else 1
                assert area[ours] * scale == int(row[theirs]), (key, area_id, ours, area, row)
                compared += 1
            if region['histogram_bounds']:
                assert ':'.join(str(c) for c in area['histogram']) == row['hist_count'], (key, area, row)
            else:
                assert 'histogram' not in area
    assert compared == len(REPORT_FIELDS) * sum(r['area_count'] for r in regions_by_key(cap).values())


@pytest.mark.parametrize('distro', DISTROS)
def test_the_known_io_is_counted_exactly_in_the_areas_it_hit(distro):
    cap = capture(distro)
    regions = regions_by_key(cap)
    written, read = cap['written'], cap['read']
    whole = totals(parse_print(cap['print_after_io']['anonymous']['stdout'], regions['anonymous']))
    assert whole['sectors_written'] == written['sectors'] and whole['writes'] > 0
    areas = parse_print(cap['print_after_io']['histogram']['stdout'], regions['histogram'])
    for area in areas:
        end = area['start'] + area['length']
        hit = area['start'] <= written['offset'] < end
        assert area['sectors_written'] == (written['sectors'] if hit else 0), area
        if area['start'] <= read['offset'] < end:
            assert area['sectors_read'] >= read['sectors'], area
        # every completed read and write is counted in one histogram bucket
        assert sum(area['histogram']) == area['reads'] + area['writes'], area
    counts = histogram_counts(areas)
    assert sum(counts) == totals(areas)['reads'] + totals(areas)['writes']
    hist = buckets(regions['histogram']['histogram_bounds'], counts)
    assert [(b['lower'], b['upper']) for b in hist] == [(0, 1), (1, 5), (5, 20), (20, 100), (100, None)]
    assert [b['count'] for b in hist] == counts
    # the kernel prints the step as every area's length; the last area of /3 ends with the region
    whole3 = parse_print(cap['print_after_io']['whole']['stdout'], regions['whole'])
    assert sum(a['length'] for a in whole3) == cap['size']
    assert whole3[-1]['length'] < regions['whole']['area_size']


@pytest.mark.parametrize('distro', DISTROS)
def test_clears_zero_every_counter_and_a_partial_print_starts_where_asked(distro):
    cap = capture(distro)
    regions = regions_by_key(cap)
    assert counting(totals(parse_print(cap['print_after_io']['histogram']['stdout'], regions['histogram'])))
    for text, key in ((cap['print_after_clear']['stdout'], 'histogram'),
                      (cap['print_after_stats_clear']['stdout'], 'whole')):
        areas = parse_print(text, regions[key])
        assert areas and not counting(totals(areas)) and not any(sum(a.get('histogram', [])) for a in areas)
    part = parse_print(cap['print_lines']['stdout'], regions['histogram'])
    assert [a['start'] for a in part] == [8 * MIB, 16 * MIB]


@pytest.mark.parametrize('distro', DISTROS)
def test_what_the_kernel_refuses_fails_with_its_message(distro):
    cap = capture(distro)
    answers = cap['refused']

    def fake(argv, data=None):
        words = positional(assert_argv(argv))[4:]
        for rec in answers.values():
            if rec['argv'][4:] == words:
                return rec['rc'], rec['stdout'], rec['stderr']
        raise AssertionError('no captured answer for %s' % words)

    stats = Stats(Dmsetup(fake), cap['device'])
    with pytest.raises(DmError, match=r'device stscap-stats: @stats_print 99 refused: .*No such file or directory'):
        stats.areas({'region_id': 99, 'start': 0, 'length': 1, 'histogram_bounds': []})
    with pytest.raises(DmError, match=r'@stats_delete 99 refused: .*No such file or directory'):
        stats.delete(99)
    bad = RegionSpec(0, cap['size'], 1, histogram_bounds=[5, 5], program_id=cap['program_id'])
    bad.words = lambda: answers['bounds_not_increasing']['argv'][4:]
    with pytest.raises(DmError, match='Invalid argument') as err:
        stats.create(bad)
    assert err.value.details['rc'] == 1


@pytest.mark.parametrize('text, needle', [
    ('0: 0+8 8 p', 'expected "ID: START+LENGTH STEP PROGRAM_ID AUX_DATA'),
    ('0: 0+8 8 p - precise', "unknown word 'precise'"),
])
def test_a_list_line_of_another_form_is_refused_naming_it(text, needle):
    with pytest.raises(DmError) as err:
        parse_list(text)
    assert needle in err.value.msg and text in err.value.msg


def test_a_print_line_of_another_form_is_refused_naming_it():
    with pytest.raises(DmError, match=r"line '0\+8 1 2 3': expected"):
        parse_print('0+8 1 2 3')
    region = parse_list('0: 0+8 8 p - histogram:1,2')[0]
    with pytest.raises(DmError, match='2 histogram counts; expected 3 for region 0 .bounds 1,2.'):
        parse_print('0+8 ' + ' '.join(['0'] * 13) + ' 1:2', region)


# -- the region a task asks for ------------------------------------------------------------------
SIZE = 128 * MIB


def spec(**params):
    return RegionSpec.from_params(params, SIZE, 'vol')


@pytest.mark.parametrize('distro', DISTROS)
def test_a_task_with_the_captured_parameters_is_the_region_the_kernel_listed(distro):
    """What the kernel echoes is what the task compares with: a re-run changes nothing."""
    cap = capture(distro)
    regions = regions_by_key(cap)
    program = cap['program_id']
    asked = {
        'histogram': dict(length=32 * MIB, area_size='8M', histogram=[1, 5, 20, 100]),
        'whole': dict(areas=3, aux_data='aux-word'),
        'precise': dict(start='8M', length='16M', area_size=16 * MIB, precise_timestamps=True,
                        histogram=[100000, 1000000, 10000000]),
    }
    for key, params in asked.items():
        wanted = RegionSpec.from_params(dict(params, program_id=program), cap['size'], cap['device'])
        assert wanted.same(regions[key]), (key, regions[key])
        if key != 'whole':   # created as "- /3"; the module sends the range and step the kernel made of it
            assert wanted.words()[1:3] == created_words(cap, key)[1:3]
        assert wanted.planned() == regions[key] | {'region_id': None}
        others = [r for k, r in regions.items() if k != key]
        assert not any(wanted.same(r) for r in others)


def test_the_create_message_always_counts_its_options():
    assert spec().words() == ['@stats_create', '0+%d' % SIZE, str(SIZE), '0', 'sts-devicemapper']
    assert spec(start='1M', length=100, area_size=10, histogram=[2, 4], precise_timestamps=True, program_id='42',
                aux_data='a').words() == \
        ['@stats_create', '2048+100', '10', '2', 'precise_timestamps', 'histogram:2,4', '42', 'a']
    assert spec(areas=3, length=10).area_size == 4 and spec(areas=10, length=10).area_size == 1


@pytest.mark.parametrize('params, needle', [
    (dict(start='-8'), "start '-8': negative"),
    (dict(start=-8), 'start: -8 is negative'),
    (dict(start='eight'), "start: 'eight' is not a size"),
    (dict(start='1.5s'), "start: '1.5s' has a fraction of a sector"),
    (dict(start=SIZE), 'start %d: sector %d; expected a sector within device vol' % (SIZE, SIZE)),
    (dict(length='0'), "length '0': 0 sectors; expected a region of 1 sector or more"),
    (dict(start='1M', length='128M'), "length '128M': sectors 2048 to 264191; expected a range within device vol"),
    (dict(area_size='0'), "area_size '0': 0 sectors; expected 1 to %d" % SIZE),
    (dict(length=10, area_size=11), 'area_size 11: 11 sectors; expected 1 to 10'),
    (dict(areas=0), 'areas 0: expected a whole number >= 1'),
    (dict(length=10, areas=11), 'areas 11: more than the region\'s 10 sectors'),
    (dict(areas=2, area_size=8), 'area_size 8 and areas 2: expected one of them'),
    (dict(histogram=[5, 5]), 'histogram bounds 5,5: 5 does not follow 5; expected bounds that increase'),
    (dict(histogram=[1, 10, 3]), 'histogram bounds 1,10,3: 3 does not follow 10'),
    (dict(histogram=[0]), 'histogram bound (ms) 0: expected a whole number >= 1'),
    (dict(histogram=['x'], precise_timestamps=True), "histogram bound (ns) 'x': expected a whole number >= 1"),
    (dict(histogram='1,2'), "histogram '1,2': expected a list"),
    (dict(program_id='-'), "program_id '-': the kernel shows \"-\" for a region without one"),
    (dict(program_id='my prog'), "program_id 'my prog': expected 1 to 128 letters"),
    (dict(program_id='a\\b'), "program_id 'a\\\\b': expected"),
    (dict(aux_data='x' * 129), "aux_data '%s': expected 1 to 128" % ('x' * 129)),
    (dict(aux_data='-'), "aux_data '-': the kernel shows"),
])
def test_bad_parameters_are_refused_naming_the_value(params, needle):
    with pytest.raises(DmError) as err:
        spec(**params)
    assert needle in err.value.msg, err.value.msg


# -- the runner on a stand-in kernel -------------------------------------------------------------
class StatsKernel(StatefulKernel):
    """StatefulKernel with dm-stats: regions made, listed, printed (in the captured form), cleared and
    deleted by the @stats_* messages; ``io()`` counts I/O as the kernel would."""

    def __init__(self):
        super(StatsKernel, self).__init__()
        self.regions = {}

    def io(self, name, sector, sectors, write=True, bucket=0):
        for region in self.regions[name].values():
            if region['start'] <= sector < region['start'] + region['length']:
                area = region['areas'][(sector - region['start']) // region['step']]
                area[4 if write else 0] += 1
                area[6 if write else 2] += sectors
                if region['bounds']:
                    area[13 + bucket] += 1

    def _stats(self, name, words):
        regions = self.regions.setdefault(name, {})
        verb, args = words[0], words[1:]
        if verb == '@stats_create':
            start, length = (int(x) for x in args[0].split('+'))
            nopt = int(args[2])
            options, rest = args[3:3 + nopt], args[3 + nopt:]
            bounds = [int(b) for o in options if o.startswith('histogram:') for b in o[10:].split(',')]
            if any(b <= a for a, b in zip([0] + bounds, bounds)):
                return 1, '', 'device-mapper: message ioctl on %s  failed: Invalid argument\nCommand failed.\n' % name
            region_id = min(set(range(len(regions) + 1)) - set(regions))
            step = int(args[1])
            regions[region_id] = dict(start=start, length=length, step=step, program=rest[0],
                                      aux=rest[1] if len(rest) > 1 else '-', precise='precise_timestamps' in options,
                                      bounds=bounds, areas=[[0] * (13 + (len(bounds) + 1 if bounds else 0))
                                                            for _area in range(-(-length // step))])
            return 0, '%d\n' % region_id, ''
        if verb == '@stats_list':
            out = ''
            for region_id, r in sorted(regions.items()):
                if args and r['program'] != args[0]:
                    continue
                out += '%d: %d+%d %d %s %s%s%s\n' % (
                    region_id, r['start'], r['length'], r['step'], r['program'], r['aux'],
                    ' precise_timestamps' if r['precise'] else '',
                    ' histogram:' + ','.join(str(b) for b in r['bounds']) if r['bounds'] else '')
            return 0, out, ''
        region = regions.get(int(args[0]))
        if region is None:
            return 1, '', 'device-mapper: message ioctl on %s  failed: No such file or directory\n' % name
        if verb == '@stats_delete':
            del regions[int(args[0])]
            return 0, '', ''
        out = ''
        for i, area in enumerate(region['areas']):
            out += '%d+%d %s' % (region['start'] + i * region['step'], region['step'], ' '.join(map(str, area[:13])))
            out += (' ' + ':'.join(map(str, area[13:])) if region['bounds'] else '') + '\n'
        if verb in ('@stats_print_clear', '@stats_clear'):
            for area in region['areas']:
                area[:] = [v if i == 8 else 0 for i, v in enumerate(area)]
        return 0, out if verb != '@stats_clear' else '', ''

    def __call__(self, argv, data=None):
        words = positional(argv)
        if words[1] == 'message' and words[4].startswith('@stats'):
            self.calls.append((words, data))
            if words[2] not in self.devices:
                return 1, '', 'Device %s not found\nCommand failed.\n' % words[2]
            return self._stats(words[2], words[4:])
        return super(StatsKernel, self).__call__(argv, data)


class StatsModule(object):
    def __init__(self, kernel, params, check_mode=False):
        self.kernel = kernel
        self.params = dict(dict(state='present', start=None, length=None, area_size=None, areas=None, histogram=None,
                                precise_timestamps=False, program_id='sts-devicemapper', aux_data=None, force=False),
                           **params)
        self.check_mode = check_mode
        self._diff = True
        self.no_log_values = set()

    def get_bin_path(self, name, required=False):
        return '/usr/sbin/' + name

    def run_command(self, argv, data=None, binary_data=False, environ_update=None):
        assert_argv(argv)
        return self.kernel(['dmsetup'] + list(argv[1:]), data)

    def warn(self, msg):
        raise AssertionError('unexpected warning: %s' % msg)


@pytest.fixture
def kernel():
    kernel = StatsKernel()
    kernel.add('vol', '0 %d linear 7:0 0' % (64 * MIB))
    return kernel


def run(kernel, check_mode=False, **params):
    runner = StatsRunner(StatsModule(kernel, dict(dict(name='vol'), **params), check_mode))
    before = len(kernel.calls)
    runner.run()
    sent = [c[0][4:] for c in kernel.calls[before:] if c[0][1] == 'message']
    return runner.result, [w for w in sent if w[0] not in ('@stats_list', '@stats_print')]


TASK = dict(areas=4, histogram=[1, 5, 20])


def test_present_four_steps_then_a_read_of_known_io(kernel):
    check, sent = run(kernel, check_mode=True, **TASK)
    assert check['changed'] and sent == [] and kernel.regions.get('vol', {}) == {}
    assert check['region']['region_id'] is None and check['region']['counters'] is None
    assert check['diff'] == {'before': '', 'after': 'region (new): sectors 0+131072, area size 32768 (4 areas), '
                                                    'program_id sts-devicemapper, aux_data -, histogram 1,5,20 ms\n'}
    real, sent = run(kernel, **TASK)
    assert real['changed'] and real['created'] == 0
    assert sent == [['@stats_create', '0+131072', '32768', '1', 'histogram:1,5,20', 'sts-devicemapper']]
    assert real['commands'] == [['dmsetup', 'message', '--', 'vol', '0'] + sent[0]]
    assert real['diff']['after'].startswith('region 0: sectors 0+131072')
    again, sent = run(kernel, **TASK)
    assert not again['changed'] and sent == [] and again['commands'] == []
    assert again['diff']['before'] == again['diff']['after'] == real['diff']['after']
    assert not run(kernel, check_mode=True, **TASK)[0]['changed']
    kernel.io('vol', 2048, 8192, bucket=1)
    kernel.io('vol', 40000, 8, write=False, bucket=3)
    region = run(kernel, **TASK)[0]['region']
    assert region['counters']['sectors_written'] == 8192 and region['counters']['writes'] == 1
    assert region['counters']['sectors_read'] == 8 and region['areas'][1]['reads'] == 1
    assert [b['count'] for b in region['histogram']] == [0, 1, 0, 1]
    assert set(region['counters']) == set(COUNTERS)


def test_other_parameters_are_refused_unless_force_and_others_regions_are_left_alone(kernel):
    run(kernel, **TASK)
    run(kernel, aux_data='mine')
    run(kernel, program_id='dmstats')
    with pytest.raises(DmError) as err:
        run(kernel, areas=2)
    assert 'region(s) of program_id sts-devicemapper and aux_data - with other parameters are there: region 0: ' \
           'sectors 0+131072, area size 32768 (4 areas)' in err.value.msg
    assert 'wanted region (new): sectors 0+131072, area size 65536 (2 areas)' in err.value.msg
    assert 'Set force: true' in err.value.msg
    planned, sent = run(kernel, check_mode=True, areas=2, force=True)
    assert planned['changed'] and planned['deleted'] == [0] and sent == []
    replaced, sent = run(kernel, areas=2, force=True)
    assert sent == [['@stats_delete', '0'], ['@stats_create', '0+131072', '65536', '0', 'sts-devicemapper']]
    assert replaced['created'] == 0 and replaced['region']['area_count'] == 2
    assert sorted((r['program'], r['aux'], r['step']) for r in kernel.regions['vol'].values()) == \
        [('dmstats', '-', 131072), ('sts-devicemapper', '-', 65536), ('sts-devicemapper', 'mine', 131072)]


def test_cleared_zeroes_counters_once_and_says_what_they_were(kernel):
    created, _sent = run(kernel, state='cleared', **TASK)
    assert created['changed'] and 'cleared_counters' not in created
    assert not run(kernel, state='cleared', **TASK)[0]['changed']
    kernel.io('vol', 0, 16, bucket=2)
    planned, sent = run(kernel, check_mode=True, state='cleared', **TASK)
    assert planned['changed'] and sent == [] and planned['cleared_counters']['sectors_written'] == 16
    assert kernel.regions['vol'][0]['areas'][0][6] == 16
    cleared, sent = run(kernel, state='cleared', **TASK)
    assert cleared['changed'] and sent == [['@stats_print_clear', '0']]
    assert cleared['cleared_counters']['writes'] == 1 and not counting(cleared['region']['counters'])
    assert [b['count'] for b in cleared['region']['histogram']] == [0, 0, 0, 0]
    assert 'counters: reads 0, writes 1, sectors read 0, sectors written 16' in cleared['diff']['before']
    assert 'counters: zero' in cleared['diff']['after']
    assert not run(kernel, state='cleared', **TASK)[0]['changed']


def test_absent_deletes_only_the_regions_of_this_program_and_aux_data(kernel):
    run(kernel, **TASK)
    run(kernel, aux_data='mine')
    run(kernel, program_id='dmstats')
    planned, sent = run(kernel, check_mode=True, state='absent')
    assert planned['changed'] and planned['deleted'] == [0] and sent == [] and len(kernel.regions['vol']) == 3
    gone, sent = run(kernel, state='absent')
    assert gone['changed'] and sent == [['@stats_delete', '0']] and gone['region'] is None
    assert gone['diff']['before'].startswith('region 0: ') and gone['diff']['after'] == ''
    again, sent = run(kernel, state='absent')
    assert not again['changed'] and sent == []
    assert sorted(r['aux'] for r in kernel.regions['vol'].values()) == ['-', 'mine']


def test_a_missing_device_and_bad_names_are_refused(kernel):
    with pytest.raises(DmError, match='device nope does not exist; expected a live dm device'):
        run(kernel, name='nope')
    with pytest.raises(DmError, match="device name '-vol': starts with '-'"):
        run(kernel, name='-vol')
    with pytest.raises(DmError, match=r"length '65M': sectors 0 to 133119; expected a range within device vol"):
        run(kernel, length='65M')
    assert [c[0][4] for c in kernel.calls if c[0][1] == 'message'] == ['@stats_list']


def test_device_stats_reads_every_region_with_its_counters(kernel):
    run(kernel, **TASK)
    run(kernel, program_id='dmstats')
    kernel.io('vol', 0, 8)
    dmsetup = Dmsetup(kernel)
    every = device_stats(dmsetup, 'vol')
    assert [(r['program_id'], r['counters']['sectors_written']) for r in every] == \
        [('sts-devicemapper', 8), ('dmstats', 8)]
    assert [r['program_id'] for r in device_stats(dmsetup, 'vol', 'dmstats')] == ['dmstats']
    assert dmsetup.commands == []


class InfoModule(StatsModule):
    def __init__(self, kernel, params):
        super(InfoModule, self).__init__(kernel, {})
        self.params = dict(dict(names=None, target_types=None, uuid_prefix=None, kernel_facts=[], stats=False),
                           **params)
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)


def test_dm_info_with_stats_gives_each_chosen_device_its_regions_and_no_more_calls_without(kernel):
    from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import InfoRunner
    kernel.add('other', '0 %d linear 7:1 0' % MIB)
    run(kernel, **TASK)
    kernel.io('vol', 0, 8)
    before = len(kernel.calls)
    plain = InfoRunner(InfoModule(kernel, {}))
    plain.run()
    assert len(kernel.calls) == before and 'stats' not in plain.result['devices']['vol']
    module = InfoModule(kernel, dict(stats=True))
    runner = InfoRunner(module)
    runner.run()
    vol, other = runner.result['devices']['vol']['stats'], runner.result['devices']['other']['stats']
    assert [(r['program_id'], r['counters']['sectors_written'], r['histogram_bounds']) for r in vol] == \
        [('sts-devicemapper', 8, [1, 5, 20])] and other == []
    sent = [(c[0][2], c[0][4]) for c in kernel.calls[before:]]
    assert sent == [('other', '@stats_list'), ('vol', '@stats_list'), ('vol', '@stats_print')]
    assert module.warnings == []


def test_dm_info_warns_about_a_device_whose_stats_cannot_be_read(kernel):
    from ansible_collections.sts.devicemapper.plugins.module_utils._dm.module import InfoRunner

    class Vanishing(StatsKernel):
        def _stats(self, name, words):
            return 1, '', 'device-mapper: message ioctl on %s  failed: No such device or address\n' % name
    gone = Vanishing()
    gone.add('vol', '0 %d linear 7:0 0' % (64 * MIB))
    module = InfoModule(gone, dict(stats=True))
    runner = InfoRunner(module)
    runner.run()
    assert 'stats' not in runner.result['devices']['vol']
    assert len(module.warnings) == 1 and module.warnings[0].startswith('device vol: its statistics could not be read: ')
    assert 'No such device or address' in module.warnings[0]
