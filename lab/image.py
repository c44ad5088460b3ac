"""Build and cache one bootable base image per distro.

An image is a directory in the cache, named <distro>-<key>, holding base.qcow2 (an ext4
filesystem on the whole disk), vmlinuz, initrd.img and manifest.json. The key is a hash of
the recipe (lab/recipe.json and lab/guest/), so an image is rebuilt only when the recipe
changes. The directory appears by an atomic rename once complete, under a per-distro flock,
so two builds racing for the same image build it once.
"""

import concurrent.futures
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

import hostdeps

LAB_SRC = os.path.dirname(os.path.abspath(__file__))
RECIPE = os.path.join(LAB_SRC, "recipe.json")
GUEST_FILES = os.path.join(LAB_SRC, "guest")
DEFAULT_CACHE = "/var/cache/sts-devicemapper/lab"
# debootstrap root (~0.6 GiB) + sparse ext4 image + qcow2 copy, with headroom
NEEDED_FREE_GIB = 3


def cache_dir():
    return os.environ.get("STS_DM_LAB_CACHE", DEFAULT_CACHE)


def load_recipe():
    with open(RECIPE) as f:
        return json.load(f)


def recipe_key(distro, recipe=None):
    """Hash of everything that decides the content of the distro's image."""
    recipe = recipe or load_recipe()
    if distro not in recipe["distros"]:
        sys.exit(f"lab: unknown distro {distro!r}; the recipe knows {sorted(recipe['distros'])}")
    h = hashlib.sha256()
    shared = {k: v for k, v in recipe.items() if k not in ("distros", "comment")}
    h.update(json.dumps([distro, recipe["distros"][distro], shared], sort_keys=True).encode())
    for path in sorted(glob.glob(os.path.join(GUEST_FILES, "*"))):
        h.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def packages_of(recipe, distro):
    """The recipe's packages for every distro, then the distro's own (``distros.<d>.packages``)."""
    return list(recipe["packages"]) + list(recipe["distros"][distro].get("packages", []))


def image_dir(distro):
    return os.path.join(cache_dir(), f"{distro}-{recipe_key(distro)}")


def image_ready(distro):
    return os.path.exists(os.path.join(image_dir(distro), "manifest.json"))


def apt_mirror():
    """The Debian mirror this machine's apt uses (never hard-coded), or STS_DM_LAB_MIRROR."""
    if os.environ.get("STS_DM_LAB_MIRROR"):
        return os.environ["STS_DM_LAB_MIRROR"]
    candidates = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            for stanza in re.split(r"\n\s*\n", f.read()):
                fields = {}
                for line in stanza.splitlines():
                    m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                    if m:
                        fields[m.group(1).lower()] = m.group(2).split()
                if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                    for uri in fields.get("uris", []):
                        candidates.append((uri, fields.get("suites", [])))
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m:
                    candidates.append((m.group(1), [m.group(2)]))
    for uri, suites in candidates:
        # the main archive: not the security archive, and carrying a plain release suite
        if "security" in uri or not any(re.fullmatch(r"[a-z]+", s) for s in suites):
            continue
        return uri.rstrip("/")
    sys.exit("lab: found no Debian mirror in /etc/apt/sources.list{,.d}; set STS_DM_LAB_MIRROR")


