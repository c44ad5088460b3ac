import copy
import html.parser
import json
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sts.devicemapper.plugins.filter.fleet_report_html import FilterModule, fleet_report_html
from ansible_collections.sts.devicemapper.plugins.filter.fleet_report_io import FilterModule as IoFilterModule
from ansible_collections.sts.devicemapper.plugins.filter.fleet_report_io import fleet_report_io


def counters(reads=6, writes=4, sectors_read=768, sectors_written=512, io_ticks=16):
    """What _dm.stats.totals gives for a region (the stacks' io)."""
    return {'reads': reads, 'reads_merged': 0, 'sectors_read': sectors_read, 'read_time': 3, 'writes': writes,
            'writes_merged': 0, 'sectors_written': sectors_written, 'write_time': 9, 'in_flight': 0,
            'io_ticks': io_ticks, 'time_in_queue': 12, 'read_ticks': 3, 'write_ticks': 9}


def thin(used=1187, meta_used=98, healthy=True):
    return {'name': 'sts_thin', 'state': 'present', 'pool': 'sts_thin_pool', 'backing': 'device',
            'loop_file': None, 'loop_device': None, 'data_device': '/dev/mapper/sts_thin_data',
            'metadata_device': '/dev/mapper/sts_thin_meta', 'block_size': 128,
            'volumes': ['sts_thin_fs', 'sts_thin_raw'], 'snapshots': ['sts_thin_raw_snap'],
            'pool_mode': 'rw', 'transaction_id': 3, 'data_used_blocks': used, 'data_total_blocks': 16320,
            'data_usage_pct': round(used * 100.0 / 16320, 2), 'metadata_used_blocks': meta_used,
            'metadata_total_blocks': 1024, 'metadata_usage_pct': round(meta_used * 100.0 / 1024, 2),
            'needs_check': False, 'check_healthy': healthy, 'tool_version': '0.9.0',
            'checksums': {'sts_thin_fs': 'ab' * 32},
            'io': {'sts_thin_fs': counters(writes=40, sectors_written=20480), 'sts_thin_raw': counters(),
                   'sts_thin_raw_snap': None}}


def cache(dirty=0, healthy=True):
    return {'name': 'sts_cache', 'state': 'present', 'device': 'sts_cache', 'backing': 'device',
            'mode': 'writeback', 'policy': 'smq', 'block_size': 128,
            'origin_device': '/dev/mapper/sts_cache_corig', 'cache_device': '/dev/mapper/sts_cache_cdata',
            'metadata_device': '/dev/mapper/sts_cache_cmeta', 'read_hits': 412, 'read_misses': 77,
            'write_hits': 5, 'write_misses': 64, 'hit_ratio': 0.7541, 'dirty_blocks': dirty,
            'dirty_blocks_before_teardown': None, 'cache_usage_pct': 9.38, 'metadata_usage_pct': 1.03,
            'metadata_mode': 'rw', 'needs_check': False, 'check_healthy': healthy, 'check_findings': [],
            'tool_version': '1.1.0', 'checksums': {'workload_sha256': 'cd' * 32}, 'data_intact': None,
            'io': {'sts_cache': counters(reads=130, writes=64, sectors_read=16650, sectors_written=8192)}}


def era(current=3, ranges=([0, 64],), healthy=True):
    return {'name': 'sts_era', 'state': 'present', 'device': 'sts_era', 'backing': 'loop', 'block_size': 128,
            'origin_device': '/dev/mapper/sts_era_eorig', 'metadata_device': '/dev/mapper/sts_era_emeta',
            'current_era': current, 'since_era': 1, 'changed_blocks': sum(e - b for b, e in ranges),
            'changed_ranges': [list(r) for r in ranges], 'metadata_usage_pct': 0.34, 'check_healthy': healthy,
            'check_findings': [], 'tool_version': '1.1.0', 'checksums': {}, 'workload_blocks': [0, 64]}


def row(host, distro='Debian 12.12', kernel='6.1.0-40-cloud-amd64', tools='0.9.0', **stacks):
    out = {'host': host, 'distro': distro, 'kernel': kernel, 'tools': tools,
           'thin': thin(), 'cache': cache(), 'era': era()}
    out.update(stacks)
    return out


class Element(object):
    def __init__(self, tag, attrs):
        self.tag = tag
        self.attrs = attrs
        self.parts = []

    @property
    def text(self):
        return ' '.join(''.join(self.parts).split())


