# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
name: fleet_report_html
short_description: The fleet report as one self-contained HTML page with tables and plots
version_added: 0.1.0
description:
  - Renders the fleet report that the playbook C(sts.devicemapper.report) builds (one row per host) as one
    HTML page. An overview of every host with its check verdicts comes first, then a section per stack
    (thin, cache, era) with bar charts and a table; every other key of a stack's report is under
    C(All fields).
  - The charts show pool data and metadata usage, cache hit ratio, cache dirty blocks and the era blocks
    written since C(since_era); when the era report carries C(blocks_written_per_era) (era to number of
    blocks), also the era blocks written in each era.
  - When a stack's report carries C(io) (the device-mapper statistics of the devices the stack gives its
    users, option C(stats) of the stack modules), a last section C(I/O per device) has a table with a row per
    host, stack and device, giving reads, writes, MiB read, MiB written and io_ticks in milliseconds. The
    filter P(sts.devicemapper.fleet_report_io#filter) gives the same rows for the Markdown report.
  - The page opens without a network. CSS is inline, charts are inline SVG, and there is no script, font
    or image.
  - Hosts are sorted by name (numbers in names in numeric order). A host without a stack shows C(-).
  - Every figure is traceable to the report. Each sits in an element with C(data-host) (the host) and
    C(data-field) (C(distro), C(kernel), C(tools), or stack and key such as C(thin.data_usage_pct)).
    A host without a stack has an element with C(data-field) the stack name and the text C(-).
  - The text of such an element is the value as shown, C(-) for null, C(yes) or C(no) for a boolean.
    A number carries C(data-digits) when it is rounded (keys ending in C(_pct) to 1 decimal, shown
    with C(%), and C(hit_ratio) to 3). A list or mapping carries C(data-json), the value as JSON, and so
    do a sha256 the page shortens and a count of sectors the page shows in MiB (such as
    C(thin.io.<device>.sectors_written)). A bar carries C(data-value), the value it is drawn from.
  - A check verdict (C(check_healthy)) shows C(healthy) in green, C(NOT HEALTHY) in red or
    C(not checked); C(needs_check) set and C(data_intact) false are red too.
  - Every string from the report is HTML-escaped.
author:
  - sts.devicemapper maintainers (@sts-devicemapper)
options:
  _input:
    description:
      - The report, a mapping whose key C(hosts) holds the rows, one per host.
      - Each row is a mapping with C(host), C(distro), C(kernel), C(tools) and C(thin), C(cache), C(era),
        the host's C(thin_stack_report), C(cache_stack_report) and C(era_stack_report) facts or null.
    type: dict
    required: true
  title:
    description: The page's title and heading.
    type: str
    default: Fleet report
'''

EXAMPLES = r'''
- name: Write the fleet report as HTML
  ansible.builtin.copy:
    content: "{{ {'hosts': rows} | sts.devicemapper.fleet_report_html }}"
    dest: "{{ report_dir }}/fleet-report.html"
    mode: "0644"

- name: With a title of its own
  ansible.builtin.copy:
    content: "{{ report | sts.devicemapper.fleet_report_html(title='Storage lab, nightly') }}"
    dest: /srv/reports/nightly.html
    mode: "0644"
'''

RETURN = r'''
_value:
  description: The HTML page, one self-contained document.
  type: str
'''

import html
import json
import math
import re

from ansible.errors import AnsibleFilterError

STACKS = ('thin', 'cache', 'era')
STACK_TITLES = {
    'thin': ('Thin pools', 'thin_stack_report'),
    'cache': ('Caches', 'cache_stack_report'),
    'era': ('Era devices', 'era_stack_report'),
}

# Each stack table's columns (report key, heading); the report's other keys go to "All fields",
# so a key a role adds later shows without a change here.
COLUMNS = {
    'thin': (
        ('pool', 'pool'), ('pool_mode', 'mode'), ('block_size', 'block size (sectors)'),
        ('data_used_blocks', 'data used (blocks)'), ('data_total_blocks', 'data total (blocks)'),
        ('data_usage_pct', 'data used'),
        ('metadata_used_blocks', 'metadata used (blocks)'), ('metadata_total_blocks', 'metadata total (blocks)'),
        ('metadata_usage_pct', 'metadata used'),
        ('transaction_id', 'transaction id'), ('needs_check', 'needs check'), ('check_healthy', 'thin_check'),
    ),
    'cache': (
        ('device', 'device'), ('mode', 'mode'), ('policy', 'policy'), ('block_size', 'block size (sectors)'),
        ('read_hits', 'read hits'), ('read_misses', 'read misses'),
        ('write_hits', 'write hits'), ('write_misses', 'write misses'), ('hit_ratio', 'hit ratio'),
        ('dirty_blocks', 'dirty blocks'), ('cache_usage_pct', 'cache used'), ('metadata_usage_pct', 'metadata used'),
        ('metadata_mode', 'metadata mode'), ('needs_check', 'needs check'), ('check_healthy', 'cache_check'),
        ('check_findings', 'findings'),
    ),
    'era': (
        ('device', 'device'), ('block_size', 'block size (sectors)'), ('current_era', 'current era'),
        ('since_era', 'since era'), ('changed_blocks', 'blocks written since'),
        ('changed_ranges', 'written ranges [begin, end)'), ('metadata_usage_pct', 'metadata used'),
        ('check_healthy', 'era_check'), ('check_findings', 'findings'),
    ),
}

# The I/O table's counters (the stacks' io: device -> _dm.stats counters), after host, stack and device;
# sector counts are shown in MiB.
IO_COLUMNS = (('reads', 'reads'), ('writes', 'writes'), ('sectors_read', 'MiB read'),
              ('sectors_written', 'MiB written'), ('io_ticks', 'io_ticks (ms)'))
SECTORS_PER_MIB = 2048

# A boolean that is a problem when true (or false): shown red.
BAD_WHEN_TRUE = ('needs_check',)
BAD_WHEN_FALSE = ('check_healthy', 'data_intact')

# Bar colours, per series; the legend swatches use the same.
COLOURS = {'data': '#3b6ea5', 'metadata': '#e08a2e', 'hit': '#3a9a5b', 'dirty': '#b5523b', 'era': '#7a5ca8'}

SHA256 = re.compile(r'^[0-9a-f]{64}$')

CSS = '''
body{font:14px/1.45 "DejaVu Sans",system-ui,sans-serif;margin:24px 32px;color:#1d2329;background:#fff}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:19px;margin:32px 0 10px;padding-bottom:4px;border-bottom:2px solid #d0d7de}
p.summary{margin:4px 0 16px;color:#444c56}
table{border-collapse:collapse;margin:8px 0 14px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:3px 9px;text-align:left;vertical-align:top}
th{background:#f3f5f7;font-weight:600;font-size:13px}
th[scope=row]{white-space:nowrap}
td.num{text-align:right;white-space:nowrap}
td.missing{color:#6b747d;text-align:center}
.ok{background:#dcf5e3;color:#11602c;font-weight:600}
.bad{background:#f9d6d9;color:#8b1a25;font-weight:700}
.unknown{background:#f3f5f7;color:#6b747d}
span.ok,span.bad,span.unknown{padding:0 6px;border-radius:3px}
.scroll{overflow-x:auto}
.plots{display:flex;flex-wrap:wrap;gap:18px 40px;margin:6px 0 8px}
figure{margin:0}
figcaption{font-weight:600;margin-bottom:2px}
.legend{font-size:12px;color:#444c56;margin-bottom:4px}
.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:-1px}
.legend i:first-child{margin-left:0}
.note{color:#57606a;font-size:13px;margin:4px 0}
details summary{cursor:pointer;color:#444c56;margin:4px 0}
code{font-size:12px}
svg text{font-size:12px;fill:#1d2329}
svg text.tick{font-size:11px;fill:#6b747d}
svg text.host{font-weight:600}
svg text.missing{fill:#6b747d}
svg line.grid{stroke:#e1e5e9}
svg line.axis{stroke:#8c959f}
'''


def _e(value):
    """HTML-escape any value for text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def _attrs(pairs):
    return ''.join(' %s="%s"' % (name, _e(value)) for name, value in pairs if value is not None)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_number(value):
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def _natural(host):
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', host)]


def _digits(key):
    """Decimals a figure is rounded to on the page, or None when shown in full."""
    if key.endswith('_pct'):
        return 1
    return {'hit_ratio': 3}.get(key)


def _number_text(key, value):
    digits = _digits(key)
    if digits is not None:
        return '%.*f%s' % (digits, value, '%' if key.endswith('_pct') else ''), digits
    if isinstance(value, int):
        return '{:,}'.format(value), None
    return repr(float(value)), None


def _compound_text(value):
    """A list or mapping as a reader wants it; the exact value is in data-json."""
    if isinstance(value, dict):
        if not value:
            return '(none)'
        return '; '.join('%s: %s' % (k, _compound_text(v) if isinstance(v, (list, dict)) else _short(v))
                         for k, v in value.items())
    if not value:
        return '(none)'
    if all(isinstance(item, (list, tuple)) and len(item) == 2 and all(_is_number(n) for n in item) for item in value):
        return ', '.join('[%s, %s)' % (item[0], item[1]) for item in value)
    return ', '.join(_compound_text(item) if isinstance(item, (list, dict)) else _short(item) for item in value)


def _short(value):
    text = '-' if value is None else str(value)
    return text[:12] + '\u2026' if SHA256.match(text) else text


def _figure(tag, host, field, value):
    """One figure of the report in an element naming its host and field; see DOCUMENTATION."""
    key = field.rsplit('.', 1)[-1]
    classes = []
    extra = []
    if value is None:
        text = 'not checked' if key == 'check_healthy' else '-'
        if key == 'check_healthy':
            classes.append('unknown')
    elif isinstance(value, bool):
        if key == 'check_healthy':
            text = 'healthy' if value else 'NOT HEALTHY'
        else:
            text = 'yes' if value else 'no'
        if (key in BAD_WHEN_TRUE and value) or (key in BAD_WHEN_FALSE and not value):
            classes.append('bad')
        elif key in BAD_WHEN_TRUE or key in BAD_WHEN_FALSE:
            classes.append('ok')
    elif _is_number(value):
        text, digits = _number_text(key, value)
        extra.append(('data-digits', digits))
        if tag == 'td':
            classes.append('num')
    elif isinstance(value, (list, tuple, dict)):
        text = _compound_text(value)
        extra.append(('data-json', json.dumps(value, sort_keys=True)))
    else:
        text = str(value)
        if SHA256.match(text):
            extra.append(('title', text))
            text = _short(text)
            extra.append(('data-json', json.dumps(value)))
    pairs = [('class', ' '.join(classes) or None), ('data-host', host), ('data-field', field)] + extra
    return '<%s%s>%s</%s>' % (tag, _attrs(pairs), _e(text), tag)


def _missing(tag, host, stack, colspan=None):
    """A host without the stack: one '-' that names the stack."""
    pairs = [('class', 'missing'), ('colspan', colspan), ('data-host', host), ('data-field', stack)]
    return '<%s%s>-</%s>' % (tag, _attrs(pairs), tag)


# ---------------------------------------------------------------------------------------------
# Charts: horizontal bars, one group of bars per host, drawn to scale in inline SVG.

def _axis(top, integer):
    """A scale maximum and its ticks for values up to top: steps of 1, 2 or 5 times a power of ten."""
    raw = top / 4.0 if top > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if integer:
        step = max(1, int(round(step)))
    count = max(1, int(math.ceil(top / step - 1e-9)))
    return step * count, [step * i for i in range(count + 1)]


def _tick_text(value, unit):
    if unit == '%':
        return '%g%%' % value
    if isinstance(value, int) or float(value).is_integer():
        return '{:,}'.format(int(value))
    return '%g' % value


def _bar_chart(caption, stack, rows, series, scale, unit='', notes=()):
    """A figure with one bar per series and host.

    rows: [(host, report or None)]; series: [(key, label, colour)]; scale: (maximum, ticks);
    notes: keys shown as text after each host's last bar ("since era 1").
    """
    vmax, ticks = scale
    label_w = 16 + 7 * max([len(row[0]) for row in rows] + [6])
    bar_w = 460
    value_w = 70
    notes_w = 190 if notes else 0
    bar_h, gap, group_gap, top = 16, 3, 12, 6
    group_h = len(series) * bar_h + (len(series) - 1) * gap
    body_h = len(rows) * group_h + (len(rows) - 1) * group_gap
    height = top + body_h + 26
    width = label_w + bar_w + value_w + notes_w
    out = ['<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
           % (width, height, width, height),
           '<title>%s</title>' % _e(caption)]
    for tick in ticks:
        x = label_w + bar_w * tick / vmax
        out.append('<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>' % (x, top - 2, x, top + body_h + 2))
        out.append('<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % (x, top + body_h + 16, _e(_tick_text(tick, unit))))
    out.append('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>' % (label_w, top - 2, label_w, top + body_h + 2))
    for index, (host, report) in enumerate(rows):
        y0 = top + index * (group_h + group_gap)
        out.append('<text class="host" x="%d" y="%.1f" text-anchor="end" dominant-baseline="central">%s</text>'
                   % (label_w - 8, y0 + group_h / 2.0, _e(host)))
        if report is None:
            out.append('<g transform="translate(%d,%.1f)">%s</g>'
                       % (label_w + 6, y0 + group_h / 2.0,
                          _missing('text', host, stack).replace('<text ', '<text dominant-baseline="central" ', 1)))
            continue
        for number, (key, label, colour) in enumerate(series):
            y = y0 + number * (bar_h + gap)
            value = report.get(key)
            field = '%s.%s' % (stack, key)
            end = label_w
            if _is_number(value):
                w = bar_w * max(0.0, min(float(value), vmax)) / vmax
                out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"%s><title>%s</title></rect>'
                           % (label_w, y, w, bar_h, colour,
                              _attrs([('data-host', host), ('data-field', field), ('data-value', _json_number(value))]),
                              _e('%s %s: %s' % (host, label, value))))
                end = label_w + w
            text = _figure('text', host, field, value)
            out.append(text.replace('<text ', '<text x="%.1f" y="%.1f" dominant-baseline="central" '
                                    % (end + 5, y + bar_h / 2.0), 1))
            if notes and number == len(series) - 1:
                out.append(_notes(host, stack, report, notes, label_w + bar_w + value_w, y + bar_h / 2.0))
    out.append('</svg>')
    legend = ''
    if len(series) > 1:
        legend = '<div class="legend">%s</div>' % ''.join(
            '<i style="background:%s"></i>%s' % (colour, _e(label)) for _key, label, colour in series)
    return '<figure><figcaption>%s</figcaption>%s%s</figure>' % (_e(caption), legend, ''.join(out))


def _notes(host, stack, report, notes, x, y):
    parts = ['<tspan>%s </tspan>%s' % (_e(label), _figure('tspan', host, '%s.%s' % (stack, key), report.get(key)))
             for key, label in notes]
    return '<text x="%.1f" y="%.1f" dominant-baseline="central" class="tick">%s</text>' % (x, y, '<tspan>, </tspan>'.join(parts))


def _column_charts(stack, key, rows):
    """Small multiples, one per host that has the mapping key (era -> blocks): a column per era."""
    have = [(host, report) for host, report in rows if report and isinstance(report.get(key), dict) and report[key]]
    if not have:
        return None
    peak = max([float(v) for _host, report in have for v in report[key].values() if _is_number(v)] + [0.0])
    vmax, ticks = _axis(peak, integer=True)
    figures = []
    for host, report in have:
        eras = sorted(report[key].items(), key=lambda item: int(item[0]))
        col_w, left, plot_h, top = 34, 48, 120, 18
        width = left + col_w * len(eras) + 10
        height = top + plot_h + 34
        out = ['<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
               % (width, height, width, height), '<title>%s</title>' % _e('%s: era blocks written per era' % host)]
        for tick in ticks:
            y = top + plot_h - plot_h * tick / vmax
            out.append('<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>' % (left, y, width - 6, y))
            out.append('<text class="tick" x="%d" y="%.1f" text-anchor="end" dominant-baseline="central">%s</text>'
                       % (left - 5, y, _e(_tick_text(tick, ''))))
        for index, (era, blocks) in enumerate(eras):
            x = left + index * col_w + 5
            field = '%s.%s.%s' % (stack, key, era)
            if _is_number(blocks):
                h = plot_h * max(0.0, min(float(blocks), vmax)) / vmax
                out.append('<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"%s/>'
                           % (x, top + plot_h - h, col_w - 10, h, COLOURS['era'],
                              _attrs([('data-host', host), ('data-field', field), ('data-value', _json_number(blocks))])))
                label_y = top + plot_h - h - 5
            else:
                label_y = top + plot_h - 5
            text = _figure('text', host, field, blocks)
            out.append(text.replace('<text ', '<text x="%.1f" y="%.1f" text-anchor="middle" '
                                    % (x + (col_w - 10) / 2.0, label_y), 1))
            out.append('<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>'
                       % (x + (col_w - 10) / 2.0, top + plot_h + 15, _e(era)))
        out.append('<text class="tick" x="%d" y="%d">era</text>' % (left, top + plot_h + 30))
        out.append('</svg>')
        figures.append('<figure><figcaption>%s</figcaption>%s</figure>' % (_e(host), ''.join(out)))
    return ('<figure><figcaption>Era blocks written in each era</figcaption><div class="plots">%s</div></figure>'
            % ''.join(figures))


def _charts(stack, rows):
    pct = (100.0, [0, 25, 50, 75, 100])

    def peak(key):
        values = [float(r[key]) for _host, r in rows if r and _is_number(r.get(key))]
        return max(values) if values else 0.0

    if stack == 'thin':
        return [_bar_chart('Pool data and metadata usage', stack, rows,
                           [('data_usage_pct', 'data', COLOURS['data']),
                            ('metadata_usage_pct', 'metadata', COLOURS['metadata'])], pct, '%')]
    if stack == 'cache':
        return [_bar_chart('Cache hit ratio (read and write hits / accesses)', stack, rows,
                           [('hit_ratio', 'hit ratio', COLOURS['hit'])], (1.0, [0, 0.25, 0.5, 0.75, 1.0])),
                _bar_chart('Cache dirty blocks', stack, rows,
                           [('dirty_blocks', 'dirty blocks', COLOURS['dirty'])], _axis(peak('dirty_blocks'), True))]
    charts = [_bar_chart('Era blocks written since an era (era_invalidate --written-since)', stack, rows,
                         [('changed_blocks', 'blocks written', COLOURS['era'])], _axis(peak('changed_blocks'), True),
                         notes=(('since_era', 'since era'), ('current_era', 'now era')))]
    per_era = _column_charts(stack, 'blocks_written_per_era', rows)
    if per_era:
        charts.append(per_era)
    return charts


# ---------------------------------------------------------------------------------------------
# Tables

def _stack_table(stack, rows):
    columns = COLUMNS[stack]
    out = ['<div class="scroll"><table class="stack" id="%s-table"><thead><tr><th>host</th>' % stack]
    out.extend('<th>%s</th>' % _e(heading) for _key, heading in columns)
    out.append('</tr></thead><tbody>')
    for host, report in rows:
        out.append('<tr><th scope="row">%s</th>' % _e(host))
        if report is None:
            out.append(_missing('td', host, stack, colspan=len(columns)))
        else:
            out.extend(_figure('td', host, '%s.%s' % (stack, key), report.get(key)) for key, _heading in columns)
        out.append('</tr>')
    out.append('</tbody></table></div>')
    return ''.join(out)


def _details_table(stack, rows):
    """Every key of the stack's reports that its table leaves out: a row per key, a column per host."""
    shown = set(key for key, _heading in COLUMNS[stack])
    keys = []
    for _host, report in rows:
        for key in report or ():
            if key not in shown and key not in keys:
                keys.append(key)
    if not keys:
        return ''
    hosts = [(host, report) for host, report in rows if report is not None]
    out = ['<details><summary>All fields of %s</summary><div class="scroll"><table class="fields"><thead><tr>'
           '<th>field</th>' % _e(STACK_TITLES[stack][1])]
    out.extend('<th>%s</th>' % _e(host) for host, _report in hosts)
    out.append('</tr></thead><tbody>')
    for key in keys:
        out.append('<tr><th scope="row"><code>%s</code></th>' % _e(key))
        for host, report in hosts:
            if key in report:
                out.append(_figure('td', host, '%s.%s' % (stack, key), report[key]))
            else:
                out.append('<td class="missing">(no such key)</td>')
        out.append('</tr>')
    out.append('</tbody></table></div></details>')
    return ''.join(out)


def io_rows(rows):
    """(host, stack, stack name, device, counters or None) of every device of every stack report with an
    ``io`` mapping: hosts in the page's order, stacks in STACKS order, devices by name."""
    out = []
    for row in rows:
        for stack in STACKS:
            report = row.get(stack) or {}
            io = report.get('io')
            if not isinstance(io, dict):
                continue
            for device in sorted(io):
                counters = io[device]
                out.append((row['host'], stack, report.get('name'), device, counters if isinstance(counters, dict) else None))
    return out


def mib(sectors):
    return '%.2f' % (float(sectors) / SECTORS_PER_MIB)


def _io_figure(host, field, value):
    """One counter of the I/O table: a count of sectors shown in MiB, the count itself in data-json."""
    if not (field.rsplit('.', 1)[-1].startswith('sectors_') and _is_number(value)):
        return _figure('td', host, field, value)
    pairs = [('class', 'num'), ('data-host', host), ('data-field', field), ('data-json', json.dumps(value)),
             ('title', '{:,} sectors'.format(value))]
    return '<td%s>%s</td>' % (_attrs(pairs), _e(mib(value)))


def _io_table(rows):
    """The I/O per device section, or '' when no stack report has ``io``."""
    found = io_rows(rows)
    if not found:
        return ''
    out = ['<section id="io"><h2>I/O per device <small><code>io</code></small></h2>',
           '<p class="note">Device-mapper statistics of the devices the stacks give their users, counted since each '
           'region was made (before the workload); MiB of 512-byte sectors, io_ticks in milliseconds.</p>',
           '<div class="scroll"><table class="io" id="io-table"><thead><tr><th>host</th><th>stack</th><th>device</th>']
    out.extend('<th>%s</th>' % _e(heading) for _key, heading in IO_COLUMNS)
    out.append('</tr></thead><tbody>')
    for host, stack, name, device, counters in found:
        out.append('<tr><th scope="row">%s</th><td>%s</td><td>%s</td>' % (_e(host), _e('%s %s' % (stack, name)), _e(device)))
        field = '%s.io.%s' % (stack, device)
        if counters is None:
            out.append(_missing('td', host, field, colspan=len(IO_COLUMNS)))
        else:
            out.extend(_io_figure(host, '%s.%s' % (field, key), counters.get(key)) for key, _heading in IO_COLUMNS)
        out.append('</tr>')
    out.append('</tbody></table></div></section>')
    return ''.join(out)


def _overview(rows):
    out = ['<div class="scroll"><table class="overview" id="overview"><thead><tr>'
           '<th>host</th><th>distro</th><th>kernel</th><th>tools</th>']
    out.extend('<th>%s check</th>' % _e(stack) for stack in STACKS)
    out.append('</tr></thead><tbody>')
    for row in rows:
        host = row['host']
        out.append('<tr><th scope="row">%s</th>' % _e(host))
        out.extend(_figure('td', host, key, row.get(key)) for key in ('distro', 'kernel', 'tools'))
        for stack in STACKS:
            report = row.get(stack)
            if report is None:
                out.append(_missing('td', host, stack))
            else:
                out.append(_figure('td', host, stack + '.check_healthy', report.get('check_healthy')))
        out.append('</tr>')
    out.append('</tbody></table></div>')
    return ''.join(out)


def _summary(rows):
    verdicts = [row[stack].get('check_healthy') for row in rows for stack in STACKS if row.get(stack) is not None]
    counts = (
        ('hosts', len(rows), 'host(s)', None),
        ('checks_passed', sum(1 for v in verdicts if v is True), 'check(s) healthy', 'ok'),
        ('checks_failed', sum(1 for v in verdicts if v is False), 'NOT HEALTHY', 'bad'),
        ('checks_not_run', sum(1 for v in verdicts if v is None), 'not checked', 'unknown'),
    )
    parts = []
    for name, count, label, css in counts:
        number = _attrs([('class', css if count else None), ('data-summary', name)])
        parts.append('<span%s>%d</span> %s' % (number, count, _e(label)))
    return '<p class="summary">%s</p>' % ', '.join(parts)


def report_rows(report, name='fleet_report_html'):
    """The rows of the report {'hosts': rows}, checked (AnsibleFilterError naming what is wrong), sorted by host."""
    if not isinstance(report, dict) or not isinstance(report.get('hosts'), list):
        raise AnsibleFilterError('%s: expected the report as a mapping {"hosts": [rows]}, got %r'
                                 % (name, report if not isinstance(report, dict) else sorted(report)))
    rows = []
    for row in report['hosts']:
        if not isinstance(row, dict) or not isinstance(row.get('host'), str):
            raise AnsibleFilterError('%s: every row needs a host name (key "host"), got %r' % (name, row))
        for stack in STACKS:
            if row.get(stack) is not None and not isinstance(row[stack], dict):
                raise AnsibleFilterError('%s: %s.%s must be a mapping or null, got %r'
                                         % (name, row['host'], stack, row[stack]))
        rows.append(row)
    return sorted(rows, key=lambda row: _natural(row['host']))


def fleet_report_html(report, title='Fleet report'):
    """The fleet report {'hosts': rows} as one self-contained HTML page."""
    rows = report_rows(report)
    out = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<meta name="generator" content="sts.devicemapper.fleet_report_html">',
           '<title>%s</title><style>%s</style></head><body>' % (_e(title), CSS),
           '<h1>%s</h1>' % _e(title), _summary(rows), _overview(rows)]
    for stack in STACKS:
        heading, fact = STACK_TITLES[stack]
        stack_rows = [(row['host'], row.get(stack)) for row in rows]
        out.append('<section id="%s"><h2>%s <small><code>%s</code></small></h2>' % (stack, _e(heading), _e(fact)))
        if not any(report for _host, report in stack_rows):
            out.append('<p class="note">No host has this stack.</p>')
        out.append('<div class="plots">%s</div>' % ''.join(_charts(stack, stack_rows)))
        if stack == 'era' and not any(report and 'blocks_written_per_era' in report for _host, report in stack_rows):
            out.append('<p class="note">The era reports carry no per-era counts (<code>blocks_written_per_era</code>):'
                       ' the chart shows the blocks written in era <code>since_era</code> or later.</p>')
        out.append(_stack_table(stack, stack_rows))
        out.append(_details_table(stack, stack_rows))
        out.append('</section>')
    out.append(_io_table(rows))
    out.append('</body></html>\n')
    return '\n'.join(out)


class FilterModule:
    """sts.devicemapper's filters."""

    def filters(self):
        return {'fleet_report_html': fleet_report_html}
