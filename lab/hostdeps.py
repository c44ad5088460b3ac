"""Make sure the host has the programs the lab runs, installing Debian packages when missing."""

import os
import shutil
import subprocess
import sys

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


def ensure(programs, keyring=False):
    """Install (via apt-get) the packages behind any missing program; exit with a clear message if that fails."""
    missing = sorted({pkg for prog, pkg in programs.items() if not _have(prog)})
    if keyring and not os.path.exists(KEYRING):
        missing.append("debian-archive-keyring")
    if not missing:
        return
    print(f"lab: installing host packages: {' '.join(missing)}", flush=True)
    if os.geteuid() != 0:
        sys.exit(f"lab: missing host packages {missing}; install them as root: apt-get install {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if subprocess.run(cmd, env=env, check=False).returncode != 0:
        # a stale package index is the usual cause; refresh once and retry
        subprocess.run(["apt-get", "update"], env=env, check=False)
        if subprocess.run(cmd, env=env, check=False).returncode != 0:
            sys.exit(f"lab: could not install {missing} with apt-get")
