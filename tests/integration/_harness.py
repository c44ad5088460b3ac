"""Drive modules on one managed host through Ansible; shared by the integration test
directories (tests/integration/dmpd, tests/integration/dm).

The collection's modules run through a module server (``ModuleServer``): one ``ansible-playbook``
run per host and test process, kept open, whose one task (the test-only action
``action_plugins/sts_it_serve.py``) runs each call over the task's connection exactly as a task
runs a module (the AnsiballZ payload, check and diff mode), and hands back the result as a
stdout callback sees it. What that saves is the controller's start per call: an ad-hoc
``ansible`` run costs this machine ~1.4 s of CPU, which the lab's TCG guests share. Builtin
modules, ``module(..., _adhoc=True)``, ``module_verbose`` and STS_DM_MODULE_SERVER=0 run one
ad-hoc ``ansible`` run per call, the way a user runs ``ansible -m sts.devicemapper.dm_target``
across a fleet; its result is read as JSON from the test-only stdout callback in
``callback_plugins/result_file.py``. ``batch`` runs many calls as the tasks of one playbook. The
collection must be installed where that ansible finds it (``make install``).

The tests' own probes and set-up commands (``command``, ``rc``, ``sha256``, ``exists``,
``upload``, ``mkdir``...: not what is under test) run their argv over one shared SSH connection
to the host (the inventory's address, port, user, key and ssh arguments; ControlMaster), or
directly on this machine without an inventory. A host that is not reached over SSH (another
connection plugin) gets those through ``ansible.builtin.command`` as before.

The host comes from the environment: ``STS_DM_INVENTORY`` (an inventory; unset: this machine,
connection local) and ``STS_DM_HOSTS`` (one host name or pattern matching one host).
"""

import atexit
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
CALLBACK_DIR = os.path.join(HERE, 'callback_plugins')


def _ansible_bin(tool='ansible'):
    local = os.path.join(os.path.dirname(sys.executable), tool)
    if tool == 'ansible':
        return os.environ.get('STS_DM_ANSIBLE', local if os.path.exists(local) else 'ansible')
    return local if os.path.exists(local) else tool


class ModuleFailed(AssertionError):
    """A module call that was expected to succeed failed; carries the result."""


def _env(out, playbook=False):
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_PIPELINING='True',
               ANSIBLE_NOCOLOR='1', ANSIBLE_DEPRECATION_WARNINGS='False',
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK='result_file',
               ANSIBLE_CALLBACK_PLUGINS=CALLBACK_DIR, STS_DM_RESULT_DIR=out)
    if playbook:
        env['STS_DM_RESULT_MODE'] = 'playbook'
    else:
        env.pop('STS_DM_RESULT_MODE', None)
    return env


def _timing(pattern, what, started):
    """With STS_DM_TIMING_LOG=path, append how long each ansible run took (tab-separated)."""
    log = os.environ.get('STS_DM_TIMING_LOG')
    if log:
        with open(log, 'a') as handle:
            test = os.environ.get('PYTEST_CURRENT_TEST', '').split(' ')[0]
            handle.write('%.2f\t%s\t%s\t%s\n' % (time.time() - started, pattern, what, test))


class PlaybookRun(object):
    """What one ``ansible-playbook`` run left: rc, recap per host, every task result, raw output."""

    def __init__(self, rc, stats, results, stdout, stderr, raw):
        self.rc = rc
        self.stats = stats
        self.results = results
        self.stdout = stdout
        self.stderr = stderr
        self.raw = raw


ACTION_DIR = os.path.join(HERE, 'action_plugins')


