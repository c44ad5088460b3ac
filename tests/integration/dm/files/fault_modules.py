# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest-side fault trials of whole module runs: the collection's modules (dm_target,
dmpd_restore, dmpd_repair) run as the module files themselves, with ansible-core's
module_utils beside them (the way ``python3 MODULE.py ARGS.json`` runs a module for
debugging: the same code as under Ansible, without a controller round trip per trial), and
are SIGKILLed at a random moment: once the module has started k commands (its child
processes, watched in /proc; k random below what an untouched run starts), plus a random
delay.

After every kill the real kernel and the real tools are asked: is any device of ours
suspended, is a live table neither the old nor the new one, does the device hold the data of
its table, is a metadata file neither the old nor the new metadata (or not readable at all),
does a tool process of ours outlive the module, is the backup there before dest changed. Then
the same module run again must succeed and converge, and clear what the killed run left.

Usage: python3 fault_modules.py ROOT PLAN.json      ROOT: the unpacked tarball (ROOT/ansible,
ROOT/ansible_collections); PLAN: {"seed": S, "kinds": [KIND...]}, a KIND being one of
  {"kind": "batch", "trials": N, "present": ARGS, "absent": ARGS, "names": [...]}
      dm_target with a batch of devices, created (killed, re-run) then removed (killed,
      re-run): N trials of each
  {"kind": "reload", "trials": N, "tables": [ARGS_A, ARGS_B], "name": D, "length": SECTORS}
      dm_target reloading one device between table A and B (the two map different data)
  {"kind": "restore" | "repair", "trials": N, "sources": [SRC_A, SRC_B], "dest": PATH, "args": ARGS}
      dmpd_restore (XML sources) or dmpd_repair (metadata files) with force into dest,
      alternating between the two sources
Prints one JSON object: {"figures": {KIND: {...}}, "trials": [...]}.
"""

import glob
import hashlib
import json
import mmap
import os
import random
import signal
import subprocess
import sys
import time

ROOT, PLAN = sys.argv[1], sys.argv[2]
TMP = os.path.join(ROOT, 'tmp')
MODULES = os.path.join(ROOT, 'ansible_collections', 'sts', 'devicemapper', 'plugins', 'modules')
SBIN = ('/usr/sbin', '/sbin', '/usr/bin', '/bin')
# how often a module's children are looked at: often enough to see most dmsetup calls (tens of
# milliseconds each under TCG), seldom enough not to take the CPU from the module watched
POLL = 0.015


def real(tool):
    for d in SBIN:
        if os.access(os.path.join(d, tool), os.X_OK):
            return os.path.join(d, tool)
    raise SystemExit('%s is not installed' % tool)


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


class ModuleRun(object):
    """One module process (``python3 MODULE.py ARGS.json``, as Ansible's own debugging entry runs
    it), watched: ``steps`` are the commands it started, in order (its child processes, seen in
    /proc every POLL seconds; a call shorter than that may go unseen)."""

    def __init__(self, module, args, tag):
        path = os.path.join(TMP, 'args-%s.json' % tag)
        with open(path, 'w') as handle:
            json.dump({'ANSIBLE_MODULE_ARGS': dict(args, _ansible_remote_tmp=TMP)}, handle)
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, os.path.join(MODULES, module + '.py'), path],
                                     env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.children = {}
        self.order = []

    @property
    def steps(self):
        return [self.children[kid] for kid in self.order]

    def poll(self):
        """Look at the children once; True while the module runs."""
        pid = self.proc.pid
        try:
            with open('/proc/%d/task/%d/children' % (pid, pid)) as handle:
                kids = handle.read().split()
        except OSError:
            kids = []
        for kid in kids:
            if self.children.get(kid) in (None, 'forked'):
                # a child counts from its first sight; its name once it has exec'd (a fork shows the
                # module's own command line until then; one that is gone already stays unnamed)
                try:
                    with open('/proc/%s/cmdline' % kid, 'rb') as handle:
                        argv = [a.decode('utf-8', 'replace') for a in handle.read().split(b'\0') if a]
                except OSError:
                    argv = []
                if argv and os.path.basename(argv[0]) == 'setpriv' and '--' in argv:
                    argv = argv[argv.index('--') + 1:]
                name = 'forked' if argv == self.proc.args else ' '.join(
                    [os.path.basename(argv[0])] + argv[1:2]) if argv else '?'
                if kid not in self.children:
                    self.order.append(kid)
                self.children[kid] = name
        return self.proc.poll() is None

    def wait_steps(self, count, deadline=300):
        until = time.monotonic() + deadline
        while len(self.order) < count and self.poll() and time.monotonic() < until:
            time.sleep(POLL)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate()
        return self.proc.returncode == -signal.SIGKILL

    def finish(self, watch, timeout=600):
        while watch and self.poll():
            time.sleep(POLL)
        out, err = self.proc.communicate(timeout=timeout)
        self.seconds = time.monotonic() - self.started
        try:
            return json.loads(out)
        except ValueError:
            return {'failed': True, 'msg': 'no JSON from the module (rc %s): %s %s' % (
                self.proc.returncode, out[-800:].decode('utf-8', 'replace'), err[-800:].decode('utf-8', 'replace'))}


def converge(module, args, tag, watch=False):
    """Run the module to its end; its result and (``watch``: the calibrating runs; watching costs a
    TCG guest CPU) the commands it ran."""
    run_ = ModuleRun(module, args, tag)
    return run_.finish(watch), run_.steps


def kill_at_random(rng, module, args, tag, expected_steps):
    """Start the module, SIGKILL it once it has started k commands (k random in 0..expected:
    expected, the last command done, is the moment of a rename) and a random delay later; returns
    (killed, commands seen, k, delay)."""
    k = rng.randrange(expected_steps + 1)
    delay = rng.random() * 0.3
    run_ = ModuleRun(module, args, tag)
    run_.wait_steps(k)
    until = time.monotonic() + delay
    while time.monotonic() < until and run_.poll():
        time.sleep(POLL)
    return run_.kill(), run_.steps, k, round(delay, 3)


def ours_alive():
    """Processes (other than this one) whose command line names ROOT: a module or a tool a
    killed module started, still running."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                argv = handle.read().split(b'\0')
        except OSError:
            continue
        if any(ROOT.encode() in a for a in argv):
            found.append(' '.join(a.decode('utf-8', 'replace') for a in argv if a)[:200])
    return found


