"""Check the fleet report's HTML page against its JSON, in a real browser.

    python html_report_check.py REPORT_DIR [--screenshot PNG] [--chromium PATH]

REPORT_DIR holds fleet-report.json and fleet-report.html as playbooks/report.yml writes them.
Headless Chromium opens the page from file:// with every network path closed and dumps the DOM
it built; every figure in it (an element with data-host and data-field, see the filter
sts.devicemapper.fleet_report_html) is compared with the JSON: every host and every key of the
JSON must be on the page, and every figure on the page must equal its JSON value after the
rounding the page declares (data-digits). The page must also be self-contained: no script,
stylesheet, image, font or frame it would fetch. Exits 1 naming the first mismatch; with
--screenshot, also writes a PNG of the page as Chromium draws it.

Standard library only: the checker runs wherever the controller's Python runs.
"""

import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

STACKS = ('thin', 'cache', 'era')
WIDTH = 1500

# Headless, no GPU, no sandbox (root in a container), a profile of its own; no network: every
# request goes to a proxy nobody listens on and no name resolves. file:// needs neither.
CHROMIUM_FLAGS = (
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-default-apps', '--mute-audio',
    '--hide-scrollbars', '--proxy-server=127.0.0.1:9', '--proxy-bypass-list=<-loopback>',
    '--host-resolver-rules=MAP * ~NOTFOUND',
)

VOID = frozenset(('area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source',
                  'track', 'wbr'))
FETCHING_TAGS = frozenset(('script', 'link', 'img', 'iframe', 'frame', 'object', 'embed', 'video', 'audio',
                           'source', 'image', 'use', 'picture', 'track', 'base'))
FETCHING_CSS = re.compile(r'@import|@font-face|url\(\s*[\'"]?(?!#)', re.IGNORECASE)


class ReportMismatch(Exception):
    """The page and the JSON disagree, or the page is not self-contained; the message says where."""


class Figure(object):
    """One element of the page that carries a figure of the report."""

    def __init__(self, tag, attrs, text, line):
        self.tag = tag
        self.attrs = attrs
        self.text = ' '.join(text.split())
        self.line = line
        self.host = attrs.get('data-host')
        self.field = attrs.get('data-field')

    def __str__(self):
        shown = ' '.join('%s="%s"' % (k, v) for k, v in sorted(self.attrs.items()) if k.startswith('data-'))
        return '<%s %s>%s</%s> (line %d of the DOM)' % (self.tag, shown, self.text, self.tag, self.line)


class _PageParser(html.parser.HTMLParser):
    """Collects the figures (data-field, data-summary) and whatever the page would fetch."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open = []
        self.figures = []
        self.summaries = []
        self.fetches = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict((name, value if value is not None else '') for name, value in attrs)
        self._fetching(tag, attrs)
        if tag == 'style':
            self.in_style = True
        if tag in VOID:
            return
        self.open.append((tag, attrs, [], self.getpos()[0]))

    def handle_startendtag(self, tag, attrs):
        attrs = dict((name, value if value is not None else '') for name, value in attrs)
        self._fetching(tag, attrs)
        self._record(tag, attrs, '', self.getpos()[0])

    def handle_endtag(self, tag):
        if tag == 'style':
            self.in_style = False
        if not any(element[0] == tag for element in self.open):
            return
        while self.open:
            open_tag, attrs, text, line = self.open.pop()
            self._record(open_tag, attrs, ''.join(text), line)
            if self.open:
                self.open[-1][2].append(''.join(text))
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.in_style and FETCHING_CSS.search(data):
            self.fetches.append('CSS that fetches: %r' % FETCHING_CSS.search(data).group(0))
        if self.open:
            self.open[-1][2].append(data)

    def _record(self, tag, attrs, text, line):
        if 'data-field' in attrs:
            self.figures.append(Figure(tag, attrs, text, line))
        elif 'data-summary' in attrs:
            self.summaries.append(Figure(tag, attrs, text, line))

    def _fetching(self, tag, attrs):
        if tag in FETCHING_TAGS:
            self.fetches.append('<%s> element (line %d)' % (tag, self.getpos()[0]))
        for name in ('src', 'href', 'xlink:href', 'srcset', 'poster', 'data', 'action'):
            value = attrs.get(name)
            if value is not None and not value.startswith('#'):
                self.fetches.append('<%s %s="%s"> (line %d)' % (tag, name, value, self.getpos()[0]))
        if FETCHING_CSS.search(attrs.get('style', '')):
            self.fetches.append('<%s style="%s"> (line %d)' % (tag, attrs['style'], self.getpos()[0]))


def parse_page(text):
    """The page's figures, summary figures and fetches, from HTML or a dumped DOM."""
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    return parser


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _resolve(row, field):
    """The JSON value a page field names: 'thin.data_usage_pct' -> row['thin']['data_usage_pct']."""
    value = row
    for part in field.split('.'):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(field)
    return value


