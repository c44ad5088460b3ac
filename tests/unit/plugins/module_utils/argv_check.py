# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every fake ``run_command`` of the unit tests checks first: the command is an argv list
of strings, never a command line (see tests/unit/plugins/test_no_shell.py)."""


def assert_argv(argv):
    """Fail unless argv is a non-empty list of str (a tuple too); returns it."""
    if not isinstance(argv, (list, tuple)) or not argv:
        raise AssertionError('run_command got %r: an argv list was expected' % (argv,))
    bad = [a for a in argv if not isinstance(a, str)]
    if bad:
        raise AssertionError('run_command got argv %r with non-string items %r' % (argv, bad))
    if ' ' in argv[0] or '/' in argv[0] and not argv[0].startswith('/'):
        raise AssertionError('run_command got program %r: a command line, not a program path' % argv[0])
    return argv


def positional(argv):
    """argv without the ``--`` that ends dmsetup's options in ``dmsetup message -- NAME SECTOR ...``,
    for fakes that read the name and words by position."""
    argv = list(argv)
    if len(argv) > 2 and argv[1] == 'message' and argv[2] == '--':
        del argv[2]
    return argv
