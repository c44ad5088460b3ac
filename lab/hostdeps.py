"""Make sure the host has the programs the lab runs, installing Debian packages when missing.

The installing is hack/apt_ensure.py's (one installer for the whole project: it serialises
concurrent installs and waits for apt's locks). The lab asks for everything it will need in one
call, before it starts anything in parallel.
"""

import os
import shutil
import subprocess
import sys

APT_ENSURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hack", "apt_ensure.py")

# program -> Debian package that provides it
IMAGE_PROGRAMS = {
    "debootstrap": "debootstrap",
    "mkfs.ext4": "e2fsprogs",
    "qemu-img": "qemu-utils",
}
FLEET_PROGRAMS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}
# debootstrap checks trixie's Release file against this keyring
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def _have(program):
    return shutil.which(program, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is not None


def missing_packages(programs, keyring=False):
    """The Debian packages behind the programs of the mapping that are not on the host."""
    missing = sorted({pkg for prog, pkg in programs.items() if not _have(prog)})
    if keyring and not os.path.exists(KEYRING):
        missing.append("debian-archive-keyring")
    return missing


def ensure(programs, keyring=False):
    """Install the packages behind any missing program; exit with the installer's reason if that fails."""
    missing = missing_packages(programs, keyring)
    if not missing:
        return
    print(f"lab: installing host packages: {' '.join(missing)}", flush=True)
    if subprocess.run([sys.executable, APT_ENSURE, *missing], check=False).returncode != 0:
        sys.exit(f"lab: could not install the host packages {' '.join(missing)} (see apt-ensure's message above)")