class Page(html.parser.HTMLParser):
    """Every element of the page with its attributes and text (children's text included)."""

    VOID = {'meta', 'br', 'img', 'input', 'link', 'hr'}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.stack = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data):
        for element in self.stack:
            element.parts.append(data)

    def figures(self, host=None, field=None):
        return [e for e in self.elements if 'data-field' in e.attrs
                and (host is None or e.attrs['data-host'] == host) and (field is None or e.attrs['data-field'] == field)]


def render(rows, **kwargs):
    return fleet_report_html({'hosts': rows}, **kwargs)


def fields(r):
    """(field, value) the page must show for one row: distro, kernel, tools and every key of each stack."""
    for key in ('distro', 'kernel', 'tools'):
        yield key, r[key]
    for stack in ('thin', 'cache', 'era'):
        for key, value in (r[stack] or {}).items():
            yield '%s.%s' % (stack, key), value


def json_value(r, field):
    value = r
    for part in field.split('.'):
        value = value[part]
    return value


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {'fleet_report_html': fleet_report_html}


def test_every_field_of_the_json_is_on_the_page_with_its_data_attributes():
    rows = [row('debian12-1'), row('debian13-1', distro='Debian 13.1', tools='1.1.0',
                                   thin=thin(used=9001, meta_used=513), cache=cache(dirty=17), era=era(current=5))]
    report = json.loads(json.dumps({'hosts': rows}))
    page = Page(fleet_report_html(report))
    numbers = 0
    for r in report['hosts']:
        host = r['host']
        for field, value in fields(r):
            found = page.figures(host, field)
            assert found, 'host %s: %s (%r) is not on the page' % (host, field, value)
            for element in found:
                if 'data-json' in element.attrs:
                    assert json.loads(element.attrs['data-json']) == value, (host, field)
                elif 'data-value' in element.attrs:
                    assert float(element.attrs['data-value']) == value, (host, field)
                elif isinstance(value, bool) or value is None:
                    assert element.text in ('yes', 'no', 'healthy', 'NOT HEALTHY', 'not checked', '-'), (host, field)
                elif isinstance(value, (int, float)):
                    numbers += 1
                    shown = element.text.rstrip('%').replace(',', '')
                    digits = element.attrs.get('data-digits')
                    if digits is None:
                        assert float(shown) == value, (host, field, element.text)
                    else:
                        assert shown == '%.*f' % (int(digits), value), (host, field, element.text)
                else:
                    assert element.text == value, (host, field)
    assert numbers > 40
    for element in page.figures():
        r = next(r for r in report['hosts'] if r['host'] == element.attrs['data-host'])
        try:
            json_value(r, element.attrs['data-field'])
        except (KeyError, TypeError):
            pytest.fail('the page shows %s of %s, the JSON has no such field' % (element.attrs['data-field'], r['host']))


def test_rounding_is_declared_and_integers_are_grouped():
    t = thin()
    t.update(data_usage_pct=12.349, metadata_usage_pct=0.05, data_total_blocks=1638400)
    c = cache()
    c.update(hit_ratio=0.74449)
    page = Page(render([row('h1', thin=t, cache=c)]))
    data = page.figures('h1', 'thin.data_usage_pct')
    assert {e.text for e in data if e.tag in ('td', 'text')} == {'12.3%'}
    assert all(e.attrs['data-digits'] == '1' for e in data if 'data-value' not in e.attrs)
    assert [e.text for e in page.figures('h1', 'thin.metadata_usage_pct') if e.tag == 'td'] == ['0.1%']
    ratio = [e for e in page.figures('h1', 'cache.hit_ratio') if e.tag == 'td']
    assert [(e.text, e.attrs['data-digits']) for e in ratio] == [('0.744', '3')]
    assert [e.text for e in page.figures('h1', 'thin.data_total_blocks')] == ['1,638,400']
    assert 'data-digits' not in page.figures('h1', 'thin.data_total_blocks')[0].attrs


def test_every_string_from_the_data_is_escaped():
    evil = '<script>alert("x")</script> & \'q\''
    r = row('web"1<b>', distro=evil, kernel='6.1 <i>', tools='&amp;')
    r['cache']['check_findings'] = ['</td></tr><img src=x onerror=alert(1)>']
    r['thin']['pool'] = '{{ lookup("env", "HOME") }}'
    text = render([r], title='<h1>Lab</h1>')
    assert '<script' not in text and '<img' not in text and '<i>' not in text and '<b>' not in text
    assert '&lt;script&gt;' in text
    page = Page(text)
    assert [e.text for e in page.figures('web"1<b>', 'distro')] == [' '.join(evil.split())]
    assert [e.text for e in page.figures('web"1<b>', 'tools')] == ['&amp;']
    assert [e.text for e in page.figures('web"1<b>', 'thin.pool')] == ['{{ lookup("env", "HOME") }}']
    findings = page.figures('web"1<b>', 'cache.check_findings')
    assert json.loads(findings[0].attrs['data-json']) == r['cache']['check_findings']
    assert [e.text for e in page.elements if e.tag == 'title'][0] == '<h1>Lab</h1>'


