# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command layer: one declarative entry per ``dmsetup`` verb, argv lists only.

``VERBS`` maps a verb to its fixed argv head and to the flags each keyword turns on;
``build_argv(verb, name, **kw)`` makes the argv. A table never goes on the command line:
``create`` and ``load`` read it on stdin (``Dmsetup.call(..., table=Table)``), so a crypt key
never shows in a process list, a log or an error message.

``Dmsetup(run)`` runs argvs through ``run(argv, data=None) -> (rc, stdout, stderr)`` (the
module layer passes a wrapper of ``module.run_command``), records every argv it ran in
``commands`` (what a task result shows) and raises ``DmError`` carrying cmd, rc, stdout and
stderr when a verb fails. ``message()`` knows the kernel's answers the thin-pool helpers
need to be idempotent: ``File exists`` (EEXIST: the dev_id is there already) and ``No data
available`` (ENODATA: no such dev_id).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.table import validate_name, validate_uuid
from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError

DMSETUP = 'dmsetup'

# verb -> (argv after "dmsetup", {keyword: flags it adds when true, with {value} filled in}, takes stdin table);
# the device name goes where the head says {name}, else last
VERBS = {
    'create': (['create'], {'uuid': ['-u', '{value}'], 'readonly': ['--readonly'], 'notable': ['--notable']}, True),
    'load': (['load'], {'readonly': ['--readonly']}, True),
    'resume': (['resume'], {}, False),
    'suspend': (['suspend'], {'nolockfs': ['--nolockfs'], 'noflush': ['--noflush']}, False),
    'clear': (['clear'], {}, False),
    'remove': (['remove'], {'force': ['--force'], 'deferred': ['--deferred'], 'retry': ['--retry']}, False),
    # dmsetup rename NAME --setuuid UUID (--setuuid is a switch: the uuid is rename's second argument)
    'setuuid': (['rename', '{name}'], {'uuid': ['--setuuid', '{value}']}, False),
    'rename': (['rename', '{name}'], {'new_name': ['{value}']}, False),
    'mknodes': (['mknodes'], {}, False),
    'table': (['table'], {'showkeys': ['--showkeys']}, False),
    'status': (['status'], {}, False),
    'message': (['message'], {}, False),
}

# The kernel's errno text as dmsetup prints it ("device-mapper: message ioctl on pool  failed: File exists").
EEXIST = 'File exists'
ENODATA = 'No data available'


def build_argv(verb, name, **kw):
    """``build_argv('create', 'vol', uuid='X', readonly=True)`` -> ``['dmsetup', 'create', '-u', 'X', '--readonly', 'vol']``.

    For ``message`` give ``sector`` and ``words`` (the message and its arguments).
    """
    try:
        head, flags, _stdin = VERBS[verb]
    except KeyError:
        raise DmError('dmsetup verb %r: expected one of %s' % (verb, ', '.join(sorted(VERBS))))
    validate_name(name)
    argv = [DMSETUP] + [name if word == '{name}' else word for word in head]
    if verb == 'message':
        words = [str(w) for w in kw.pop('words', [])]
        if not words or any(not w or any(c.isspace() for c in w) for w in words):
            raise DmError('dm message %r: expected a message word and its arguments, none empty, none with spaces'
                          % ' '.join(words))
        sector = kw.pop('sector', 0)
        if isinstance(sector, bool) or not isinstance(sector, int) or sector < 0:
            raise DmError('dm message sector %r: expected a whole number >= 0' % (sector,))
        # '--': a message word may start with '-' (dmsetup would read it as an option)
        argv += ['--', name, str(sector)] + words
    for key, value in sorted(kw.items()):
        if key not in flags:
            raise DmError('dmsetup %s: unknown option %r; expected %s' % (verb, key, ', '.join(sorted(flags)) or 'none'))
        if value is None or value is False:
            continue
        if key == 'uuid':
            validate_uuid(value)
        elif key == 'new_name':
            validate_name(value)
        argv += [f.format(value=value) for f in flags[key]]
    if verb != 'message' and '{name}' not in head:
        argv.append(name)
    return argv


class Dmsetup(object):
    """Runs dmsetup verbs; remembers what it ran."""

    def __init__(self, run):
        self._run = run
        self.commands = []

    def run(self, argv, data=None, record=True):
        """Run an argv as it is; returns (rc, stdout, stderr); ``record``: list it in ``commands``."""
        if record:
            self.commands.append(list(argv))
        return self._run(list(argv), data)

    def try_call(self, verb, name, table=None, **kw):
        """Run a verb; returns (rc, stdout, stderr) whatever the rc. Reads (table, status) are not recorded."""
        argv = build_argv(verb, name, **kw)
        data = None
        if VERBS[verb][2]:
            if table is None:
                raise DmError('dmsetup %s %s: needs a table' % (verb, name))
            data = table.format()
        return self.run(argv, data, record=verb not in ('table', 'status'))

    def call(self, verb, name, table=None, **kw):
        """Run a verb; DmError with the kernel's message (stderr) when it fails; returns stdout."""
        rc, out, err = self.try_call(verb, name, table=table, **kw)
        if rc != 0:
            raise self.error(verb, name, rc, out, err)
        return out

    def error(self, verb, name, rc, out, err, prefix=None):
        argv = build_argv(verb, name) if verb != 'message' else [DMSETUP, 'message', name]
        msg = '%sdmsetup %s %s failed (rc %d): %s' % (prefix or '', verb, name, rc, kernel_message(err, out))
        return DmError(msg, cmd=argv, rc=rc, stdout=out, stderr=err)

    def message(self, name, words, sector=0):
        """Send a target message; returns (rc, stdout, stderr) for the caller to judge."""
        return self.try_call('message', name, words=words, sector=sector)

    def live_table_text(self, name):
        """The live table with any crypt key (``--showkeys``): kept in memory to restore it, never shown."""
        return self.call('table', name, showkeys=True)


def kernel_message(stderr, stdout=''):
    """The useful part of dmsetup's complaint: its stderr lines joined, or stdout when stderr is empty."""
    text = (stderr or '').strip() or (stdout or '').strip()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith('Command failed')]
    return '; '.join(lines) or 'no message'
