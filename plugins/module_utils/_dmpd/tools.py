# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command layer for the persistent-data tools (thin-provisioning-tools).

One declarative entry per tool: its options with their kinds and the tool
generations that accept them, where its input and output go, and what its exit
codes mean. Argv is always built as a list; nothing here goes through a shell.

Two generations exist in the field: 0.9.x (C++) and 1.x (Rust). They differ in
options and in exit codes (0.9: 1 on any error; 1.x: 64 on runtime errors,
2 on usage errors).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

GEN_09 = '0.9'
GEN_1 = '1'
BOTH = (GEN_09, GEN_1)
ONLY_1 = (GEN_1,)

FAMILIES = ('thin', 'cache', 'era')

# What an exit code means, per generation. 0.9 says 1 for everything that went
# wrong, so a usage error cannot be told apart from damaged metadata there;
# argv built from the table below never carries an option the tool lacks.
EXIT_CODES = {
    GEN_09: {0: 'ok', 1: 'error'},
    GEN_1: {0: 'ok', 2: 'usage', 64: 'error'},
}


class DmpdError(Exception):
    """A failure to report to the user; ``details`` go into the task result."""

    def __init__(self, msg, **details):
        super(DmpdError, self).__init__(msg)
        self.msg = msg
        self.details = details


class Option(object):
    """One option of one tool.

    kind: ``flag`` (a bool that becomes a bare flag), ``int``, ``str``, ``path``,
    ``choice``, ``flag_or_int`` (True gives the bare flag, an int gives
    ``--flag=N``, the one spelling getopt and clap both take for an optional value),
    or ``snap_root`` (the held metadata root: 0.9 takes only the bare flag and
    reads the root from the superblock, 1.x requires ``--flag=N``).
    """

    __slots__ = ('flag', 'kind', 'gens', 'choices', 'positional')

    def __init__(self, flag, kind='flag', gens=BOTH, choices=None, positional=False):
        self.flag = flag
        self.kind = kind
        self.gens = gens
        self.choices = choices
        self.positional = positional


class Tool(object):
    """One tool: family, verb, the generations that ship it, and its options by key."""

    __slots__ = ('name', 'family', 'verb', 'gens', 'options')

    def __init__(self, name, gens=BOTH, **options):
        self.name = name
        self.family, self.verb = name.split('_', 1)
        self.gens = gens
        self.options = options


def _pos():
    return Option(None, 'path', positional=True)


_QUIET = Option('--quiet')
_QUIET_1 = Option('--quiet', gens=ONLY_1)
_IN = Option('--input', 'path')
_OUT = Option('--output', 'path')
_THIN_OVERRIDES = dict(
    transaction_id=Option('--transaction-id', 'int'),
    data_block_size=Option('--data-block-size', 'int'),
    nr_data_blocks=Option('--nr-data-blocks', 'int'),
)