def test_a_host_without_a_stack_shows_a_dash_for_it():
    page = Page(render([row('debian12-1'), row('debian13-1', cache=None, era=None)]))
    for stack in ('cache', 'era'):
        marks = page.figures('debian13-1', stack)
        assert len(marks) >= 3, stack  # overview, chart, table
        assert {e.text for e in marks} == {'-'}
        assert not [e for e in page.figures('debian13-1') if e.attrs['data-field'].startswith(stack + '.')]
        assert not page.figures('debian12-1', stack)
    assert page.figures('debian13-1', 'thin.data_usage_pct')


def test_no_host_with_a_stack_says_so():
    text = render([row('h1', era=None), row('h2', era=None)])
    section = text[text.index('<section id="era">'):]
    assert 'No host has this stack.' in section
    assert 'No host has this stack.' not in text[:text.index('<section id="era">')]


def test_a_failed_check_is_red_and_says_not_healthy():
    rows = [row('h1', era=era(healthy=False)), row('h2', thin=thin(healthy=None))]
    page = Page(render(rows))
    failed = page.figures('h1', 'era.check_healthy')
    assert failed and all(e.text == 'NOT HEALTHY' and 'bad' in e.attrs['class'].split() for e in failed)
    passed = page.figures('h1', 'thin.check_healthy')
    assert passed and all(e.text == 'healthy' and 'ok' in e.attrs['class'].split() for e in passed)
    unknown = page.figures('h2', 'thin.check_healthy')
    assert unknown and all(e.text == 'not checked' and 'bad' not in e.attrs['class'] for e in unknown)
    summary = {e.attrs['data-summary']: e.text for e in page.elements if 'data-summary' in e.attrs}
    assert summary == {'hosts': '2', 'checks_passed': '4', 'checks_failed': '1', 'checks_not_run': '1'}
    assert 'bad' in [e for e in page.elements if e.attrs.get('data-summary') == 'checks_failed'][0].attrs['class']


def test_needs_check_set_is_red():
    t = thin()
    t['needs_check'] = True
    page = Page(render([row('h1', thin=t)]))
    assert [('yes', 'bad')] == [(e.text, e.attrs['class']) for e in page.figures('h1', 'thin.needs_check')]


def test_hosts_are_sorted_with_numbers_in_numeric_order():
    page = Page(render([row('web10'), row('db1'), row('web2'), row('web1')]))
    overview = [e.attrs['data-host'] for e in page.figures(field='kernel')]
    assert overview == ['db1', 'web1', 'web2', 'web10']


def test_bars_are_drawn_to_scale_from_the_json_values():
    page = Page(render([row('h1', thin=thin(used=8160, meta_used=256)), row('h2', thin=thin(used=16320))]))
    bars = dict(((e.attrs['data-host'], e.attrs['data-field']), e) for e in page.elements
                if e.tag == 'rect' and 'data-value' in e.attrs)
    half = float(bars[('h1', 'thin.data_usage_pct')].attrs['width'])
    full = float(bars[('h2', 'thin.data_usage_pct')].attrs['width'])
    quarter = float(bars[('h1', 'thin.metadata_usage_pct')].attrs['width'])
    assert full == pytest.approx(2 * half) and half == pytest.approx(2 * quarter)
    assert float(bars[('h1', 'thin.data_usage_pct')].attrs['data-value']) == 50.0
    dirty = [e for e in page.elements if e.tag == 'rect' and e.attrs.get('data-field') == 'cache.dirty_blocks']
    assert [e.attrs['data-host'] for e in dirty] == ['h1', 'h2']


def test_era_blocks_written_per_era_are_charted_when_the_report_has_them():
    e = era()
    e['blocks_written_per_era'] = {'1': 60, '2': 4, '10': 0}
    page = Page(render([row('h1', era=e), row('h2')]))
    columns = [(x.attrs['data-field'], x.text) for x in page.figures('h1') if x.tag == 'text'
               and x.attrs['data-field'].startswith('era.blocks_written_per_era.')]
    assert columns == [('era.blocks_written_per_era.1', '60'), ('era.blocks_written_per_era.2', '4'),
                       ('era.blocks_written_per_era.10', '0')]
    assert 'carry no per-era counts' not in render([row('h1', era=e)])
    assert 'carry no per-era counts' in render([row('h1')])


