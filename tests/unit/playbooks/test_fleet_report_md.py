"""The Markdown fleet report's verdicts (playbooks/templates/fleet_report.md.j2), rendered with
Jinja2 as ansible.builtin.template does (trim_blocks): a check that did not run (check mode,
verify off) says so instead of NOT HEALTHY."""

import os

import jinja2
import pytest

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'playbooks', 'templates',
                        'fleet_report.md.j2')


def render(rows):
    with open(TEMPLATE) as handle:
        template = jinja2.Environment(trim_blocks=True).from_string(handle.read())
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
