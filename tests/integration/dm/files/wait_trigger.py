# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper run on the guest (test_wait.py): once a dm_wait run is seen polling a device, run
the guest helper's steps, so what they trigger comes after the wait's first look however slow
the guest is.

Usage: python3 wait_trigger.py DEVICE SECONDS HELPER STEPS_JSON

dm_wait runs ``dmsetup info -c ... -- DEVICE`` once per poll (the guest helper's and other
tests' per-device ``dmsetup info -c ... DEVICE`` have no ``--``); this looks through /proc every
50 ms for such processes and, after it has seen two (so at least one poll was over before),
runs ``python3 HELPER STEPS_JSON`` (argv, no shell) and exits with its code. It gives up, exit
3, after SECONDS.
"""

import os
import subprocess
import sys
import time


def polls_of(device):
    """pids of the ``dmsetup info -c ... -- DEVICE`` processes now."""
    found = set()
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                argv = handle.read().decode('utf-8', 'replace').split('\0')
        except OSError:
            continue
        argv = [word for word in argv if word]
        if argv and os.path.basename(argv[0]) == 'dmsetup' and argv[1:3] == ['info', '-c'] and argv[-2:] == ['--', device]:
            found.add(pid)
    return found


def main(device, seconds, helper, steps):
    seen = set()
    deadline = time.monotonic() + float(seconds)
    while len(seen) < 2:
        if time.monotonic() > deadline:
            sys.stderr.write('no dm_wait poll of %s seen in %s s\n' % (device, seconds))
            return 3
        seen |= polls_of(device)
        time.sleep(0.05)
    return subprocess.call(['python3', helper, steps])


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:5]))
