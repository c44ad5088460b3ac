# -*- coding: utf-8 -*-
"""discovery suite, the seed library's side, run on the measured guest as its own process.

    python3 discovery_seed.py api|shell OUT.json PREFIX

``api``: the seed library (sts-libs, from the directory on PYTHONPATH) lists every dm device
the way its API does: ``DmDevice.get_all()``, then each device's ``.table`` and
``get_status()``. ``shell``: the pattern the seed runs underneath, without the library: one
shell string per command (``dmsetup ls``, then per device ``ls -l /dev/dm-* | grep "MAJ,
*MIN"``, ``dmsetup table NAME`` and ``dmsetup status NAME``), each through ``/bin/sh -c``.

Both write OUT.json: how many devices they listed, how many of them are named PREFIX*, how
many came with a table and a status, the seconds spent importing and listing (inside this
process), so that the agent can check the listing is complete before it keeps a figure.
The shell strings are the seed's pattern under measurement; nothing in plugins/ runs one.
"""

import json
import subprocess
import sys
import time


def by_api(prefix):
    started = time.perf_counter()
    from sts.dm import DmDevice  # noqa: E402 pylint: disable=import-outside-toplevel,import-error
    imported = time.perf_counter()
    names, tables, statuses = [], 0, 0
    for device in DmDevice.get_all():
        names.append(device.dm_name)
        if device.table:
            tables += 1
        if device.get_status() is not None:
            statuses += 1
    return names, tables, statuses, imported - started, time.perf_counter() - imported


def _sh(command):
    proc = subprocess.run(command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: S602
                          universal_newlines=True, check=False)
    return proc.returncode, proc.stdout


def by_shell(prefix):
    started = time.perf_counter()
    names, tables, statuses = [], 0, 0
    rc, out = _sh('dmsetup ls')
    for line in out.splitlines() if rc == 0 else ():
        parts = line.split()
        if len(parts) < 2 or ':' not in parts[1]:
            continue
        name = parts[0]
        major, minor = parts[1].strip('()').split(':')
        rc, node = _sh('ls -l /dev/dm-* | grep "%s, *%s"' % (major, minor))
        if rc != 0 or not node.strip():
            continue
        names.append(name)
        rc, table = _sh('dmsetup table %s' % name)
        tables += rc == 0 and bool(table.strip())
        rc, status = _sh('dmsetup status %s' % name)
        statuses += rc == 0 and bool(status.strip())
    return names, tables, statuses, 0.0, time.perf_counter() - started


def main():
    mode, out, prefix = sys.argv[1:4]
    names, tables, statuses, import_s, list_s = (by_api if mode == 'api' else by_shell)(prefix)
    with open(out, 'w') as handle:
        json.dump(dict(devices=len(names), ours=sum(1 for n in names if n and n.startswith(prefix)),
                       tables=tables, statuses=statuses, import_s=round(import_s, 6), list_s=round(list_s, 6)),
                  handle)


if __name__ == '__main__':
    main()
