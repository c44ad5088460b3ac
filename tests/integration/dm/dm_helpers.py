"""What the dm integration tests share besides fixtures: the host with its guest helper, the
test's area of the data disks, the slot map, names. (conftest.py holds the fixtures.)"""

import json
import os
import sys
import tarfile

from _harness import REPO, ModuleFailed, TargetHost  # noqa: F401 pylint: disable=unused-import

PREFIX = 'stsit-'


def run_share(total):
    """This host's share of ``total`` repeated trials. lab-test runs the suite on every host of the
    fleet at once and gives each host its share in STS_DM_RUN_SHARE as ``WEIGHT/TOTAL`` (``1/2``: half
    the trials; a host with less else to do gets more): each host then tries its share (rounded up,
    one at least), so a run tries about ``total`` in all, on every kernel; a host run alone (unset)
    tries them all."""
    value = os.environ.get('STS_DM_RUN_SHARE', '1/1')
    parts = value.split('/')
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or not 0 < int(parts[0]) <= int(parts[1]):
        raise ValueError('STS_DM_RUN_SHARE=%r: expected WEIGHT/TOTAL, whole numbers with 0 < WEIGHT <= TOTAL'
                         % value)
    weight, whole = int(parts[0]), int(parts[1])
    return max(1, -(-total * weight // whole))


MIB = 2048                 # sectors
SLOT = 256 * MIB           # sectors per slot on each data disk
# slot numbers of each test file on both data disks (256 MiB each; 20 slots: a disk of 5 GiB at least)
SLOTS = {
    'targets': (0, 2),
    'four_step': (2, 1),
    'reload': (3, 1),
    'reload_failure': (4, 1),
    'thin_snapshot': (5, 1),
    'metadata_snap': (6, 1),
    'remove': (7, 1),
    'crypt_key': (8, 1),
    'stack_playbook': (9, 2),
    'suspended': (11, 1),
    'message': (12, 1),
    'killed_run': (13, 1),
    'bad_input': (14, 1),
    'killed_modules': (15, 1),
    'fault': (16, 1),
    'naming': (17, 1),
    'wait': (18, 1),
    'stats': (19, 1),
}
SLOTS_NEEDED = max(first + count for first, count in SLOTS.values())


class DmGuest(TargetHost):
    """The shared harness plus what the dm tests need: the data disks and the guest helper."""

    def __init__(self, pattern, inventory):
        super(DmGuest, self).__init__(pattern, inventory)
        self.disks = []
        self.helper = None
        self.kernel = None
        self.kernel_version = None

    def guest(self, *steps):
        """Run the guest helper (files/guest.py) with these steps in one call; returns its results."""
        result = self.command('python3', self.helper, json.dumps(list(steps)))
        return json.loads(result['stdout'])

    def unpack_bundle(self, root, local_dir):
        """The collection's plugins and ansible-core's module_utils in ``root`` on the host
        (bench/dmpd.py's bundle: what a module needs to run there as ``python3 MODULE.py ARGS``,
        the way ansible-core's debugging entry runs one); built in ``local_dir``."""
        if REPO not in sys.path:
            sys.path.insert(0, REPO)
        from bench.dmpd import write_bundle  # pylint: disable=import-outside-toplevel
        bundle = os.path.join(local_dir, 'bundle')
        write_bundle(bundle)
        tarball = os.path.join(local_dir, 'bundle.tgz')
        with tarfile.open(tarball, 'w:gz') as tar:
            for name in sorted(os.listdir(bundle)):
                tar.add(os.path.join(bundle, name), arcname=name)
        self.command('mkdir', '-p', root)
        self.upload(tarball, root + '/bundle.tgz')
        self.command('tar', '-xzf', root + '/bundle.tgz', '-C', root)
        return root

    def devices(self):
        """Every dm device as dmsetup itself says (not through the modules): name -> row."""
        return self.guest({'op': 'devices'})[0]['devices']


class Area(object):
    """A test's own region of the data disks: ``lin(disk, start_mib, size_mib)`` makes a linear segment."""

    def __init__(self, disks, first, count):
        self.disks = disks
        self.base = first * SLOT
        self.size = count * SLOT

    def at(self, disk, start_mib):
        """(device, offset in sectors) of a place in this area."""
        if not 0 <= start_mib * MIB < self.size:
            raise ValueError('start %d MiB is outside the area (%d MiB)' % (start_mib, self.size // MIB))
        return self.disks[disk], self.base + start_mib * MIB

    def lin(self, disk, start_mib, size_mib):
        if (start_mib + size_mib) * MIB > self.size:
            raise ValueError('%d MiB at %d MiB does not fit the area (%d MiB)' % (size_mib, start_mib, self.size // MIB))
        dev, offset = self.at(disk, start_mib)
        return {'type': 'linear', 'length': size_mib * MIB, 'options': {'device': dev, 'offset': offset}}

    def zero(self, disk, start_mib, size_mib=1):
        """A guest-helper step that zeroes a place (metadata devices must start zeroed)."""
        dev, offset = self.at(disk, start_mib)
        return {'op': 'zero', 'dev': dev, 'offset': offset, 'length': size_mib * MIB}


def mapper(name):
    return '/dev/mapper/' + name