def wait_gone(seconds=5):
    until = time.monotonic() + seconds
    alive = ours_alive()
    while alive and time.monotonic() < until:
        time.sleep(0.05)
        alive = ours_alive()
    return alive


# -- dm -------------------------------------------------------------------------------


def dm_names():
    """devno (MAJ:MIN) -> name of every dm device."""
    rc, out, _err = run([real('dmsetup'), 'info', '-c', '--noheadings', '--separator', ' ', '-o', 'name,major,minor'])
    names = {}
    for line in out.splitlines() if rc == 0 else []:
        parts = line.split()
        if len(parts) == 3:
            names['%s:%s' % (parts[1], parts[2])] = parts[0]
    return names


def dm_state(name):
    """None (no such device) or {'suspended', 'inactive', 'table'} as dmsetup says; in the table a
    dm device's devno is written as its name (a batch made again gets new minors when other
    devices were made meanwhile: the same table, other numbers)."""
    rc, out, _err = run([real('dmsetup'), 'info', name])
    if rc != 0:
        return None
    state = {'suspended': 'SUSPENDED' in out, 'inactive': 'INACTIVE' in out}
    rc, table, _err = run([real('dmsetup'), 'table', '--showkeys', name])
    if rc != 0:
        state['table'] = None
        return state
    names = dm_names()
    state['table'] = '\n'.join(' '.join(names.get(word, word) for word in line.split())
                               for line in table.strip().splitlines())
    return state


def wait_resumed(names, seconds=20):
    started = time.monotonic()
    states = dict((n, dm_state(n)) for n in names)
    while any(s and s['suspended'] for s in states.values()) and time.monotonic() - started < seconds:
        time.sleep(0.05)
        states = dict((n, dm_state(n)) for n in names)
    return states, time.monotonic() - started


def sha_device(dev, length):
    """sha256 of the first ``length`` sectors, read with O_DIRECT (what the device maps now)."""
    fd = os.open(dev, os.O_RDONLY | getattr(os, 'O_DIRECT', 0))
    buf = mmap.mmap(-1, 1 << 20)
    digest = hashlib.sha256()
    try:
        pos, end = 0, length * 512
        while pos < end:
            size = min(len(buf), end - pos)
            got = os.preadv(fd, [memoryview(buf)[:size]], pos)
            digest.update(buf[:got])
            if got < size:
                break
            pos += got
    finally:
        os.close(fd)
        buf.close()
    return digest.hexdigest()


def new_figures(extra=()):
    figures = {'trials': 0, 'killed': 0, 'left_suspended': 0, 'reruns_converged': 0, 'children_outlived': 0,
               'max_resume_seconds': 0.0}
    figures.update((k, 0) for k in extra)
    return figures


def account(figures, row):
    figures['trials'] += 1
    figures['killed'] += row['killed']
    figures['left_suspended'] += len(row.get('left_suspended', []))
    figures['reruns_converged'] += row['converged']
    figures['children_outlived'] += len(row['children'])
    figures['max_resume_seconds'] = max(figures['max_resume_seconds'], row.get('resume_seconds', 0.0))


