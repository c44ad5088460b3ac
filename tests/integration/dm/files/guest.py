# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper run on the guest: several block-level steps in one ansible call.

Usage: python3 guest.py '<JSON list of steps>'; prints a JSON list with one result per step.
The tests copy it to the guest once and call it with ansible.builtin.command (an argv list,
no shell). Reads and writes use O_DIRECT, so what is read is what the device maps now, not a
page cache left from before a table change.

Steps (offsets and lengths in 512-byte sectors):
  {"op": "zero", "dev": D, "offset": N, "length": N}            write zeros
  {"op": "write", "dev": D, "offset": N, "length": N, "seed": S} write a pattern made from S
        (with "seconds": T, the range is written again and again, a new pattern each pass,
        until T seconds have gone by: a writer that lasts, however fast the disk)
  {"op": "sha", "dev": D, "offset": N, "length": N}             sha256 of the range (length 0: to the end)
  {"op": "md5", "dev": D, "offset": N, "length": N}             md5 of the range: a change detector for
                                                                large ranges compared only with each other
                                                                (~4x cheaper than sha256 on a TCG guest)
  {"op": "read", "dev": D, "offset": N, "length": N}            read the range once: ok (or the error) and
                                                                the seconds it took (what a fault shows)
  {"op": "verity_hash", "dev": D, "offset": N, "blocks": B, "salt": HEX}
        write the one-level dm-verity (format 1, sha256, 4096-byte blocks) hash tree of
        B all-zero data blocks at the offset; returns the root digest
  {"op": "size", "dev": D}                                      size in sectors
  {"op": "run", "argv": [...]}                                  rc, stdout, stderr of a command
  {"op": "devices"}                                             dmsetup info rows + tables
  {"op": "cleanup", "prefix": P}                                resume and remove every dm device whose name
                                                                starts with P (users first); returns what was left
  {"op": "suspended"}                                           names of the suspended dm devices
  {"op": "remove_self"}                                         delete this helper file (the last step)
