"""The Markdown fleet report (playbooks/templates/fleet_report.md.j2), rendered with Jinja2 as
ansible.builtin.template does (trim_blocks) with the collection's filter it calls: a check that did
not run (check mode, verify off) says so instead of NOT HEALTHY; the I/O section has a row per
device of the stacks' io, and is left out when no stack report has io."""

import os

import jinja2
import pytest

from ansible_collections.sts.devicemapper.plugins.filter.fleet_report_io import fleet_report_io

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'playbooks', 'templates',
                        'fleet_report.md.j2')


def render(rows):
    env = jinja2.Environment(trim_blocks=True)
    env.filters['sts.devicemapper.fleet_report_io'] = fleet_report_io
    with open(TEMPLATE) as handle:
        template = env.from_string(handle.read())
    return template.render(__sts_report_rows=rows)


def row(thin):
    return dict(host='h1', distro='Debian 13', kernel='6.12', tools='1.1.0', thin=thin, cache=None, era=None)


@pytest.mark.parametrize('thin,verdict', [
    (dict(check_healthy=True), 'healthy'),
    (dict(check_healthy=False), 'NOT HEALTHY'),
    (dict(check_healthy=None), 'not checked'),
    (dict(), 'not checked'),
])
def test_the_pool_check_column_says_what_the_check_found(thin, verdict):
    thin.update(data_usage_pct=1.5, metadata_usage_pct=None)
    line = [l for l in render([row(thin)]).splitlines() if l.startswith('| h1 ')][0]
    cells = [c.strip() for c in line.strip('|').split('|')]
    assert cells[4:7] == ['1.5%', '-', verdict]
    # no cache and no era stack on this host
    assert cells[7:] == ['-', '-', '-', '-', '-']


def io_lines(text):
    lines = text.splitlines()
    if '## I/O' not in lines:
        return None
    return [line for line in lines[lines.index('## I/O'):] if line.startswith('| ')][1:]


def test_the_io_section_has_a_row_per_device_in_mib_and_milliseconds():
    counters = dict(reads=3, writes=8, sectors_read=1536, sectors_written=4096, io_ticks=1234, in_flight=0)
    pool = dict(name='sts_thin', check_healthy=True, data_usage_pct=1.5, metadata_usage_pct=0.5)
    thin = dict(pool, io={'sts_thin_raw': counters, 'sts_thin_fs': None})
    era = dict(name='sts_era', check_healthy=True, current_era=2,
               io={'sts_era': dict(counters, writes=1, sectors_written=512)})
    rows = [dict(row(thin), era=era), dict(row(dict(pool, io=None)), host='h2')]
    cells = [[c.strip() for c in line.strip('|').split('|')] for line in io_lines(render(rows))]
    assert cells == [
        ['h1', 'thin sts_thin', 'sts_thin_fs', '-', '-', '-', '-', '-'],
        ['h1', 'thin sts_thin', 'sts_thin_raw', '3', '8', '0.75', '2.00', '1234'],
        ['h1', 'era sts_era', 'sts_era', '3', '1', '0.75', '0.25', '1234'],
    ]


def test_without_io_there_is_no_io_section():
    thin = dict(check_healthy=True, data_usage_pct=1.5, metadata_usage_pct=0.5, io=None)
    assert io_lines(render([row(thin), dict(row(None), host='h2')])) is None