def dm_trial(rng, figures, rows, what, args, names, wanted, expected_steps, tag, allowed, probe=None, reads=None):
    """One killed dm_target run and its re-run. ``wanted``: name -> table the re-run must leave
    (None: absent); ``allowed``: name -> tables a device may have after the kill; ``probe(states)``:
    more to look at after the kill, before the re-run (a dict for the row); ``reads()``: True when
    the converged device reads the data it should."""
    killed, seen, k, delay = kill_at_random(rng, 'dm_target', args, tag, expected_steps)
    states, waited = wait_resumed(names)
    present = [n for n in names if states[n]]
    row = {'what': what, 'killed': killed, 'after_steps': k, 'delay': delay, 'steps_seen': len(seen),
           'last_step': seen[-1] if seen else None, 'resume_seconds': round(waited, 2),
           'left_suspended': [n for n in present if states[n]['suspended']],
           'inactive_left': [n for n in present if states[n]['inactive']],
           'unexpected_tables': [n for n in present if states[n]['table'] not in allowed[n]],
           'partial': 0 < len(present) < len(names), 'children': wait_gone()}
    if probe:
        row.update(probe(states))
    result, _seen = converge('dm_target', args, tag)
    after = dict((n, dm_state(n)) for n in names)
    row['rerun_failed'] = result.get('msg') if result.get('failed') else None
    row['warnings'] = result.get('warnings', [])
    row['converged'] = not result.get('failed') and all(
        (after[n] is None) if wanted[n] is None else
        (after[n] is not None and after[n]['table'] == wanted[n] and not after[n]['suspended']
         and not after[n]['inactive']) for n in names) and (reads is None or reads())
    figures['inactive_left'] += len(row['inactive_left'])
    figures['unexpected_tables'] += len(row['unexpected_tables'])
    figures['partial'] += row['partial']
    account(figures, row)
    rows.append(row)
    return row


def batch(rng, kind, rows):
    figures = new_figures(('inactive_left', 'unexpected_tables', 'partial'))
    names = kind['names']
    made, create_steps = converge('dm_target', kind['present'], 'batch', watch=True)
    if made.get('failed'):
        raise SystemExit('the batch does not converge untouched: %s' % made.get('msg'))
    tables = dict((n, dm_state(n)['table']) for n in names)
    gone, remove_steps = converge('dm_target', kind['absent'], 'batch', watch=True)
    if gone.get('failed'):
        raise SystemExit('the batch is not removed untouched: %s' % gone.get('msg'))
    # after a kill a device is absent, table-less (created, not loaded yet) or has its table
    allowed = dict((n, (tables[n], '')) for n in names)
    for trial in range(kind['trials']):
        row = dm_trial(rng, figures, rows, 'create', kind['present'], names, tables, len(create_steps), 'batch',
                       allowed)
        row['trial'] = trial
        row = dm_trial(rng, figures, rows, 'remove', kind['absent'], names, dict((n, None) for n in names),
                       len(remove_steps), 'batch', allowed)
        row['trial'] = trial
    figures['steps_untouched'] = {'create': len(create_steps), 'remove': len(remove_steps)}
    return figures


def reload(rng, kind, rows):
    figures = new_figures(('inactive_left', 'unexpected_tables', 'partial', 'data_mismatch'))
    name, length = kind['name'], kind['length']
    dev = '/dev/mapper/' + name
    tables, shas, counted = [], [], []
    for args in kind['tables']:
        result, seen = converge('dm_target', args, 'reload', watch=True)
        if result.get('failed'):
            raise SystemExit('reload does not converge untouched: %s' % result.get('msg'))
        tables.append(dm_state(name)['table'])
        shas.append(sha_device(dev, length))
        counted.append(len(seen))
    if len(set(shas)) != 2:
        raise SystemExit('tables A and B must map different data: %s' % shas)
    current = 1

    def probe(states):
        # whatever the kill left live, the device reads the data of that table
        state = states[name]
        if not state or state['table'] not in tables:
            return {'data_matches': False}
        return {'data_matches': sha_device(dev, length) == shas[tables.index(state['table'])]}

    for trial in range(kind['trials']):
        target = 1 - current
        row = dm_trial(rng, figures, rows, 'reload', kind['tables'][target], [name], {name: tables[target]},
                       counted[target], 'reload', {name: tables}, probe,
                       lambda: sha_device(dev, length) == shas[target])
        row['trial'] = trial
        figures['data_mismatch'] += not row['data_matches']
        current = target
    return figures


# -- dmpd -----------------------------------------------------------------------------
def dump_sha(path):
    rc, out, _err = run([real('thin_dump'), path])
    return hashlib.sha256(out.encode()).hexdigest() if rc == 0 else None


