"""Lab guests only: a bytecode cache for Python modules imported from a zip archive.

Ansible sends every module run its payload as a new zip (module_utils included) and Python's
zipimport compiles each ``.py`` it imports from a zip on every run, twice (for the file name,
then for the code): on a TCG guest that is ~2-3 s of CPU per module run (ansible-core's
basic.py and its helpers, and ours), about half of a run. ``lab/lab.py up`` installs this file and a ``.pth`` that imports it into
each guest's site-packages (``LAB_PYCACHE=0``: not installed); every python3 on the guest then
keeps what zipimport compiles in CACHE, keyed by the Python version, the file's path inside the
archive and its source bytes, and loads it from there the next time. The code runs exactly as
compiled from that source; only its file name is set to this run's archive (tracebacks name
the file they came from). Any failure falls back to compiling, as without the cache.
"""

import os
import sys
import zipimport

CACHE = '/var/cache/sts-lab-pycache'
_COMPILE = getattr(zipimport, '_compile_source', None)


def _retarget(code, filename):
    """``code`` and every code object nested in it, with ``co_filename`` set to ``filename``."""
    consts = tuple(_retarget(const, filename) if isinstance(const, type(code)) else const
                   for const in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def cache_key(pathname, source):
    """The cache file name of ``source`` found at ``pathname`` (ARCHIVE.zip/INNER/PATH.py)."""
    import hashlib  # only module runs pay for it (ansible's basic imports it anyway)
    inner = pathname.rsplit('.zip' + os.sep, 1)[-1]
    digest = hashlib.sha256()
    for part in (sys.version.encode(), inner.encode('utf-8', 'surrogateescape'), source):
        digest.update(b'%d:' % len(part))
        digest.update(part)
    return digest.hexdigest()


def compile_cached(pathname, source):
    """zipimport's ``_compile_source(pathname, source)``, through the cache."""
    import marshal
    path = os.path.join(CACHE, cache_key(pathname, source))
    try:
        with open(path, 'rb') as handle:
            code = marshal.load(handle)
        return _retarget(code, pathname)
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = _COMPILE(pathname, source)
    try:
        os.makedirs(CACHE, mode=0o700, exist_ok=True)
        partial = '%s.%d.part' % (path, os.getpid())
        with open(partial, 'wb') as handle:
            marshal.dump(code, handle)
        os.replace(partial, path)
    except (OSError, ValueError):
        pass
    return code


def install():
    """Route zipimport's compiling through the cache (nothing when this Python has no such hook)."""
    if _COMPILE is not None and zipimport._compile_source is _COMPILE:  # pylint: disable=protected-access
        zipimport._compile_source = compile_cached  # pylint: disable=protected-access


install()
