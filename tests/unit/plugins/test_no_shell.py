# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""No shell on a managed host: nothing under plugins/ runs a shell or builds a command line as
a string (issue 13, item 5).

A static read of every Python file under plugins/ (the AST, not a grep):
- no ``shell=True`` / ``use_unsafe_shell=True`` keyword, whatever it is passed to;
- no ``os.system``, ``os.popen``, ``subprocess.getoutput`` / ``getstatusoutput``,
  ``pty.spawn``, ``commands.*``;
- the command given to ``run_command`` or to a ``subprocess`` / ``os.spawn*`` / ``os.exec*``
  call is never a string made in place (a literal, an f-string, ``%`` or ``+`` of strings,
  ``' '.join(...)``, ``'...'.format(...)``), nor a local name bound to one.
Where the command is a parameter (the runners take ``argv``), the fakes of ``run_command`` in
the unit tests assert at run time that what reaches them is a list of strings
(``conftest.assert_argv``).
"""

import ast
import os

import pytest

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
PLUGINS = os.path.join(REPO, 'plugins')

SHELL_KEYWORDS = {'shell', 'use_unsafe_shell'}
SHELL_CALLS = {('os', 'system'), ('os', 'popen'), ('subprocess', 'getoutput'), ('subprocess', 'getstatusoutput'),
               ('pty', 'spawn'), ('commands', 'getoutput'), ('commands', 'getstatusoutput')}
RUNNERS = {'run_command', 'Popen', 'run', 'call', 'check_call', 'check_output'}
RUNNER_MODULES = {'subprocess'}


def _dotted(func):
    """('os', 'system') for os.system, (None, 'run_command') for x.y.run_command or run_command."""
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else None
        return owner, func.attr
    if isinstance(func, ast.Name):
        return None, func.id
    return None, None


def _stringy(node):
    """True when node makes a string in place: the shape of a command line built as text."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes))
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return _stringy(node.left) or _stringy(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ('join', 'format'):
        return _stringy(node.func.value)
    return False


def _is_runner(func):
    owner, name = _dotted(func)
    if name == 'run_command':
        return True
    if owner in RUNNER_MODULES and name in RUNNERS:
        return True
    return owner == 'os' and bool(name) and (name.startswith('spawn') or name.startswith('exec'))


def _bindings(scope):
    """name -> the values assigned to it anywhere in this function (or module)."""
    found = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.value)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Name) \
                and node.value is not None:
            found.setdefault(node.target.id, []).append(node.value)
    return found


def problems(source, filename='<source>'):
    """Every shell use or string command line in the source, as 'file:line: what'."""
    tree = ast.parse(source, filename)
    found = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    scopes = [tree] + functions
    # the line spans of every function, found once (not once per call: that made the scan quadratic)
    spans = [(n.lineno, n.end_lineno) for n in functions]
    runner_calls = 0
    for scope in scopes:
        names = _bindings(scope)
        body = scope.body
        for stmt in body:
            for node in ast.walk(stmt):
                if not isinstance(node, ast.Call):
                    continue
                # each call is looked at from its innermost function only
                if scope is tree and _inside_function(spans, node):
                    continue
                where = '%s:%d' % (filename, node.lineno)
                for keyword in node.keywords:
                    if keyword.arg in SHELL_KEYWORDS and not (isinstance(keyword.value, ast.Constant)
                                                              and keyword.value.value is False):
                        found.append('%s: %s=%s' % (where, keyword.arg, ast.unparse(keyword.value)))
                if _dotted(node.func) in SHELL_CALLS:
                    found.append('%s: %s runs a shell' % (where, ast.unparse(node.func)))
                if _is_runner(node.func) and node.args:
                    runner_calls += 1
                    command = node.args[0]
                    if _stringy(command):
                        found.append('%s: %s(%s): a command line built as a string'
                                     % (where, ast.unparse(node.func), ast.unparse(command)))
                    elif isinstance(command, ast.Name):
                        for value in names.get(command.id, []):
                            if _stringy(value):
                                found.append('%s: %s(%s): %s is bound to a string (%s)' % (
                                    where, ast.unparse(node.func), command.id, command.id, ast.unparse(value)))
    return found, runner_calls


def _inside_function(spans, call):
    return any(start <= call.lineno <= end for start, end in spans)


def _plugin_files():
    for root, _dirs, files in os.walk(PLUGINS):
        for name in sorted(files):
            if name.endswith('.py'):
                yield os.path.join(root, name)


def test_nothing_under_plugins_runs_a_shell():
    files = list(_plugin_files())
    found, calls = [], 0
    for path in files:
        with open(path) as handle:
            more, count = problems(handle.read(), os.path.relpath(path, REPO))
        found += more
        calls += count
    # the scan must have read the collection's code and met its runners (a scan of nothing passes nothing)
    assert len(files) >= 30, files
    assert calls >= 5, 'only %d run_command/subprocess calls found under plugins/' % calls
    assert not found, '\n'.join(found)


@pytest.mark.parametrize('snippet', [
    "module.run_command('dmsetup remove ' + name)",
    "module.run_command('dmsetup remove %s' % name)",
    "module.run_command(f'dmsetup remove {name}')",
    "module.run_command(' '.join(['dmsetup', 'remove', name]))",
    "module.run_command('dmsetup {}'.format(name))",
    "module.run_command(['dmsetup', 'remove', name], use_unsafe_shell=True)",
    "def f(name):\n    cmd = 'dmsetup remove ' + name\n    return module.run_command(cmd)",
    "def f(name):\n    cmd = ['dmsetup']\n    cmd = ' '.join(cmd + [name])\n    module.run_command(cmd)",
    "import subprocess\nsubprocess.run(['ls'], shell=True)",
    "import subprocess\nsubprocess.check_output('ls -l')",
    "import os\nos.system('dmsetup ls')",
    "import os\nos.popen('dmsetup ls')",
    "import subprocess\nsubprocess.getoutput('dmsetup ls')",
])
def test_the_check_finds_a_shell(snippet):
    found, _calls = problems(snippet)
    assert found, snippet


@pytest.mark.parametrize('snippet', [
    "module.run_command(['dmsetup', 'remove', name])",
    "def f(argv):\n    return module.run_command(argv, data=b'x', binary_data=True)",
    "def f(name):\n    cmd = ['dmsetup', 'remove', name]\n    cmd += ['--retry']\n    module.run_command(cmd)",
    "import subprocess\nsubprocess.run(['ls', path], shell=False, check=False)",
    "msg = 'dmsetup remove %s failed' % name",
])
def test_the_check_passes_argv_lists(snippet):
    assert problems(snippet)[0] == []
