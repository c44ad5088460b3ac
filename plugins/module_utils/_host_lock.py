# -*- coding: utf-8 -*-
# Copyright: contributors to sts.devicemapper
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One lock per host around every run that changes device-mapper state.

Two plays (or two ad-hoc runs) managing the same host at once would otherwise interleave
their discovery, create, load and remove calls: one run's clean-up could act on a device the
other had just made. Runs of the collection that change dm state take an exclusive ``flock``
on one file; a run that cannot have it within ``lock_timeout`` seconds fails before it reads
or changes anything, naming the holder. The kernel drops the lock when the holding process
dies, however it dies, so a killed run never leaves the host locked.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import os
import time

from ansible_collections.sts.devicemapper.plugins.module_utils._dm.targets import DmError

LOCK_NAME = 'sts-devicemapper.lock'
LOCK_DIRS = ('/run/lock', '/run', '/var/lock', '/tmp')
POLL_SECONDS = 0.2


def default_path():
    for directory in LOCK_DIRS:
        if os.path.isdir(directory) and os.access(directory, os.W_OK):
            return os.path.join(directory, LOCK_NAME)
    raise DmError('no writable directory for the host lock %s among %s' % (LOCK_NAME, ', '.join(LOCK_DIRS)))


def _holder(handle):
    """What the lock file says of its holder: 'pid N (what it runs)', or 'an unknown process'."""
    try:
        os.lseek(handle, 0, os.SEEK_SET)
        words = os.read(handle, 300).decode('utf-8', 'replace').split(None, 1)
        pid = int(words[0])
    except (OSError, ValueError, IndexError):
        return 'an unknown process'
    owner = words[1].strip() if len(words) > 1 else ''
    if not owner:
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as proc:
                owner = ' '.join(proc.read().decode('utf-8', 'replace').split('\0')).strip()
        except (IOError, OSError):
            owner = ''
    owner = ' '.join(owner.split())[:120]
    return 'pid %d%s' % (pid, ' (%s)' % owner if owner else '')


class HostLock(object):
    """``with HostLock(timeout):`` holds the host's lock; raises DmError after ``timeout`` seconds.

    ``owner``: what holds it, written after the pid for a waiter's message (a module's name).
    ``waited`` says how long it took to get it (seconds)."""

    def __init__(self, timeout, path=None, owner='', clock=time.monotonic, sleep=time.sleep):
        if timeout is None or timeout < 0:
            raise DmError('lock_timeout: expected 0 or more seconds, got %r' % (timeout,))
        self.timeout = timeout
        self.path = path
        self.owner = owner
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0
        self._fd = None

    def __enter__(self):
        path = self.path or default_path()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DmError('cannot open the host lock %s: %s' % (path, exc.strerror))
        started = self.clock()
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except (IOError, OSError) as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise DmError('cannot take the host lock %s: %s' % (path, exc.strerror))
                if self.clock() - started >= self.timeout:
                    raise DmError('the host lock %s has been held by %s for longer than lock_timeout=%s seconds '
                                  '(another run changing device-mapper state on this host); nothing was read or '
                                  'changed: try again when it has ended, or give lock_timeout more time'
                                  % (path, _holder(fd), self.timeout), lock=path)
                self.sleep(POLL_SECONDS)
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, ('%d %s\n' % (os.getpid(), ' '.join(str(self.owner).split()))).encode('utf-8'))
        except BaseException:
            os.close(fd)
            raise
        self.waited = self.clock() - started
        self._fd = fd
        return self

    def __exit__(self, *exc_info):
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing drops the flock
        return False