def test_the_page_fetches_nothing():
    text = render([row('h1'), row('h2', cache=None)])
    assert text.startswith('<!DOCTYPE html>')
    page = Page(text)
    assert not [e for e in page.elements if e.tag in ('script', 'link', 'img', 'iframe', 'object', 'use', 'image')]
    assert not [e for e in page.elements if set(e.attrs) & {'src', 'href', 'srcset'}]
    assert not re.search(r'url\(|@import|@font-face', text)
    assert set(re.findall(r'https?://[^"\s]+', text)) == {'http://www.w3.org/2000/svg'}


def test_the_same_report_renders_the_same_page():
    rows = [row('h2'), row('h1', cache=None)]
    assert render(copy.deepcopy(rows)) == render(list(reversed(rows)))


@pytest.mark.parametrize('report, message', [
    ([], 'expected the report as a mapping'),
    ({'rows': []}, "got ['rows']"),
    ({'hosts': [{'distro': 'Debian'}]}, "every row needs a host name (key \"host\"), got {'distro': 'Debian'}"),
    ({'hosts': [{'host': 'h1', 'thin': 'sts_thin_pool'}]}, "h1.thin must be a mapping or null, got 'sts_thin_pool'"),
])
def test_a_report_of_the_wrong_shape_fails_naming_what_it_got(report, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        fleet_report_html(report)


def test_the_io_table_has_a_row_per_device_with_sectors_in_mib():
    e = era()
    e['io'] = None
    page = Page(render([row('h2', era=e), row('h1', cache=None)]))
    table = [x for x in page.elements if x.attrs.get('id') == 'io-table']
    assert table, 'no I/O table'
    io_figures = [x for x in page.figures() if '.io.' in x.attrs['data-field'] and x.tag == 'td']
    devices = []
    for x in io_figures:
        key = (x.attrs['data-host'], x.attrs['data-field'].split('.io.')[1].split('.')[0])
        if key not in devices:
            devices.append(key)
    # hosts in order, thin then cache, devices by name; era's io null gives no row
    assert devices == [('h1', 'sts_thin_fs'), ('h1', 'sts_thin_raw'), ('h1', 'sts_thin_raw_snap'),
                       ('h2', 'sts_thin_fs'), ('h2', 'sts_thin_raw'), ('h2', 'sts_thin_raw_snap'), ('h2', 'sts_cache')]
    shown = dict((x.attrs['data-field'], x) for x in io_figures if x.attrs['data-host'] == 'h1')
    assert shown['thin.io.sts_thin_fs.sectors_written'].text == '10.00'
    assert json.loads(shown['thin.io.sts_thin_fs.sectors_written'].attrs['data-json']) == 20480
    assert shown['thin.io.sts_thin_raw.sectors_read'].text == '0.38'
    assert [shown['thin.io.sts_thin_raw.%s' % k].text for k in ('reads', 'writes', 'io_ticks')] == ['6', '4', '16']
    assert shown['thin.io.sts_thin_raw_snap'].text == '-' and 'thin.io.sts_thin_raw_snap.reads' not in shown
    assert [x.text for x in page.figures('h2', 'cache.io.sts_cache.sectors_read') if x.tag == 'td'] == ['8.13']


def test_without_io_there_is_no_io_table():
    t, c = thin(), cache()
    del t['io']
    c['io'] = None
    text = render([row('h1', thin=t, cache=c)])
    assert 'io-table' not in text and '<section id="io">' not in text


def test_the_markdown_rows_are_the_html_table_s_as_texts():
    assert IoFilterModule().filters() == {'fleet_report_io': fleet_report_io}
    rows = fleet_report_io({'hosts': [row('h10', era=None), row('h9', thin=None)]})
    assert [(r['host'], r['stack'], r['device']) for r in rows] == [
        ('h9', 'cache sts_cache', 'sts_cache'), ('h10', 'thin sts_thin', 'sts_thin_fs'),
        ('h10', 'thin sts_thin', 'sts_thin_raw'), ('h10', 'thin sts_thin', 'sts_thin_raw_snap'),
        ('h10', 'cache sts_cache', 'sts_cache')]
    assert rows[1] == {'host': 'h10', 'stack': 'thin sts_thin', 'device': 'sts_thin_fs', 'reads': '6', 'writes': '40',
                       'mib_read': '0.38', 'mib_written': '10.00', 'io_ticks_ms': '16'}
    assert set(rows[3].values()) - {'h10', 'thin sts_thin', 'sts_thin_raw_snap'} == {'-'}
    with pytest.raises(AnsibleFilterError, match='^fleet_report_io: expected the report as a mapping'):
        fleet_report_io([])
