# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest-side fault trials: the collection's own create_snap (DmHost.create_snap, the module
code, with its ResumeGuard) in a child process that is SIGKILLed at a random moment while the
origin is suspended or about to be; the real kernel says afterwards whether anything was left
suspended and whether a re-run converges.

Usage: python3 fault_create_snap.py COLLECTIONS_ROOT POOL ORIGIN TRIALS SEED MARKER_DIR
Prints one JSON object: the figures and every trial.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

root, pool, origin, trials, seed, marker_dir = sys.argv[1:7]
sys.path.insert(0, root)

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DmHost  # noqa: E402

DMSETUP = '/usr/sbin/dmsetup' if os.path.exists('/usr/sbin/dmsetup') else '/sbin/dmsetup'

# the child: create_snap of dev_id argv[3] from origin dev_id 1, with a pause of argv[4] s after
# each dmsetup call (so a kill lands while the origin is suspended as often as not)
CHILD = r'''
import subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.ops import DmHost
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.resume_guard import ResumeGuard
dmsetup, pool, dev_id, pause, marker_dir = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
def run(argv, data=None):
    argv = [dmsetup] + list(argv[1:]) if argv[0] == 'dmsetup' else list(argv)
    proc = subprocess.run(argv, input=data, capture_output=True, text=True)
    if argv[1] in ('suspend', 'message', 'resume'):
        print(argv[1], flush=True)
        time.sleep(pause)
    return proc.returncode, proc.stdout, proc.stderr
host = DmHost(run, guard=lambda names: ResumeGuard(dmsetup, names, marker_dir=marker_dir))
print('ready', flush=True)
host.create_snap(pool, dev_id, 1)
print('done', flush=True)
'''


def run(argv, data=None):
    argv = [DMSETUP] + list(argv[1:]) if argv[0] == 'dmsetup' else list(argv)
    proc = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def suspended(name):
    proc = subprocess.run([DMSETUP, 'info', '-c', '--noheadings', '-o', 'suspended', name],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() == 'Suspended'


def main():
    rng = random.Random(seed)
    figures = {'trials': 0, 'killed': 0, 'killed_while_suspended': 0, 'left_suspended': 0,
               'reruns_converged': 0, 'max_resume_seconds': 0.0}
    rows = []
    for trial in range(int(trials)):
        dev_id = 100 + trial
        pause = rng.choice([0.0, 0.05, 0.2])
        child = subprocess.Popen([sys.executable, '-c', CHILD, root, DMSETUP, pool, str(dev_id), str(pause),
                                  marker_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == 'ready'
        # kill after a random number of the child's dmsetup steps (0: before it suspends)
        steps = rng.randint(0, 3)
        seen = []
        for _step in range(steps):
            line = child.stdout.readline().strip()
            if not line or line == 'done':
                break
            seen.append(line)
        time.sleep(rng.random() * 0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed = child.returncode == -signal.SIGKILL
        was_suspended = 'suspend' in seen and 'resume' not in seen
        started = time.monotonic()
        while suspended(origin) and time.monotonic() - started < 20:
            time.sleep(0.05)
        waited = time.monotonic() - started
        left = suspended(origin)
        # a re-run converges: create_snap of the same dev_id now (True: made; False: it was there)
        try:
            made = DmHost(run).create_snap(pool, dev_id, 1)
            converged = not suspended(origin)
        except Exception as exc:  # the figure says it; the test prints the trial
            made, converged = repr(exc), False
        run(['dmsetup', 'message', pool, '0', 'delete', str(dev_id)])
        figures['trials'] += 1
        figures['killed'] += killed
        figures['killed_while_suspended'] += was_suspended
        figures['left_suspended'] += left
        figures['reruns_converged'] += converged
        figures['max_resume_seconds'] = max(figures['max_resume_seconds'], round(waited, 2))
        rows.append({'trial': trial, 'steps_seen': seen, 'pause': pause, 'killed': killed,
                     'suspended_when_killed': was_suspended, 'left_suspended': left, 'rerun': made,
                     'converged': converged, 'resume_seconds': round(waited, 2)})
    figures['markers_left'] = sorted(os.listdir(marker_dir)) if os.path.isdir(marker_dir) else []
    json.dump({'figures': figures, 'trials': rows}, sys.stdout)


if __name__ == '__main__':
    main()
