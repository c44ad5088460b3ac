"""The reliability totals of one host's dm suite log: what lab-test prints after the suite.

Usage: lab/figures.py HOST LOG
Reads the ``figures: NODEID {json}`` lines the suites print (tests/integration/dm/conftest.py)
and prints one line:

    reliability HOST: cases tried N (refused as expected N), faults injected N, devices left
    suspended N, data changed by a refused input or a killed run N, tracebacks shown N, key
    material found N (in N texts)

A figure missing from the log (a suite that did not run or failed before recording) shows as
"not measured", never as 0.
"""

import json
import sys


def totals(lines):
    seen = {}
    for line in lines:
        if not line.startswith('figures: '):
            continue
        _label, _node, text = line.rstrip('\n').split(' ', 2)
        try:
            data = json.loads(text)
        except ValueError:
            continue
        suite = data.get('suite') or ('bad input' if 'cases' in data else _node)
        seen[suite] = data
    bad, secrets = seen.get('bad input'), seen.get('key material in all output')
    # the fault suites: create_snap's kills, and whole module runs killed (create, remove, reload,
    # restore, repair); a total over them is "not measured" unless both recorded
    faults = [seen.get('killed create_snap'), seen.get('killed module runs')]

    def figure(source, *keys):
        if source is None:
            return None
        return sum(int(source.get(k) or 0) for k in keys)

    def over(sources, *keys):
        parts = [figure(source, *keys) for source in sources]
        return None if None in parts else sum(parts)

    killed_snap, killed_runs = faults
    out = {
        'cases tried': figure(bad, 'cases'),
        'refused as expected': figure(bad, 'refused_as_expected'),
        'faults injected': over(faults, 'killed'),
        'devices left suspended': over(faults, 'left_suspended'),
        'data changed by a refused input or a killed run': (
            None if None in (bad, killed_snap, killed_runs) else
            figure(bad, 'host_changes') + figure(killed_snap, 'origin_changed') + figure(killed_runs, 'data_changed')),
        'tracebacks shown': figure(bad, 'tracebacks'),
        'key material found': figure(secrets, 'found'),
        'texts searched for key material': figure(secrets, 'texts'),
    }
    return out


def main(host, path):
    with open(path) as handle:
        out = totals(handle)
    words = ', '.join('%s %s' % (k, 'not measured' if v is None else v) for k, v in out.items())
    print('reliability %s: %s' % (host, words))


if __name__ == '__main__':
    main(*sys.argv[1:3])