TOOLS = dict((t.name, t) for t in (
    Tool('thin_check', input=_pos(), quiet=_QUIET,
         metadata_snap=Option('--metadata-snap'),
         auto_repair=Option('--auto-repair'),
         clear_needs_check_flag=Option('--clear-needs-check-flag'),
         ignore_non_fatal_errors=Option('--ignore-non-fatal-errors'),
         skip_mappings=Option('--skip-mappings'),
         super_block_only=Option('--super-block-only'),
         override_mapping_root=Option('--override-mapping-root', 'int'),
         override_details_root=Option('--override-details-root', 'int', gens=ONLY_1)),
    Tool('thin_dump', input=_pos(), output=Option('-o', 'path'), quiet=_QUIET_1,
         format=Option('--format', 'choice', choices=('xml', 'human_readable')),
         repair=Option('--repair'),
         metadata_snap=Option('--metadata-snap', 'flag_or_int'),
         dev_id=Option('--dev-id', 'int'),
         skip_mappings=Option('--skip-mappings'),
         transaction_id=Option('--transaction-id', 'int', gens=ONLY_1),
         data_block_size=Option('--data-block-size', 'int', gens=ONLY_1),
         nr_data_blocks=Option('--nr-data-blocks', 'int', gens=ONLY_1)),
    Tool('thin_restore', input=_IN, output=_OUT, quiet=_QUIET, **_THIN_OVERRIDES),
    Tool('thin_repair', input=_IN, output=_OUT, quiet=_QUIET_1, **_THIN_OVERRIDES),
    Tool('thin_ls', input=_pos(),
         metadata_snap=Option('--metadata-snap'),
         no_headers=Option('--no-headers'),
         format=Option('--format', 'str')),
    Tool('thin_delta', input=_pos(),
         thin1=Option('--thin1', 'int'), thin2=Option('--thin2', 'int'),
         metadata_snap=Option('--metadata-snap'),
         verbose=Option('--verbose')),
    Tool('thin_trim', quiet=_QUIET_1,
         metadata_dev=Option('--metadata-dev', 'path'),
         data_dev=Option('--data-dev', 'path')),
    Tool('thin_metadata_size',
         block_size=Option('--block-size', 'str'),
         pool_size=Option('--pool-size', 'str'),
         max_thins=Option('--max-thins', 'int'),
         unit=Option('--unit', 'choice', choices=('b', 's', 'k', 'm', 'g')),
         numeric_only=Option('--numeric-only')),
    Tool('cache_check', input=_pos(), quiet=_QUIET,
         super_block_only=Option('--super-block-only'),
         skip_mappings=Option('--skip-mappings'),
         skip_hints=Option('--skip-hints'),
         skip_discards=Option('--skip-discards'),
         clear_needs_check_flag=Option('--clear-needs-check-flag'),
         auto_repair=Option('--auto-repair', gens=ONLY_1),
         ignore_non_fatal_errors=Option('--ignore-non-fatal-errors', gens=ONLY_1)),
    Tool('cache_dump', input=_pos(), output=Option('-o', 'path'),
         repair=Option('--repair')),
    Tool('cache_restore', input=_IN, output=_OUT, quiet=_QUIET,
         metadata_version=Option('--metadata-version', 'choice', choices=('1', '2')),
         omit_clean_shutdown=Option('--omit-clean-shutdown')),
    Tool('cache_repair', input=_IN, output=_OUT, quiet=_QUIET_1),
    Tool('cache_metadata_size',
         block_size=Option('--block-size', 'int'),
         device_size=Option('--device-size', 'int'),
         nr_blocks=Option('--nr-blocks', 'int'),
         max_hint_width=Option('--max-hint-width', 'int')),
    Tool('era_check', input=_pos(), quiet=_QUIET,
         super_block_only=Option('--super-block-only'),
         ignore_non_fatal_errors=Option('--ignore-non-fatal-errors', gens=ONLY_1)),
    Tool('era_dump', input=_pos(), output=Option('-o', 'path'),
         repair=Option('--repair'),
         logical=Option('--logical')),
    Tool('era_invalidate', input=_pos(), output=Option('-o', 'path'),
         written_since=Option('--written-since', 'int'),
         metadata_snapshot=Option('--metadata-snapshot', 'snap_root')),
    Tool('era_restore', input=_IN, output=_OUT, quiet=_QUIET),
    Tool('era_repair', gens=ONLY_1, input=_IN, output=_OUT, quiet=_QUIET),
))


class ToolVersion(object):
    """The installed tools' version, e.g. ``0.9.0`` (generation ``0.9``) or ``1.1.0`` (``1``)."""

    def __init__(self, text):
        match = re.search(r'(\d+)\.(\d+)\.(\d+)', text or '')
        if not match:
            raise DmpdError('cannot read a thin-provisioning-tools version from %r; expected '
                            'something like 0.9.0 or 1.1.0' % (text,))
        self.text = match.group(0)
        self.parts = tuple(int(p) for p in match.groups())
        self.generation = GEN_09 if self.parts[0] == 0 else GEN_1

    def __str__(self):
        return self.text


def tool_for(family, verb):
    """The table entry for ``<family>_<verb>``; fails naming what exists."""
    name = '%s_%s' % (family, verb)
    if name not in TOOLS:
        raise DmpdError('there is no %s tool for %s metadata; %s metadata has: %s'
                        % (verb, family, family,
                           ', '.join(sorted(n for n in TOOLS if n.startswith(family + '_')))))
    return TOOLS[name]


def build_argv(tool_name, version, options):
    """Argv (without the executable) for ``tool_name`` with ``options``.

    ``options`` maps option keys of the table to values; None and False are left out.
    An option the installed generation lacks, or that the tool does not have,
    fails with a message naming the option, the tool and the version.
    """
    tool = TOOLS[tool_name]
    if version.generation not in tool.gens:
        raise DmpdError('%s is not available in thin-provisioning-tools %s; it needs 1.x'
                        % (tool_name, version))
    argv = []
    positional = []
    for key in sorted(options):
        value = options[key]
        if value is None or value is False:
            continue
        opt = tool.options.get(key)
        if opt is None:
            raise DmpdError('%s has no option %r; it takes: %s'
                            % (tool_name, key, ', '.join(sorted(tool.options))))
        if version.generation not in opt.gens:
            raise DmpdError('option %s (%s) of %s needs thin-provisioning-tools 1.x; this host has %s'
                            % (key, opt.flag, tool_name, version), option=key, tool=tool_name,
                            tool_version=str(version))
        if opt.positional:
            positional.append(str(value))
        elif opt.kind == 'flag':
            if value is not True:
                raise DmpdError('option %s of %s is a switch; expected true or false, got %r'
                                % (key, tool_name, value))
            argv.append(opt.flag)
        elif opt.kind == 'snap_root':
            argv.append(_snap_root(tool_name, key, opt, version, value))
        elif opt.kind == 'flag_or_int':
            argv.append(opt.flag if value is True else '%s=%d' % (opt.flag, _as_int(tool_name, key, value)))
        elif opt.kind == 'int':
            argv.extend([opt.flag, str(_as_int(tool_name, key, value))])
        elif opt.kind == 'choice':
            if str(value) not in opt.choices:
                raise DmpdError('option %s of %s: %r is not one of %s'
                                % (key, tool_name, value, ', '.join(opt.choices)))
            argv.extend([opt.flag, str(value)])
        else:
            argv.extend([opt.flag, str(value)])
    return argv + positional