"""

import hashlib
import json
import mmap
import os
import random
import subprocess
import sys
import time

CHUNK = 1 << 20
SECTOR = 512


def _open(dev, write):
    flags = (os.O_RDWR if write else os.O_RDONLY) | getattr(os, 'O_DIRECT', 0)
    return os.open(dev, flags)


def _size(dev):
    fd = os.open(dev, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END) // SECTOR
    finally:
        os.close(fd)


def _write(dev, offset, length, data_for):
    fd = _open(dev, True)
    buf = mmap.mmap(-1, CHUNK)
    try:
        pos, end, index = offset * SECTOR, (offset + length) * SECTOR, 0
        while pos < end:
            size = min(CHUNK, end - pos)
            buf.seek(0)
            buf.write(data_for(index, size))
            written = os.pwritev(fd, [memoryview(buf)[:size]], pos)
            if written != size:
                raise OSError('short write to %s at byte %d: %d of %d' % (dev, pos, written, size))
            pos += size
            index += 1
        os.fsync(fd)
    finally:
        os.close(fd)
        buf.close()


def _digest(dev, offset, length, algorithm='sha256'):
    if not length:
        length = _size(dev) - offset
    digest = hashlib.new(algorithm)
    fd = _open(dev, False)
    buf = mmap.mmap(-1, CHUNK)
    try:
        pos, end = offset * SECTOR, (offset + length) * SECTOR
        while pos < end:
            size = min(CHUNK, end - pos)
            got = os.preadv(fd, [memoryview(buf)[:size]], pos)
            if got != size:
                raise OSError('short read from %s at byte %d: %d of %d' % (dev, pos, got, size))
            digest.update(memoryview(buf)[:size])
            pos += size
    finally:
        os.close(fd)
        buf.close()
    return digest.hexdigest()


def _read(dev, offset, length):
    started = time.monotonic()
    try:
        _digest(dev, offset, length, 'md5')  # the cheapest whole read; the digest is not kept
    except OSError as exc:
        return {'ok': False, 'error': os.strerror(exc.errno) if exc.errno else str(exc),
                'seconds': time.monotonic() - started}
    return {'ok': True, 'error': None, 'seconds': time.monotonic() - started}


def _pattern(seed):
    def data_for(index, size):
        return random.Random('%s:%d' % (seed, index)).randbytes(size)
    return data_for


def _verity_hash(dev, offset, blocks, salt_hex):
    salt = bytes.fromhex(salt_hex) if salt_hex != '-' else b''
    block = 4096
    leaf = hashlib.sha256(salt + bytes(block)).digest()
    if blocks > block // len(leaf):
        raise ValueError('one hash block holds %d digests; %d data blocks need more levels' % (block // len(leaf), blocks))
    hash_block = (leaf * blocks).ljust(block, b'\0')
    _write(dev, offset, block // SECTOR, lambda index, size: hash_block)
    return hashlib.sha256(salt + hash_block).hexdigest()


def _run(argv):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except OSError as exc:
        return {'argv': argv, 'rc': 127, 'stdout': '', 'stderr': str(exc)}
    return {'argv': argv, 'rc': proc.returncode, 'stdout': proc.stdout, 'stderr': proc.stderr}


def _devices():
    fields = 'name,attr,suspended,open,devno,uuid'
    rows = _run(['dmsetup', 'info', '-c', '--noheadings', '--separator', '|', '-o', fields])
    out = {}
    for line in rows['stdout'].splitlines():
        if line.strip() == 'No devices found' or not line.strip():
            continue
        values = line.split('|')
        row = dict(zip(fields.split(','), values))
        row['open'] = int(row['open'])
        out[row['name']] = row
    for name, row in out.items():
        row['table'] = [line for line in _run(['dmsetup', 'table', name])['stdout'].splitlines() if line.strip()]
        row['inactive_table'] = [line for line in _run(['dmsetup', 'table', '--inactive', name])['stdout'].splitlines()
                                 if line.strip()]
        row['holders'] = _run(['dmsetup', 'info', '-c', '--noheadings', '-o', 'names_using_dev', name])['stdout'].strip()
    return out


def _cleanup(prefix):
    removed, errors = [], []
    for _attempt in range(10):
        devices = dict((n, d) for n, d in _devices().items() if n.startswith(prefix))
        if not devices:
            break
        for name, dev in devices.items():
            if dev['suspended'] == 'Suspended':
                _run(['dmsetup', 'resume', name])
        for name, dev in devices.items():
            if not dev['holders']:
                result = _run(['dmsetup', 'remove', '--retry', name])
                (removed if result['rc'] == 0 else errors).append(name if result['rc'] == 0 else result)
        time.sleep(0.2)
    left = sorted(n for n in _devices() if n.startswith(prefix))
    return {'removed': removed, 'left': left, 'errors': errors if left else []}


def main(steps):
    results = []
    for step in steps:
        op = step['op']
        if op == 'zero':
            _write(step['dev'], step['offset'], step['length'], lambda index, size: bytes(size))
            results.append({'op': op})
        elif op == 'write':
            passes, until = 0, time.monotonic() + step.get('seconds', 0)
            while True:
                seed = step['seed'] if 'seconds' not in step else '%s.%d' % (step['seed'], passes)
                _write(step['dev'], step['offset'], step['length'], _pattern(seed))
                passes += 1
                if time.monotonic() >= until:
                    break
            results.append({'op': op, 'passes': passes})
        elif op == 'sha':
            results.append({'op': op, 'sha256': _digest(step['dev'], step.get('offset', 0), step.get('length', 0))})
        elif op == 'md5':
            results.append({'op': op, 'md5': _digest(step['dev'], step.get('offset', 0), step.get('length', 0), 'md5')})
        elif op == 'read':
            results.append(dict(_read(step['dev'], step.get('offset', 0), step['length']), op=op))
        elif op == 'verity_hash':
            results.append({'op': op, 'root': _verity_hash(step['dev'], step['offset'], step['blocks'], step['salt'])})
        elif op == 'size':
            results.append({'op': op, 'sectors': _size(step['dev'])})
        elif op == 'run':
            results.append(dict(_run(step['argv']), op=op))
        elif op == 'devices':
            results.append({'op': op, 'devices': _devices()})
        elif op == 'cleanup':
            results.append(dict(_cleanup(step['prefix']), op=op))
        elif op == 'suspended':
            results.append({'op': op, 'names': sorted(n for n, d in _devices().items() if d['suspended'] == 'Suspended')})
        elif op == 'remove_self':
            os.unlink(os.path.abspath(__file__))
            results.append({'op': op})
        else:
            raise SystemExit('unknown step %r' % op)
    json.dump(results, sys.stdout)


if __name__ == '__main__':
    main(json.loads(sys.argv[1]))