def _mounts_under(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return [m for m in (line.split()[1] for line in f) if m == path or m.startswith(path + "/")]


def _remove_tree(path):
    """rm -rf, but never through a mount that debootstrap left behind."""
    for mnt in sorted(_mounts_under(path), reverse=True):
        subprocess.run(["umount", "-l", mnt], check=False)
    if _mounts_under(path):
        sys.exit(f"lab: {path} still has mounts {_mounts_under(path)}; not removing it")
    shutil.rmtree(path, ignore_errors=True)


def _check_space(where):
    os.makedirs(where, exist_ok=True)
    free = shutil.disk_usage(where).free / 2**30
    if free < NEEDED_FREE_GIB:
        sys.exit(f"lab: building an image needs {NEEDED_FREE_GIB} GiB free in {where}, "
                 f"only {free:.1f} GiB is; free space or set STS_DM_LAB_CACHE")


# debootstrap's per-package messages, folded into one phase each
_PHASES = {"Retrieving": "downloading", "Validating": "downloading", "Extracting": "extracting",
           "Unpacking": "unpacking", "Configuring": "configuring"}


def _run_with_progress(cmd, label, logpath):
    """Run cmd, logging everything and printing its phases (and a heartbeat) as it goes."""
    start = time.monotonic()
    last_print = 0.0
    phase, count, current = None, 0, ""
    with open(logpath, "a") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            elapsed = time.monotonic() - start
            m = re.match(r"^I: (\w+) ?(.*)", line)
            if not m:
                continue
            verb, rest = m.groups()
            this = _PHASES.get(verb)
            if this is None:
                print(f"  [{label} {elapsed:4.0f}s] {verb} {rest}", flush=True)
                last_print = elapsed
                continue
            if this != phase:
                phase, count = this, 0
                print(f"  [{label} {elapsed:4.0f}s] {phase} packages", flush=True)
                last_print = elapsed
            if verb != "Validating":
                count += 1
                current = rest.split()[0] if rest else ""
            if elapsed - last_print >= 10:
                print(f"  [{label} {elapsed:4.0f}s] {phase}: {count} packages so far ({current})", flush=True)
                last_print = elapsed
        rc = proc.wait()
    if rc != 0:
        with open(logpath) as f:
            tail = f.readlines()[-25:]
        sys.exit(f"lab: {label}: {cmd[0]} failed (rc={rc}); last lines of {logpath}:\n" + "".join(tail))


def _install_guest_files(root, distro):
    def put(src, dst, mode=0o644):
        dst = os.path.join(root, dst.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(GUEST_FILES, src), dst)
        os.chmod(dst, mode)

    put("interfaces", "/etc/network/interfaces")
    put("fstab", "/etc/fstab")
    put("sts-lab-key", "/usr/local/sbin/sts-lab-key", 0o755)
    put("sts-lab-key.service", "/etc/systemd/system/sts-lab-key.service")
    wants = os.path.join(root, "etc/systemd/system/multi-user.target.wants")
    os.makedirs(wants, exist_ok=True)
    link = os.path.join(wants, "sts-lab-key.service")
    if not os.path.lexists(link):
        os.symlink("/etc/systemd/system/sts-lab-key.service", link)
    with open(os.path.join(root, "etc/hostname"), "w") as f:
        f.write(distro + "\n")
    with open(os.path.join(root, "etc/hosts"), "w") as f:
        f.write("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    # the package cache is dead weight in every overlay
    for deb in glob.glob(os.path.join(root, "var/cache/apt/archives/*.deb")):
        os.remove(deb)


def build(distro, force=False):
    """Return the image directory for distro, building it first if the cache lacks it."""
    recipe = load_recipe()
    key = recipe_key(distro, recipe)
    suite = recipe["distros"][distro]["suite"]
    final = os.path.join(cache_dir(), f"{distro}-{key}")
    _check_space(cache_dir())
    lock_path = os.path.join(cache_dir(), f".{distro}.lock")
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"lab: another build of {distro} is running; waiting for it", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(final, "manifest.json")) and not force:
            print(f"lab: image {distro} is cached: {final}", flush=True)
            _prune_old_images(distro, keep=final)
            return final
        if os.path.exists(final):
            _remove_tree(final)
        # leftovers of a build that was killed hold the lock no more
        for stale in glob.glob(os.path.join(cache_dir(), f".build-{distro}-*")):
            print(f"lab: removing stale build {stale}", flush=True)
            _remove_tree(stale)
        built = _build_locked(distro, suite, key, recipe, final)
        _prune_old_images(distro, keep=final)
        return built


def build_all(distros, force=False):
    """Build the images of several distros at once (debootstrap waits mostly on the network).

    The host packages the builds need are installed first, once: two builds each running
    apt-get would collide on apt's lock."""
    if force or not all(image_ready(d) for d in distros):
        hostdeps.ensure(hostdeps.IMAGE_PROGRAMS, keyring=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(distros) or 1) as pool:
        futures = [pool.submit(build, d, force) for d in distros]
        return [f.result() for f in futures]


def _in_use(path):
    """Whether a running process (a lab guest) names path on its command line."""
    needle = path.encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if needle in f.read():
                    return True
        except OSError:
            continue
    return False


def _prune_old_images(distro, keep):
    """Delete this distro's images of older recipes, unless a running guest still boots from one."""
    for old in glob.glob(os.path.join(cache_dir(), f"{distro}-*")):
        if old != keep and os.path.isdir(old) and not _in_use(old + "/"):
            print(f"lab: removing outdated image {old}", flush=True)
            _remove_tree(old)


def _build_locked(distro, suite, key, recipe, final):
    _check_space(cache_dir())
    start = time.monotonic()
    work = os.path.join(cache_dir(), f".build-{distro}-{key}-{os.getpid()}")
    root = os.path.join(work, "root")
    os.makedirs(work)
    log = os.path.join(work, "build.log")
    mirror = apt_mirror()
    print(f"lab: building {distro} ({suite}) image {key} from the apt mirror; "
          f"needs ~{NEEDED_FREE_GIB} GiB in {cache_dir()}, log {log}", flush=True)
    try:
        _run_with_progress(
            ["debootstrap", f"--variant={recipe['variant']}", f"--keyring={hostdeps.KEYRING}",
             "--include=" + ",".join(packages_of(recipe, distro)), suite, root, mirror],
            distro, log)
        _install_guest_files(root, distro)
        kernels = sorted(glob.glob(os.path.join(root, "boot/vmlinuz-*")))
        initrds = sorted(glob.glob(os.path.join(root, "boot/initrd.img-*")))
        if not kernels or not initrds:
            sys.exit(f"lab: {distro}: no kernel/initrd in {root}/boot after debootstrap")
        shutil.copyfile(kernels[-1], os.path.join(work, "vmlinuz"))
        shutil.copyfile(initrds[-1], os.path.join(work, "initrd.img"))
        packages = subprocess.run(
            ["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${Package}\t${Version}\n"],
            check=True, capture_output=True, text=True).stdout
        versions = dict(line.split("\t", 1) for line in packages.splitlines() if "\t" in line)
        print(f"  [{distro} {time.monotonic() - start:4.0f}s] making ext4 and qcow2", flush=True)
        raw = os.path.join(work, "root.ext4")
        with open(raw, "wb") as f:
            f.truncate(recipe["image_size_mib"] * 2**20)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "stsroot", "-d", root, raw,
                        f"{recipe['image_size_mib']}M"], check=True)
        subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, os.path.join(work, "base.qcow2")], check=True)
        os.remove(raw)
        _remove_tree(root)
        manifest = {
            "distro": distro, "suite": suite, "key": key,
            "kernel": os.path.basename(kernels[-1])[len("vmlinuz-"):],
            "packages": {p: versions.get(p) for p in packages_of(recipe, distro)},
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.monotonic() - start),
        }
        with open(os.path.join(work, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2)
        os.rename(work, final)
    except BaseException:
        _remove_tree(root)
        raise
    print(f"lab: image {distro} built in {time.monotonic() - start:.0f}s: {final}", flush=True)
    return final