def _shown(figure, value):
    """None when the figure shows value, else what was expected instead."""
    key = figure.field.rsplit('.', 1)[-1]
    text = figure.text
    if 'data-json' in figure.attrs:
        try:
            shown = json.loads(figure.attrs['data-json'])
        except ValueError:
            return 'valid JSON in data-json'
        return None if shown == value else 'data-json %s' % json.dumps(value, sort_keys=True)
    if 'data-value' in figure.attrs:
        if not _is_number(value):
            return 'no bar (the JSON value %r is not a number)' % (value,)
        try:
            return None if float(figure.attrs['data-value']) == float(value) else 'data-value %r' % (value,)
        except ValueError:
            return 'a number in data-value'
    if value is None:
        expected = 'not checked' if key == 'check_healthy' else '-'
    elif isinstance(value, bool):
        expected = ('healthy' if value else 'NOT HEALTHY') if key == 'check_healthy' else ('yes' if value else 'no')
    elif _is_number(value):
        number = text[:-1] if text.endswith('%') else text
        number = number.replace(',', '')
        digits = figure.attrs.get('data-digits')
        if digits is not None:
            expected = '%.*f' % (int(digits), value)
            return None if number == expected else '%s (%r rounded to %s decimals)' % (expected, value, digits)
        try:
            return None if float(number) == float(value) else repr(value)
        except ValueError:
            return repr(value)
    elif isinstance(value, str):
        expected = value
    else:
        return 'data-json with %s' % json.dumps(value, sort_keys=True)
    return None if text == expected else repr(expected)


def _expected_fields(row):
    """Every field of one JSON row the page must show: top-level keys, each stack's keys, or the stack."""
    for key, value in row.items():
        if key == 'host':
            continue
        if key in STACKS and isinstance(value, dict):
            for stack_key in value:
                yield '%s.%s' % (key, stack_key)
        else:
            yield key


def compare(page_text, report):
    """Every mismatch between a page (HTML or dumped DOM) and the report {'hosts': rows}, in page order."""
    page = parse_page(page_text)
    problems = ['the page is not self-contained: %s' % fetch for fetch in page.fetches]
    rows = dict((row['host'], row) for row in report['hosts'])
    seen = set()
    for figure in page.figures:
        if figure.host not in rows:
            problems.append('%s: host %r is not in the JSON' % (figure, figure.host))
            continue
        row = rows[figure.host]
        try:
            value = _resolve(row, figure.field)
        except KeyError:
            problems.append('%s: host %s has no field %s in the JSON' % (figure, figure.host, figure.field))
            continue
        if figure.field in STACKS and value is not None:
            problems.append('%s: shows no %s stack, the JSON has one' % (figure, figure.field))
            continue
        if figure.field in STACKS:
            if figure.text != '-':
                problems.append('%s: expected "-" for a host without a %s stack' % (figure, figure.field))
            seen.add((figure.host, figure.field))
            continue
        wrong = _shown(figure, value)
        if wrong is not None:
            problems.append('%s: expected %s, the JSON has %s = %s'
                            % (figure, wrong, figure.field, json.dumps(value, sort_keys=True)))
        if 'data-value' not in figure.attrs:
            seen.add((figure.host, figure.field))
    for host in sorted(rows):
        for field in _expected_fields(rows[host]):
            if (host, field) not in seen:
                problems.append('host %s: the JSON field %s (%s) is not on the page'
                                % (host, field, json.dumps(_resolve(rows[host], field), sort_keys=True)))
    verdicts = [row[s].get('check_healthy') for row in rows.values() for s in STACKS if isinstance(row.get(s), dict)]
    expected = {'hosts': len(rows), 'checks_passed': verdicts.count(True),
                'checks_failed': verdicts.count(False), 'checks_not_run': verdicts.count(None)}
    for figure in page.summaries:
        name = figure.attrs['data-summary']
        if name in expected and figure.text != str(expected[name]):
            problems.append('%s: expected %d from the JSON' % (figure, expected[name]))
    return problems


