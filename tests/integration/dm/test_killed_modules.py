"""Fault injection with the real kernel and the real tools (issue 13, item 2): whole module runs
(dm_target creating and removing a thin-pool batch, dm_target reloading a device, dmpd_restore
and dmpd_repair forced over a metadata file) SIGKILLed at random moments on the guest by
files/fault_modules.py, which then asks the kernel and the tools what the kill left and runs the
module again. Nothing may be left suspended, no live table may be neither the old nor the new
one, a device must read the data of its table, a metadata file must hold the old or the new
metadata (never half of it), a backup must be there before dest changes and give back what dest
held, no tool may outlive the module, and every re-run must converge and clear what the killed
run left. The figures are printed at the end of the run (``figures:`` lines)."""

import json
import os
import sys

from dm_helpers import MIB, REPO, mapper, run_share

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, 'files', 'fault_modules.py')
# batch: that many creates and as many removes (a trial costs a TCG guest ~12-15 s: the killed run
# and its re-run; create_snap's 50 trials are test_killed_run's)
# for a host alone; lab-test shares reload, restore and repair out among the hosts of its run
# (run_share); every host does the 4 batch trials, enough for a kill to land inside a batch
TRIALS = {'batch': 4, 'reload': run_share(5), 'restore': run_share(5), 'repair': run_share(4)}
# the two metadata the dmpd trials alternate between (bench's generator: thins, a snapshot,
# runs and single blocks), big enough that thin_restore takes a while on a TCG guest
MAPPINGS = (5000, 8000)
META_BYTES = 8 * 1024 * 1024
# what the figures of every kind must say, whatever the kills hit
ZERO = ('left_suspended', 'children_outlived', 'unexpected_tables', 'data_mismatch', 'dest_half_written',
        'backups_missing', 'backups_differ', 'side_files_after_rerun')


def _xml(path, mappings):
    if os.path.join(REPO, 'bench') not in sys.path:
        sys.path.insert(0, os.path.join(REPO, 'bench'))
    import dmpd_agent  # pylint: disable=import-outside-toplevel,import-error
    return dmpd_agent.generate_xml(path, mappings)


def _plan(prefix, area, root):
    meta, data, pool, thin, reloaded = [prefix + x for x in ('meta', 'data', 'pool', 'thin', 'r')]
    batch = [dict(name=meta, **area.lin(0, 0, 4)), dict(name=data, **area.lin(1, 0, 64)),
             dict(name=pool, type='thin-pool', length=64 * MIB, options={
                 'metadata_dev': mapper(meta), 'data_dev': mapper(data), 'block_size': '64KiB',
                 'low_water_mark': 0}),
             dict(name=thin, type='thin', length=32 * MIB, options={'pool': mapper(pool), 'dev_id': 1})]
    tables = [dict(name=reloaded, reload=True, **area.lin(0, start, 4)) for start in (16, 32)]
    dest, backups = root + '/meta/dest.bin', root + '/backups'
    xmls = [root + '/meta/%d.xml' % n for n in MAPPINGS]
    bins = [root + '/meta/%d.bin' % n for n in MAPPINGS]
    kinds = [
        {'kind': 'batch', 'trials': TRIALS['batch'], 'names': [meta, data, pool, thin], 'present': {'devices': batch},
         'absent': {'state': 'absent', 'devices': [{'name': d['name']} for d in batch]}},
        {'kind': 'reload', 'trials': TRIALS['reload'], 'name': reloaded, 'length': 4 * MIB,
         'tables': [{'devices': [t]} for t in tables]},
        {'kind': 'restore', 'trials': TRIALS['restore'], 'sources': xmls, 'dest': dest,
         'args': {'dest': dest, 'force': True, 'backup_dir': backups}},
        {'kind': 'repair', 'trials': TRIALS['repair'], 'sources': bins, 'dest': dest + '.repaired',
         'args': {'dest': dest + '.repaired', 'force': True, 'backup_dir': backups}},
    ]
    return {'seed': prefix, 'kinds': kinds}, xmls, bins, [meta, data, pool, thin, reloaded]


def test_module_runs_killed_at_random_leave_nothing_half_done(dm, prefix, area, record_property, tmp_path):
    root = '/var/tmp/%sroot' % prefix
    plan, xmls, bins, names = _plan(prefix, area, root)
    try:
        dm.guest(area.zero(0, 0, 4),
                 {'op': 'write', 'dev': area.at(0, 16)[0], 'offset': area.at(0, 16)[1], 'length': 4 * MIB,
                  'seed': prefix + 'A'},
                 {'op': 'write', 'dev': area.at(0, 32)[0], 'offset': area.at(0, 32)[1], 'length': 4 * MIB,
                  'seed': prefix + 'B'})
        dm.unpack_bundle(root, str(tmp_path))
        dm.command('mkdir', '-p', root + '/meta', root + '/backups')
        for n, xml, binary in zip(MAPPINGS, xmls, bins):
            local = str(tmp_path / ('%d.xml' % n))
            _xml(local, n)
            dm.upload(local, xml)
            # the repair trials' sources: the same metadata as binary files, made by the tool itself
            dm.command('truncate', '-s', str(META_BYTES), binary)
            dm.command('thin_restore', '-i', xml, '-o', binary)
        with open(str(tmp_path / 'plan.json'), 'w') as handle:
            json.dump(plan, handle)
        dm.upload(str(tmp_path / 'plan.json'), root + '/plan.json')
        driver = dm.upload(DRIVER, root + '/fault_modules.py', mode='0700')
        # the driver's whole run in one call: ~6 min on an idle TCG guest, more than twice that on a loaded one
        result = json.loads(dm.run(['python3', driver, root, root + '/plan.json'], timeout=3600)['stdout'])
        figures, trials = result['figures'], result['trials']
        kinds = dict((k, v) for k, v in figures.items() if isinstance(v, dict))
        total = dict((key, sum(f.get(key, 0) for f in kinds.values()))
                     for key in ('trials', 'killed', 'reruns_converged') + ZERO)
        changed = ('unexpected_tables', 'data_mismatch', 'dest_half_written', 'backups_missing', 'backups_differ')
        summary = dict(total, suite='killed module runs', host=dm.pattern, kernel=dm.kernel,
                       scratch_left=len(figures['scratch_left']), kinds=kinds,
                       data_changed=sum(total[k] for k in changed))
        record_property('figures', json.dumps(summary, sort_keys=True))
        bad = [t for t in trials if not t['converged'] or t['children'] or t.get('left_suspended')
               or t.get('unexpected_tables') or t.get('data_matches') is False or t.get('dest') == 'neither'
               or t.get('backup_missing') or t.get('backups_differ')]
        assert not bad, json.dumps(bad, indent=1)[:6000]
        assert total['trials'] == 2 * TRIALS['batch'] + TRIALS['reload'] + TRIALS['restore'] + TRIALS['repair']
        assert not [k for k in ZERO if total[k]], total
        assert total['reruns_converged'] == total['trials'], total
        # the kills landed: most runs died of them (the rest finished first), some in the middle of a batch
        assert total['killed'] >= total['trials'] * 3 // 4, kinds
        assert kinds['batch']['partial'] + kinds['batch']['inactive_left'] >= 1, kinds['batch']
        assert figures['scratch_left'] == [], figures['scratch_left']
        assert not [n for n in dm.guest({'op': 'suspended'})[0]['names'] if n.startswith(prefix)]
        dm.module('dm_target', state='absent', devices=[{'name': n} for n in names])
    finally:
        dm.rc('rm', '-rf', root)
