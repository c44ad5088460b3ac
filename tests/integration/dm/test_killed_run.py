"""Fault injection with the real kernel (issue 13, item 2): the collection's create_snap
(DmHost.create_snap with its ResumeGuard, the code the modules run) in a child process on the
guest, SIGKILLed at a random moment before, during or after the origin's suspend, TRIALS times
(30 for a host alone; lab-test shares them out among its hosts, ``dm_helpers.run_share``).
Afterwards the origin must be active (the watchdog resumed it), a re-run must converge, and no
marker may be left. The figures are printed at the end of the run (``figures:`` lines)."""

import json
import os

from dm_helpers import MIB, mapper, run_share

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, 'files', 'fault_create_snap.py')
# 30 in a run of the whole fleet, shared out among its hosts (run_share): each kernel gets its share
TRIALS = run_share(30)


def test_create_snap_killed_at_random_leaves_nothing_suspended(dm, prefix, area, record_property, tmp_path):
    meta, data, pool, origin = [prefix + x for x in ('meta', 'data', 'pool', 'origin')]
    root = '/var/tmp/%sroot' % prefix
    markers = '/run/%smarkers' % prefix
    devices = [dict(name=meta, **area.lin(0, 0, 4)), dict(name=data, **area.lin(1, 0, 64)),
               dict(name=pool, type='thin-pool', length=64 * MIB, options={
                   'metadata_dev': mapper(meta), 'data_dev': mapper(data), 'block_size': '64KiB',
                   'low_water_mark': 0}),
               dict(name=origin, type='thin', length=32 * MIB, options={'pool': mapper(pool), 'dev_id': 1})]
    try:
        dm.guest(area.zero(0, 0))
        dm.module('dm_target', devices=devices)
        dm.guest({'op': 'write', 'dev': mapper(origin), 'offset': 0, 'length': 4 * MIB, 'seed': origin})
        before = dm.guest({'op': 'sha', 'dev': mapper(origin)})[0]['sha256']
        dm.unpack_bundle(root, str(tmp_path))
        driver = dm.upload(DRIVER, root + '/fault_create_snap.py', mode='0700')
        out = dm.command('python3', driver, root, pool, origin, str(TRIALS), prefix, markers)['stdout']
        result = json.loads(out)
        figures = result['figures']
        after = dm.guest({'op': 'sha', 'dev': mapper(origin)}, {'op': 'suspended'})
        # the origin's whole 32 MiB, compared by sha256 before and after the trials
        figures['origin_bytes_checked'] = 32 * MIB * 512
        figures['origin_changed'] = int(after[0]['sha256'] != before)
        record_property('figures', json.dumps(dict(figures, host=dm.pattern, kernel=dm.kernel, suite='killed create_snap')))
        bad = [t for t in result['trials'] if t['left_suspended'] or not t['converged']]
        assert not bad, bad
        assert figures['trials'] == figures['killed'] == TRIALS, figures
        # the trials must have hit the window they are about: kills while the origin was suspended
        assert figures['killed_while_suspended'] >= TRIALS // 10, figures
        assert figures['left_suspended'] == 0 and figures['reruns_converged'] == TRIALS, figures
        assert figures['markers_left'] == [], figures
        assert after[0]['sha256'] == before, 'the origin data changed across the trials'
        assert not [n for n in after[1]['names'] if n.startswith(prefix)], after[1]
        dm.module('dm_target', state='absent', devices=[{'name': n} for n in (origin, pool, data, meta)])
    finally:
        dm.rc('rm', '-rf', root, markers)