def find_chromium(explicit=None):
    """The Chromium binary: the given one, $STS_CHROMIUM, or chromium on PATH; None when there is none."""
    for candidate in (explicit, os.environ.get('STS_CHROMIUM'), 'chromium', 'chromium-browser'):
        if candidate:
            found = shutil.which(candidate)
            if found:
                return found
    return None


def _page_height(dom):
    """A window height that holds the whole page: Chromium's screenshot is of the window only."""
    shown = re.sub(r'<details(?![^>]*\sopen)[^>]*>.*?</details>', '', dom, flags=re.DOTALL)
    heights = sum(int(float(h)) for h in re.findall(r'<svg[^>]*\sheight="([\d.]+)"', shown))
    rows = len(re.findall(r'<tr[\s>]', shown))
    return min(16000, 200 + heights + 34 * rows + 70 * len(re.findall(r'<(?:h2|figure|details)[\s>]', shown)))


def run_chromium(chromium, url, args, timeout=180):
    """stdout of one headless Chromium run on url with a profile of its own; fails with its stderr."""
    with tempfile.TemporaryDirectory(prefix='sts-chromium-') as profile:
        argv = [chromium] + list(CHROMIUM_FLAGS) + ['--user-data-dir=' + profile] + list(args) + [url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise ReportMismatch('chromium failed (rc %d): %s\nstderr: %s'
                             % (done.returncode, ' '.join(argv), done.stderr.strip()[-2000:]))
    return done.stdout


def check_report(report_dir, screenshot=None, chromium=None):
    """Compare REPORT_DIR's fleet-report.html, as Chromium renders it, with fleet-report.json.

    Raises ReportMismatch naming the first mismatch (and how many there are); returns the list of
    figures compared. With screenshot, a PNG of the whole page is written there.
    """
    html_path = os.path.abspath(os.path.join(report_dir, 'fleet-report.html'))
    json_path = os.path.join(report_dir, 'fleet-report.json')
    for path in (html_path, json_path):
        if not os.path.isfile(path):
            raise ReportMismatch('%s: no such file' % path)
    with open(json_path) as handle:
        report = json.load(handle)
    binary = find_chromium(chromium)
    if binary is None:
        raise ReportMismatch('chromium not found (give --chromium or $STS_CHROMIUM, or install Debian\'s chromium)')
    url = 'file://' + html_path
    with open(html_path, encoding='utf-8') as handle:
        source = handle.read()
    # What the file would fetch is judged on the file itself too: the DOM drops nothing, but say so early.
    problems = ['the file is not self-contained: %s' % fetch for fetch in parse_page(source).fetches]
    dom = run_chromium(binary, url, ['--dump-dom'])
    if '<body' not in dom:
        raise ReportMismatch('chromium dumped no page for %s: %r' % (url, dom[:200]))
    problems += compare(dom, report)
    if problems:
        raise ReportMismatch('%s: %s%s' % (html_path, problems[0],
                                           '' if len(problems) == 1 else ' (and %d more)' % (len(problems) - 1)))
    if screenshot:
        target = os.path.abspath(screenshot)
        run_chromium(binary, url, ['--screenshot=' + target, '--window-size=%d,%d' % (WIDTH, _page_height(dom))])
        if not os.path.isfile(target):
            raise ReportMismatch('chromium wrote no screenshot to %s' % target)
    return parse_page(dom).figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], prog='html_report_check.py')
    parser.add_argument('report_dir', metavar='REPORT_DIR', help='the directory with fleet-report.json and .html')
    parser.add_argument('--screenshot', metavar='PNG', help='write a PNG of the whole page here')
    parser.add_argument('--chromium', metavar='PATH', help='the Chromium binary (default: $STS_CHROMIUM or chromium)')
    args = parser.parse_args(argv)
    try:
        figures = check_report(args.report_dir, screenshot=args.screenshot, chromium=args.chromium)
    except ReportMismatch as error:
        print('MISMATCH: %s' % error, file=sys.stderr)
        return 1
    hosts = sorted(set(figure.host for figure in figures))
    print('fleet report OK: %d figures of %d host(s) (%s) match the JSON%s'
          % (len(figures), len(hosts), ', '.join(hosts),
             '; screenshot %s' % args.screenshot if args.screenshot else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
