# -*- coding: utf-8 -*-
"""Usage: python3 rss_probe.py HWM_FILE MODULE [ARGS...]

Runs MODULE as ``python3 -m MODULE ARGS...`` does (runpy, as ``__main__``) and, at
interpreter exit, writes this process's own peak resident set (VmHWM, KiB) to
HWM_FILE. ``os.wait4`` in the parent cannot give that figure: a child's
ru_maxrss is the larger of its own peak and that of its biggest waited-for
child, and a module waits for the tool it runs. Stdlib only.
"""

import atexit
import runpy
import sys


def _write_hwm(path):
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmHWM:'):
                with open(path, 'w') as out:
                    out.write(line.split()[1])
                return


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    hwm_file, module = sys.argv[1], sys.argv[2]
    sys.argv = [module] + sys.argv[3:]
    atexit.register(_write_hwm, hwm_file)
    runpy.run_module(module, run_name='__main__', alter_sys=True)


if __name__ == '__main__':
    main()