def _snap_root(tool_name, key, opt, version, value):
    if version.generation == GEN_09:
        if value is not True:
            _as_int(tool_name, key, value)
        return opt.flag
    if value is True:
        raise DmpdError('option %s (%s) of %s needs the held metadata root on thin-provisioning-tools %s '
                        '(the number dmsetup status shows once reserve_metadata_snap was sent); got true'
                        % (key, opt.flag, tool_name, version), option=key, tool=tool_name,
                        tool_version=str(version))
    return '%s=%d' % (opt.flag, _as_int(tool_name, key, value))


def _as_int(tool_name, key, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DmpdError('option %s of %s: %r is not a whole number >= 0' % (key, tool_name, value))
    return value


def outcome(version, rc):
    """What ``rc`` means for this generation: ok, error, usage or unexpected."""
    return EXIT_CODES[version.generation].get(rc, 'unexpected')


class ToolResult(object):
    """One finished run of a tool."""

    def __init__(self, cmd, rc, stdout, stderr, version):
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout or ''
        self.stderr = stderr or ''
        self.outcome = outcome(version, rc)

    @property
    def ok(self):
        return self.rc == 0

    def as_dict(self):
        return dict(cmd=self.cmd, rc=self.rc, stdout=self.stdout, stderr=self.stderr)


class Dmpd(object):
    """Runs the tools on one host through ``module.run_command`` with argv lists."""

    def __init__(self, module):
        self.module = module
        self._version = None
        self._executables = {}
        self._guard = None

    @property
    def guard(self):
        """``setpriv --pdeathsig KILL``: the argv prefix that makes a tool die with the module
        process (a SIGKILLed module must not leave thin_restore writing on), where this host's
        setpriv has that option (util-linux 2.33+: one probe per module run); else []."""
        if self._guard is None:
            self._guard = []
            setpriv = self.module.get_bin_path('setpriv')
            if setpriv:
                probe = [setpriv, '--pdeathsig', 'KILL', '--', 'true']
                rc, _out, _err = self.module.run_command(probe)
                if rc == 0:
                    self._guard = probe[:-1]
        return self._guard

    def _run(self, cmd, data=None):
        """run_command of a tool's argv behind the guard; results keep the tool's own argv."""
        if data is None:
            return self.module.run_command(self.guard + cmd)
        return self.module.run_command(self.guard + cmd, data=data, binary_data=True)

    def executable(self, tool_name):
        """Argv prefix for a tool: its own binary, or ``pdata_tools <tool>`` when only that exists."""
        if tool_name not in self._executables:
            path = self.module.get_bin_path(tool_name, opt_dirs=['/usr/sbin', '/sbin'])
            if path:
                self._executables[tool_name] = [path]
            else:
                pdata = self.module.get_bin_path('pdata_tools', opt_dirs=['/usr/sbin', '/sbin'])
                if pdata and tool_name != 'thin_check':
                    self._executables[tool_name] = [pdata, tool_name]
                else:
                    raise DmpdError('%s is not installed on this host: install thin-provisioning-tools'
                                    % tool_name)
        return self._executables[tool_name]

    @property
    def version(self):
        """The installed generation, read once per module run from ``thin_check -V``."""
        if self._version is None:
            cmd = self.executable('thin_check') + ['-V']
            rc, out, err = self._run(cmd)
            if rc != 0:
                raise DmpdError('%s failed (rc=%d): %s' % (' '.join(cmd), rc, (err or out).strip()),
                                cmd=cmd, rc=rc, stdout=out, stderr=err)
            self._version = ToolVersion(out or err)
        return self._version

    def argv(self, tool_name, **options):
        tail = build_argv(tool_name, self.version, options)
        return self.executable(tool_name) + tail

    def run(self, tool_name, data=None, **options):
        """Run a tool; returns a ToolResult whatever the exit code."""
        cmd = self.argv(tool_name, **options)
        rc, out, err = self._run(cmd, data)
        return ToolResult(cmd, rc, out, err, self.version)

    def run_ok(self, tool_name, what=None, **options):
        """Run a tool and fail with cmd, rc, stdout and stderr unless it exits 0."""
        result = self.run(tool_name, **options)
        if not result.ok:
            message = (result.stderr or result.stdout).strip().splitlines()
            summary = ' / '.join(message[-5:]) or 'no output'
            outcome = result.outcome
            if result.rc < 0:
                # the tool did not exit: a signal ended it (run_command gives -N)
                outcome = 'killed by signal %d%s: the tool crashed or was killed' % (
                    -result.rc, ' (SIGSEGV)' if result.rc == -11 else '')
            raise DmpdError('%s failed (rc=%d, %s): %s' % (what or tool_name, result.rc, outcome, summary),
                            **result.as_dict())
        return result