class ModuleServer(object):
    """One ``ansible-playbook`` run kept open for one host: its one task (the test-only action
    ``sts_it_serve``) runs each module call sent over a Unix socket over the task's connection,
    as a task runs a module. A call costs the module's own run, not a controller start.

    Set STS_DM_MODULE_SERVER=0 to run every call as its own ad-hoc ``ansible`` run instead."""

    START_TIMEOUT = 300

    def __init__(self, host):
        self.host = host
        self.proc = None
        self.conn = None
        self.stream = None
        self.dir = None
        self.output = []
        self._logs = []

    def _start(self):
        import socket  # pylint: disable=import-outside-toplevel
        self.dir = tempfile.mkdtemp(prefix='sts-dm-serve-')
        path = os.path.join(self.dir, 'socket')
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(2)
        play = [{'name': 'serve module calls', 'hosts': self.host.pattern, 'gather_facts': False,
                 'tasks': [{'name': 'serve', 'sts_it_serve': {'socket': path}}]}]
        playbook = os.path.join(self.dir, 'serve.yml')
        with open(playbook, 'w') as handle:
            json.dump(play, handle)
        out = os.path.join(self.dir, 'results')
        os.mkdir(out)
        env = dict(_env(out, playbook=True), ANSIBLE_ACTION_PLUGINS=ACTION_DIR)
        argv = [_ansible_bin('ansible-playbook'), playbook, '--limit', self.host.pattern] + self.host._inventory_args()
        self._logs = [open(os.path.join(self.dir, name), 'w+') for name in ('stdout', 'stderr')]
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=self._logs[0],
                                     stderr=self._logs[1], start_new_session=True)
        started = time.time()
        try:
            while True:
                try:
                    self.conn = listener.accept()[0]
                    break
                except socket.timeout:
                    if self.proc.poll() is not None or time.time() - started > self.START_TIMEOUT:
                        self.stop()
                        raise AssertionError('the module server for %s did not start: %s' % (
                            self.host.pattern, ''.join(self.output)[-3000:]))
        finally:
            listener.close()
        self.conn.settimeout(None)
        self.stream = self.conn.makefile('rwb')
        _timing(self.host.pattern, 'module server start', started)

    def call(self, module, args, check, diff, timeout):
        """The result of one module call with ``_status``; subprocess.TimeoutExpired after timeout
        seconds (the server is stopped then; the next call starts another)."""
        if self.proc is None:
            self._start()
        request = json.dumps({'module': module, 'args': args, 'check': check, 'diff': diff})
        self.conn.settimeout(timeout)
        try:
            self.stream.write(request.encode('utf-8') + b'\n')
            self.stream.flush()
            line = self.stream.readline()
        except OSError as error:  # socket.timeout is an OSError
            self.stop(kill=True)
            if 'timed out' in str(error):
                raise subprocess.TimeoutExpired(module, timeout)
            raise
        if not line:
            self.stop()
            raise AssertionError('the module server for %s ended during %s: %s' % (
                self.host.pattern, module, ''.join(self.output)[-3000:]))
        return line.decode('utf-8')

    def stop(self, kill=False):
        """End the server (a stop request, or SIGKILL to its process group); its output goes to
        ``output`` (and into the host's transcript)."""
        if self.proc is None:
            return
        import signal  # pylint: disable=import-outside-toplevel
        if self.stream is not None and not kill:
            try:
                self.stream.write(b'{"stop": true}\n')
                self.stream.flush()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=0 if kill else 60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for closing in (self.stream, self.conn):
            if closing is not None:
                try:
                    closing.close()
                except OSError:
                    pass
        for log in self._logs:
            log.seek(0)
            self.output.append(log.read())
            log.close()
        self.host._record(*self.output[-2:])
        shutil.rmtree(self.dir, ignore_errors=True)
        self.proc = self.conn = self.stream = None