def backup_sha(path, size):
    """The dump of what a backup gives back: an XML backup restored into a scratch file, a raw one as it is."""
    if not path.endswith('.xml'):
        return dump_sha(path)
    scratch = os.path.join(TMP, 'backup-check.bin')
    with open(scratch, 'wb') as handle:
        handle.truncate(size)
    try:
        rc, _out, _err = run([real('thin_restore'), '-i', path, '-o', scratch])
        return dump_sha(scratch) if rc == 0 else None
    finally:
        os.unlink(scratch)


def side_files(dest):
    parent, base = os.path.split(dest)
    return sorted(glob.glob(os.path.join(parent, '.%s.sts-dm-*.tmp' % base)))


def dmpd(rng, kind, rows):
    figures = new_figures(('dest_half_written', 'backups_missing', 'backups_checked', 'backups_differ',
                           'side_files_left_by_kill',
                           'side_files_after_rerun', 'dest_changed_by_kill'))
    module = 'dmpd_' + kind['kind']
    dest, backup_dir = kind['dest'], kind['args']['backup_dir']
    # untouched runs first: A into a missing dest, B over it, A over B (the trials start from A)
    digests, counted = [None, None], [0, 0]
    for index in (0, 1, 0):
        result, seen = converge(module, dict(kind['args'], src=kind['sources'][index]), kind['kind'], watch=True)
        if result.get('failed'):
            raise SystemExit('%s does not converge untouched: %s' % (module, result.get('msg')))
        digests[index], counted[index] = dump_sha(dest), len(seen)
    if None in digests or len(set(digests)) != 2:
        raise SystemExit('the two sources must give different, readable metadata: %s' % digests)
    size = os.path.getsize(dest)
    current = 0
    for trial in range(kind['trials']):
        target = 1 - current
        args = dict(kind['args'], src=kind['sources'][target])
        backups = set(os.listdir(backup_dir))
        killed, seen, k, delay = kill_at_random(rng, module, args, kind['kind'], counted[target])
        row = {'what': kind['kind'], 'trial': trial, 'killed': killed, 'after_steps': k, 'delay': delay,
               'steps_seen': len(seen), 'last_step': seen[-1] if seen else None, 'children': wait_gone()}
        now = dump_sha(dest)
        row['dest'] = 'old' if now == digests[current] else 'new' if now == digests[target] else 'neither'
        row['side_files'] = [os.path.basename(p) for p in side_files(dest)]
        # a dest the kill changed must have its backup already
        row['backup_missing'] = row['dest'] == 'new' and not set(os.listdir(backup_dir)) - backups
        result, _seen = converge(module, args, kind['kind'])
        row['rerun_failed'] = result.get('msg') if result.get('failed') else None
        row['warnings'] = result.get('warnings', [])
        row['converged'] = not result.get('failed') and dump_sha(dest) == digests[target] and not side_files(dest)
        # every backup written since (the killed run's, the re-run's) gives back what dest held: restored
        # (an XML backup) or read as it is (a raw one), it dumps as the old metadata did
        made = sorted(set(os.listdir(backup_dir)) - backups)
        row['backups'] = len(made)
        row['backup_missing'] = row['backup_missing'] or not made
        row['backups_differ'] = [b for b in made if backup_sha(os.path.join(backup_dir, b), size) != digests[current]]
        figures['dest_half_written'] += row['dest'] == 'neither'
        figures['dest_changed_by_kill'] += row['dest'] == 'new'
        figures['backups_missing'] += row['backup_missing']
        figures['backups_checked'] += len(made)
        figures['backups_differ'] += len(row['backups_differ'])
        figures['side_files_left_by_kill'] += bool(row['side_files'])
        figures['side_files_after_rerun'] += bool(side_files(dest))
        account(figures, row)
        rows.append(row)
        current = target
    return figures


KINDS = {'batch': batch, 'reload': reload, 'restore': dmpd, 'repair': dmpd}


def main():
    with open(PLAN) as handle:
        plan = json.load(handle)
    rng = random.Random(plan['seed'])
    os.makedirs(TMP, exist_ok=True)
    figures, rows = {}, []
    for kind in plan['kinds']:
        started = time.monotonic()
        figures[kind['kind']] = KINDS[kind['kind']](rng, kind, rows)
        figures[kind['kind']]['seconds'] = round(time.monotonic() - started, 1)
    figures['scratch_left'] = sorted(os.path.relpath(p, TMP) for p in glob.glob(os.path.join(TMP, '*', 'sts-dm-*')))
    json.dump({'figures': figures, 'trials': rows}, sys.stdout)


if __name__ == '__main__':
    main()