class TargetHost(object):
    """One managed host, driven through ad-hoc ``ansible`` calls.

    ``transcript``: when a list, every call appends the raw text it produced (result JSON,
    ansible's stdout and stderr), for tests that search all output (a secret must never show).
    """

    def __init__(self, pattern, inventory):
        self.pattern = pattern
        self.inventory = inventory
        self.workdir = None
        self.transcript = None
        self._direct = None
        self._server = None
        self._server_lock = threading.Lock()

    def _direct_argv(self):
        """The argv prefix that runs a command on the host without Ansible; [] for this machine,
        None when the host is reached by something other than SSH."""
        if self._direct is not None:
            return self._direct or None
        if not self.inventory:
            self._direct = []
            return self._direct
        proc = subprocess.run([_ansible_bin('ansible-inventory'), '-i', self.inventory, '--host', self.pattern],
                              capture_output=True, text=True, check=False)
        hostvars = json.loads(proc.stdout) if proc.returncode == 0 else {}
        if hostvars.get('ansible_connection', 'ssh') not in ('ssh', 'smart') or 'ansible_host' not in hostvars:
            self._direct = False
            return None
        control = tempfile.mkdtemp(prefix='sts-dm-ssh-')
        argv = ['ssh', '-o', 'BatchMode=yes', '-o', 'ControlMaster=auto', '-o', 'ControlPersist=10m',
                '-o', 'ControlPath=%s' % os.path.join(control, 'master')]
        argv += shlex.split(hostvars.get('ansible_ssh_common_args', ''))
        if hostvars.get('ansible_ssh_private_key_file'):
            argv += ['-i', hostvars['ansible_ssh_private_key_file']]
        if hostvars.get('ansible_port'):
            argv += ['-p', str(hostvars['ansible_port'])]
        target = hostvars['ansible_host']
        if hostvars.get('ansible_user'):
            target = '%s@%s' % (hostvars['ansible_user'], target)
        self._direct = argv + [target, '--']

        def close():
            subprocess.run(argv + ['-O', 'exit', target], capture_output=True, check=False)
            shutil.rmtree(control, ignore_errors=True)
        atexit.register(close)
        return self._direct

    def run(self, argv, expect_failure=False, timeout=900):
        """Run argv on the host (a test's probe or set-up, not a module under test); returns
        rc, stdout, stderr (and argv) like ``ansible.builtin.command``. The test fails when
        rc != 0 is not what ``expect_failure`` says (None accepts either)."""
        prefix = self._direct_argv()
        if prefix is None:
            return self.module('ansible.builtin.command', expect_failure=expect_failure, argv=list(argv))
        # ssh hands the remote side one string for its login shell: every word quoted
        command = prefix + [shlex.join(argv)] if prefix else list(argv)
        started = time.time()
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
        _timing(self.pattern, 'run ' + os.path.basename(argv[0]), started)
        if prefix and proc.returncode == 255:
            raise AssertionError('ssh to %s failed (rc 255) running %s: %s' % (self.pattern, argv, proc.stderr.strip()))
        self._record(proc.stdout, proc.stderr)
        result = {'argv': list(argv), 'rc': proc.returncode, 'stdout': proc.stdout.rstrip('\n'),
                  'stderr': proc.stderr.rstrip('\n')}
        if expect_failure is not None and (proc.returncode != 0) != expect_failure:
            raise ModuleFailed('%s: expected %s, got rc %d\nstdout: %s\nstderr: %s' % (
                argv, 'failure' if expect_failure else 'success', proc.returncode,
                proc.stdout[-2000:], proc.stderr[-2000:]))
        return result

    @classmethod
    def from_env(cls, default_pattern='localhost'):
        return cls(os.environ.get('STS_DM_HOSTS', default_pattern), os.environ.get('STS_DM_INVENTORY'))

    def _inventory_args(self):
        if self.inventory:
            return ['-i', self.inventory]
        return ['-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=/usr/bin/python3']

    def _argv(self, module, args, check, diff):
        argv = [_ansible_bin(), self.pattern, '-m', module] + (['-a', json.dumps(args)] if args else [])
        argv += self._inventory_args()
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        return argv

    def _record(self, *texts):
        if self.transcript is not None:
            self.transcript.extend(t for t in texts if t)

    def module(self, _module, check=False, diff=False, expect_failure=False, _timeout=900, _adhoc=False, **args):
        """Run a module once; return its result dict.

        The collection's modules run through the host's module server (``ModuleServer``: one
        ``ansible-playbook`` kept open, each call a task's module run over its connection);
        ``_adhoc=True``, a builtin module or STS_DM_MODULE_SERVER=0: one ad-hoc ``ansible`` run.

        ``_module``: a FQCN, or a short name in sts.devicemapper. The test fails when the module's
        success or failure is not what ``expect_failure`` says (None accepts either).
        ``_timeout``: seconds before the ansible run is killed (subprocess.TimeoutExpired)."""
        module = _module if '.' in _module else 'sts.devicemapper.' + _module
        if not _adhoc and module.startswith('sts.devicemapper.') and os.environ.get('STS_DM_MODULE_SERVER') != '0' \
                and self._server_lock.acquire(blocking=False):
            # the collection's modules through the module server (one at a time: a call made while
            # another thread's is running goes ad-hoc); builtins (action plugins among them) ad-hoc
            try:
                if self._server is None:
                    self._server = ModuleServer(self)
                    atexit.register(self._server.stop)
                started = time.time()
                text = self._server.call(module, args, check, diff, _timeout)
                _timing(self.pattern, module, started)
            finally:
                self._server_lock.release()
            result = json.loads(text)
            self._record(text)
            return self._checked(module, args, result, expect_failure)
        out = tempfile.mkdtemp(prefix='sts-dm-result-')
        try:
            started = time.time()
            proc = subprocess.run(self._argv(module, args, check, diff), capture_output=True,
                                  text=True, env=_env(out), timeout=_timeout, check=False)
            _timing(self.pattern, module, started)
            files = os.listdir(out)
            if len(files) != 1:
                raise AssertionError('expected one host result from %s, got %s\nstdout: %s\nstderr: %s'
                                     % (module, files, proc.stdout, proc.stderr))
            with open(os.path.join(out, files[0])) as handle:
                text = handle.read()
            result = json.loads(text)
            self._record(text, proc.stdout, proc.stderr)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return self._checked(module, args, result, expect_failure)

    def close(self):
        """Stop the module server, if one runs (its output goes into the transcript)."""
        if self._server is not None:
            self._server.stop()

    def _checked(self, module, args, result, expect_failure):
        status = result.pop('_status')
        if status == 'unreachable':
            raise AssertionError('%s is unreachable: %s' % (self.pattern, result.get('msg')))
        failed = status == 'failed'
        if expect_failure is not None and failed != expect_failure:
            raise ModuleFailed('%s %s: expected %s, got %s\nmsg: %s\n%s' % (
                module, json.dumps(args)[:300], 'failure' if expect_failure else 'success', status,
                result.get('msg'), json.dumps(result, indent=1, sort_keys=True)[:4000]))
        return result

    def module_verbose(self, _module, check=False, diff=False, **args):
        """Run a module once as a user reading ``-vvv`` does: ansible's default stdout callback at
        verbosity 3 (the connection's commands, the module's raw output and whole result), with
        the module's invocation (its arguments) in the result (ansible-core 2.19+ adds it only with
        INJECT_INVOCATION), not the test callback. Returns (rc, stdout, stderr); both texts go into
        the transcript."""
        module = _module if '.' in _module else 'sts.devicemapper.' + _module
        env = dict(_env(tempfile.gettempdir()), ANSIBLE_STDOUT_CALLBACK='ansible.builtin.default',
                   ANSIBLE_INJECT_INVOCATION='True')
        started = time.time()
        proc = subprocess.run(self._argv(module, args, check, diff) + ['-vvv'], capture_output=True, text=True,
                              env=env, timeout=900, check=False)
        _timing(self.pattern, module + ' -vvv', started)
        self._record(proc.stdout, proc.stderr)
        return proc.returncode, proc.stdout, proc.stderr

    def playbook(self, path, extra_vars=None, tags=None, check=False, diff=False):
        """Run a playbook limited to this host; returns a PlaybookRun (never fails by itself)."""
        out = tempfile.mkdtemp(prefix='sts-dm-playbook-')
        argv = [_ansible_bin('ansible-playbook'), path, '--limit', self.pattern] + self._inventory_args()
        if extra_vars:
            argv += ['-e', json.dumps(extra_vars)]
        if tags:
            argv += ['--tags', ','.join(tags)]
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        try:
            started = time.time()
            proc = subprocess.run(argv, capture_output=True, text=True, env=_env(out, playbook=True),
                                  timeout=3600, check=False)
            _timing(self.pattern, 'ansible-playbook ' + os.path.basename(path), started)
            stats, results, raw = {}, [], []
            for name in sorted(os.listdir(out)):
                with open(os.path.join(out, name)) as handle:
                    text = handle.read()
                raw.append(text)
                if name == '_stats.json':
                    stats = json.loads(text)
                else:
                    results.extend(json.loads(line) for line in text.splitlines() if line.strip())
            self._record(*(raw + [proc.stdout, proc.stderr]))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return PlaybookRun(proc.returncode, stats, results, proc.stdout, proc.stderr, raw)

    def batch(self, calls):
        """Run module calls as the tasks of one generated playbook (one ``ansible-playbook`` start
        for all: each ad-hoc run costs the controller its own start); returns one result per call,
        in order, each with ``_status`` (ok, failed, skipped). A call: ``{'module': FQCN or short
        name, 'args': {...}}`` with optional ``check`` and ``diff``. Every call runs, whatever the
        others did (``ignore_errors``)."""
        tasks = []
        for index, call in enumerate(calls):
            module = call['module'] if '.' in call['module'] else 'sts.devicemapper.' + call['module']
            tasks.append({'name': 'call %d' % index, module: call.get('args') or {}, 'ignore_errors': True,
                          'check_mode': bool(call.get('check')), 'diff': bool(call.get('diff'))})
        play = [{'name': 'batch', 'hosts': self.pattern, 'gather_facts': False, 'tasks': tasks}]
        with tempfile.NamedTemporaryFile('w', prefix='sts-dm-batch-', suffix='.yml', delete=False) as handle:
            json.dump(play, handle)
        try:
            run = self.playbook(handle.name)
        finally:
            os.unlink(handle.name)
        by_task = dict((r.get('_task'), r) for r in run.results)
        results = []
        for index in range(len(calls)):
            result = by_task.get('call %d' % index)
            if result is None:
                raise AssertionError('batch call %d (%s) left no result (rc %d)\nstdout: %s\nstderr: %s' % (
                    index, calls[index]['module'], run.rc, run.stdout[-2000:], run.stderr[-2000:]))
            if result['_status'] == 'unreachable':
                raise AssertionError('%s is unreachable: %s' % (self.pattern, result.get('msg')))
            results.append(result)
        return results

    def upload(self, local, remote, mode='0600'):
        """Copy a local file to a path on the host; over the shared SSH connection (``dd`` reading
        its standard input) when there is one, else with ansible.builtin.copy. Returns the path."""
        prefix = self._direct_argv()
        if prefix is None:
            self.module('ansible.builtin.copy', src=local, dest=remote, mode=mode)
            return remote
        if not prefix:
            shutil.copyfile(local, remote)
            os.chmod(remote, int(mode, 8))
            return remote
        started = time.time()
        with open(local, 'rb') as handle:
            proc = subprocess.run(prefix + [shlex.join(['dd', 'of=' + remote, 'bs=1M', 'status=none'])],
                                  stdin=handle, capture_output=True, timeout=900, check=False)
        _timing(self.pattern, 'upload ' + os.path.basename(local), started)
        if proc.returncode != 0:
            raise AssertionError('uploading %s to %s:%s failed (rc %d): %s' % (
                local, self.pattern, remote, proc.returncode, proc.stderr.decode('utf-8', 'replace')))
        self.run(['chmod', mode, remote])
        return remote

    def write(self, remote, text, mode='0600'):
        """Write text into a file on the host (``upload`` of a local copy); returns the path."""
        with tempfile.NamedTemporaryFile('w', prefix='sts-dm-write-', delete=False) as handle:
            handle.write(text)
        try:
            return self.upload(handle.name, remote, mode=mode)
        finally:
            os.unlink(handle.name)

    def edit(self, src, dest, old, new):
        """Copy a text file on the host to dest with ``old`` (which must be there) replaced by ``new``."""
        text = self.run(['cat', '--', src])['stdout']
        assert old in text, '%r is not in %s on %s' % (old, src, self.pattern)
        return self.write(dest, text.replace(old, new) + '\n')

    def mkdtemp(self, prefix):
        """A new directory (mode 0700) in the host's temporary directory; returns its path."""
        return self.run(['mktemp', '-d', '-t', prefix + 'XXXXXXXX'])['stdout'].strip()

    def mkdir(self, path, mode='0700'):
        self.run(['mkdir', '-m', mode, '--', path])
        return path

    def remove(self, path):
        """Remove a file or a directory tree on the host (nothing there is fine)."""
        self.run(['rm', '-rf', '--', path])

    def mode(self, path):
        """The permission bits of a file on the host as four octal digits ('0600')."""
        return '%04o' % int(self.run(['stat', '-c', '%a', '--', path])['stdout'].strip(), 8)

    def size(self, path):
        return int(self.run(['stat', '-c', '%s', '--', path])['stdout'].strip())

    def script(self, local, *args):
        """Copy a local Python script into the work directory and run it there with args; returns
        rc, stdout, stderr (see ``run``; the test fails on rc != 0)."""
        remote = self.path(os.path.basename(local))
        if not self.exists(remote):
            self.upload(local, remote, mode='0700')
        return self.run(['python3', remote] + list(args))

    def command(self, *argv, **kwargs):
        """Run argv on the host (see ``run``); returns rc, stdout, stderr."""
        return self.run(argv, expect_failure=kwargs.get('expect_failure', False))

    def rc(self, *argv):
        """Exit code of argv on the host, whatever it is."""
        return self.run(argv, expect_failure=None)['rc']

    def put(self, local, name):
        """Copy a local file into the work directory; returns its path there."""
        return self.upload(local, self.path(name))

    def path(self, name):
        return os.path.join(self.workdir, name)

    def sha256(self, path):
        """sha256 of a file on the host; None when there is no such file."""
        result = self.run(['sha256sum', '--', path], expect_failure=None)
        if result['rc'] != 0:
            if not self.exists(path):
                return None
            raise AssertionError('sha256sum %s on %s: %s' % (path, self.pattern, result['stderr']))
        return result['stdout'].split()[0]

    def exists(self, path):
        return self.run(['test', '-e', path], expect_failure=None)['rc'] == 0
