"""Boot, list and stop the lab fleet: qemu guests on copy-on-write overlays of the base images.

State lives in the lab directory (LAB_DIR, default .lab/ in the repo): the SSH key, the
inventory and one directory per host with its overlay, data disks, pid file, console log and
host.json. `down` stops only guests whose pid file is there and whose command line names that
host's own overlay, so it never touches a qemu it did not start.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import hostdeps
import image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env_int(name, default):
    value = os.environ.get(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        sys.exit(f"lab: {name}={value!r} is not a whole number")


def lab_dir():
    return os.path.abspath(os.environ.get("LAB_DIR") or os.path.join(REPO, ".lab"))


def hosts_dir():
    return os.path.join(lab_dir(), "hosts")


def inventory_path():
    return os.path.join(lab_dir(), "inventory.yml")


def key_path():
    return os.path.join(lab_dir(), "id_ed25519")


def ansible_bin():
    venv = os.environ.get("VENV") or os.path.join(REPO, ".venv")
    path = os.path.join(venv, "bin", "ansible")
    if not os.path.exists(path):
        sys.exit(f"lab: {path} is missing; run `make venv` (or point VENV at a venv with ansible-core)")
    return path


def settings():
    count = _env_int("LAB_COUNT", 1)
    disks = _env_int("LAB_DISKS", 2)
    if count < 1 or not 0 <= disks <= 20:
        sys.exit(f"lab: LAB_COUNT={count} must be >= 1 and LAB_DISKS={disks} between 0 and 20")
    return {
        "count": count,
        "memory": _env_int("LAB_MEMORY", 1024),
        "cpus": _env_int("LAB_CPUS", 2),
        "disks": disks,
        "disk_size": os.environ.get("LAB_DISK_SIZE") or "5G",
        "boot_timeout": _env_int("LAB_BOOT_TIMEOUT", 420),
        "kvm": os.environ.get("LAB_KVM", "") in ("1", "yes", "true"),
    }


def _ensure_key():
    os.makedirs(lab_dir(), exist_ok=True)
    if not os.path.exists(key_path()):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sts-devicemapper-lab",
                        "-f", key_path()], check=True)
    with open(key_path() + ".pub") as f:
        kind, blob = f.read().split()[:2]
    if kind != "ssh-ed25519":
        sys.exit(f"lab: {key_path()}.pub is a {kind} key; the lab wants ssh-ed25519")
    return blob


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_host(name):
    try:
        with open(os.path.join(hosts_dir(), name, "host.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _known_hosts():
    if not os.path.isdir(hosts_dir()):
        return []
    return sorted(n for n in os.listdir(hosts_dir()) if os.path.isdir(os.path.join(hosts_dir(), n)))


def _running_pid(name):
    """The pid of this host's qemu if it runs; checked against its overlay so a reused pid never counts."""
    hdir = os.path.join(hosts_dir(), name)
    try:
        with open(os.path.join(hdir, "qemu.pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
    except (OSError, ValueError):
        return None
    overlay = os.path.join(hdir, "overlay.qcow2").encode()
    if any(overlay in arg for arg in cmdline) and b"qemu" in os.path.basename(cmdline[0]):
        return pid
    return None


def _console_tail(name, lines=30):
    path = os.path.join(hosts_dir(), name, "console.log")
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no console log)\n"


def _accel(cfg):
    if not cfg["kvm"]:
        return ["-accel", "tcg,thread=multi", "-cpu", "max"]
    if _kvm_probe():
        return ["-accel", "kvm", "-cpu", "host"]
    print("lab: LAB_KVM=1 but the probe guest did not reach userspace under KVM; using TCG", flush=True)
    return ["-accel", "tcg,thread=multi", "-cpu", "max"]


def _kvm_probe():
    """Boot the first distro's image under KVM (no disk writes) and see if it reaches userspace."""
    if not os.path.exists("/dev/kvm"):
        return False
    distro = sorted(image.load_recipe()["distros"])[0]
    idir = image.image_dir(distro)
    log = os.path.join(lab_dir(), "kvm-probe.log")
    if os.path.exists(log):
        os.remove(log)
    proc = subprocess.Popen([
        "qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", "512", "-nodefaults",
        "-display", "none", "-snapshot", "-no-reboot",
        "-drive", f"file={idir}/base.qcow2,if=virtio,format=qcow2",
        "-kernel", f"{idir}/vmlinuz", "-initrd", f"{idir}/initrd.img",
        "-append", "root=/dev/vda rw console=ttyS0 panic=-1 systemd.unit=emergency.target",
        "-serial", f"file:{log}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reached = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(2)
        try:
            with open(log, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if "emergency mode" in text.lower() or "Reached target" in text:
            reached = True
            break
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    return reached


def _start_host(name, distro, cfg, key_blob, accel):
    idir = image.image_dir(distro)
    hdir = os.path.join(hosts_dir(), name)
    os.makedirs(hdir, exist_ok=True)
    overlay = os.path.join(hdir, "overlay.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                    "-b", os.path.join(idir, "base.qcow2"), overlay], check=True)
    drives = ["-drive", f"file={overlay},if=virtio,format=qcow2,discard=unmap"]
    data_disks = []
    for i in range(cfg["disks"]):
        raw = os.path.join(hdir, f"disk{i + 1}.raw")
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", raw, cfg["disk_size"]], check=True)
        drives += ["-drive", f"file={raw},if=virtio,format=raw,discard=unmap"]
        data_disks.append("/dev/vd" + chr(ord("b") + i))
    port = _free_port()
    console = os.path.join(hdir, "console.log")
    cmdline = (f"root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet systemd.hostname={name} "
               f"sts_lab_key={key_blob}")
    argv = [
        "qemu-system-x86_64", "-name", f"sts-lab-{name}", *accel,
        "-m", str(cfg["memory"]), "-smp", str(cfg["cpus"]),
        "-nodefaults", "-display", "none", *drives,
        "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-kernel", os.path.join(idir, "vmlinuz"), "-initrd", os.path.join(idir, "initrd.img"),
        "-append", cmdline,
        "-serial", f"file:{console}",
        "-daemonize", "-pidfile", os.path.join(hdir, "qemu.pid"),
    ]
    host = {"name": name, "distro": distro, "port": port, "image": idir, "data_disks": data_disks,
            "started": time.time()}
    with open(os.path.join(hdir, "host.json"), "w") as f:
        json.dump(host, f, indent=2)
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"lab: qemu for {name} did not start (rc={result.returncode}): {result.stderr.strip()}")
    return host


def _ssh_banner(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.settimeout(3)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def write_inventory(hosts):
    """Write .lab/inventory.yml: group lab, one child group per distro."""
    by_distro = {}
    for h in hosts:
        by_distro.setdefault(h["distro"], []).append(h)
    lines = ["# Written by lab/lab.py up; rewritten on every `make lab-up`.", "all:", "  children:",
             "    lab:", "      vars:",
             "        ansible_user: root",
             f"        ansible_ssh_private_key_file: {key_path()}",
             "        ansible_ssh_common_args: >-",
             "          -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
             "          -o LogLevel=ERROR -o ConnectTimeout=20",
             # An SSH handshake costs seconds under TCG: keep one master connection per host
             # for the whole run instead of ansible's default 60 s.
             "        ansible_ssh_args: -C -o ControlMaster=auto -o ControlPersist=30m",
             "        ansible_ssh_pipelining: true",
             "        ansible_python_interpreter: /usr/bin/python3",
             # lab/pycache: whether lab up gave the guests' python3 a bytecode cache for module
             # payloads (LAB_PYCACHE); benchmarks report it beside their figures
             f"        lab_pycache: {'true' if pycache_wanted() else 'false'}",
             # what playbooks/site.yml builds on every lab host (make demo, the fleet scenario):
             # two thin volumes (one ext4, mounted), a snapshot, and known data written once into
             # each stack, counted by an I/O statistics region on each device the stacks give their
             # users (the fleet report's I/O section); the role scenarios set their own at play level
             "        thin_stack_volumes:",
             "          - {name: sts_thin_fs, size: 256M, filesystem: ext4, mount: /mnt/sts_thin_fs}",
             "          - {name: sts_thin_raw, size: 128M}",
             "        thin_stack_snapshots:",
             "          - {name: sts_thin_raw_snap, origin: sts_thin_raw}",
             "        thin_stack_workload: true",
             "        cache_stack_workload: true",
             "        era_stack_workload: true",
             "        thin_stack_stats: true",
             "        cache_stack_stats: true",
             "        era_stack_stats: true",
             "      children:"]
    for distro in sorted(by_distro):
        lines += [f"        {distro}:", "          hosts:"]
        for h in by_distro[distro]:
            lines += [f"            {h['name']}:",
                      "              ansible_host: 127.0.0.1",
                      f"              ansible_port: {h['port']}",
                      f"              lab_distro: {distro}",
                      f"              lab_data_disks: [{', '.join(h['data_disks'])}]"]
            # what playbooks/site.yml builds on a lab host: the thin stack on the first data
            # disk, the cache stack on the second (era on loop files); a scenario that wants
            # loop files instead sets these to null at play level
            if len(h["data_disks"]) >= 2:
                lines += [f"              thin_stack_device: {h['data_disks'][0]}",
                          f"              cache_stack_device: {h['data_disks'][1]}"]
    tmp = inventory_path() + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, inventory_path())


def run_ansible(pattern, module, args=None, timeout=20):
    """Run one ad-hoc module on pattern; return {host: result dict} read from ansible's --tree output."""
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_RETRY_FILES_ENABLED="False")
    with tempfile.TemporaryDirectory(prefix="sts-lab-") as tree:
        argv = [ansible_bin(), "-i", inventory_path(), pattern, "-m", module, "-T", str(timeout), "--tree", tree]
        if args:
            argv += ["-a", args]
        subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        results = {}
        for name in os.listdir(tree):
            with open(os.path.join(tree, name)) as f:
                try:
                    results[name] = json.load(f)
                except ValueError:
                    results[name] = {"failed": True, "msg": "unreadable result"}
        return results


def _ansible_ping(hosts):
    """Names of the hosts that answer ansible.builtin.ping."""
    results = run_ansible(",".join(h["name"] for h in hosts), "ansible.builtin.ping")
    return {name for name, r in results.items() if r.get("ping") == "pong"}


PYCACHE_SOURCE = os.path.join(REPO, "lab", "pycache", "sts_lab_pycache.py")
# run on each guest by ansible.builtin.command (argv): with a source, put the cache module and a
# .pth that imports it into the first site-packages directory of the guest's python3; with none,
# remove them and the cache (a guest as its image made it)
_PYCACHE_INSTALL = """import os, shutil, site, sys
where = site.getsitepackages()[0]
names = ('sts_lab_pycache.py', 'sts_lab_pycache.pth')
if len(sys.argv) > 1:
    os.makedirs(where, exist_ok=True)
    for name, text in zip(names, (sys.argv[1], 'import sts_lab_pycache\\n')):
        with open(os.path.join(where, name + '.part'), 'w') as handle:
            handle.write(text)
        os.replace(os.path.join(where, name + '.part'), os.path.join(where, name))
else:
    for name in reversed(names):
        if os.path.exists(os.path.join(where, name)):
            os.remove(os.path.join(where, name))
    shutil.rmtree('/var/cache/sts-lab-pycache', ignore_errors=True)
print(where)
"""


def pycache_wanted():
    """LAB_PYCACHE (default 1): install the bytecode cache for module payloads on the guests."""
    value = os.environ.get("LAB_PYCACHE", "1")
    if value not in ("0", "1"):
        sys.exit(f"lab: LAB_PYCACHE={value!r}: expected 1 (install the bytecode cache, the default) or 0")
    return value == "1"


def _set_pycache(hosts, wanted):
    """lab/pycache/sts_lab_pycache.py on every host (see its docstring), or removed from it when
    not ``wanted``; False if a host failed."""
    argv = ["python3", "-c", _PYCACHE_INSTALL]
    if wanted:
        with open(PYCACHE_SOURCE) as f:
            argv.append(f.read())
    results = run_ansible(",".join(h["name"] for h in hosts), "ansible.builtin.command", json.dumps({"argv": argv}),
                          timeout=60)
    ok = True
    for host in hosts:
        result = results.get(host["name"], {"failed": True, "msg": "no result"})
        if result.get("rc") != 0 or result.get("failed"):
            ok = False
            print(f"lab: {host['name']}: the bytecode cache could not be {'installed' if wanted else 'removed'}: "
                  f"{result.get('stderr') or result.get('msg')}", file=sys.stderr)
        elif wanted:
            print(f"lab: {host['name']}: bytecode cache for module payloads in {result['stdout'].strip()} "
                  "(LAB_PYCACHE=0: none)", flush=True)
        else:
            print(f"lab: {host['name']}: no bytecode cache (LAB_PYCACHE=0)", flush=True)
    return ok


def up(distros):
    cfg = settings()
    # everything the images and the guests need, in one install before anything runs in parallel
    build_images = not all(image.image_ready(d) for d in distros)
    hostdeps.ensure({**hostdeps.FLEET_PROGRAMS, **(hostdeps.IMAGE_PROGRAMS if build_images else {})},
                    keyring=build_images)
    start = time.monotonic()
    image.build_all(distros)
    wanted = [(f"{d}-{i}", d) for d in distros for i in range(1, cfg["count"] + 1)]
    key_blob = _ensure_key()
    os.makedirs(hosts_dir(), exist_ok=True)
    stray = [n for n in _known_hosts() if n not in dict(wanted)]
    if stray:
        print(f"lab: also running from an earlier lab-up: {' '.join(stray)} (make lab-down stops them)")
    accel = None
    hosts = []
    for name, distro in wanted:
        host = _read_host(name)
        if host and _running_pid(name) and host["image"] == image.image_dir(distro):
            print(f"lab: {name} is already running (ssh port {host['port']})")
        else:
            if os.path.isdir(os.path.join(hosts_dir(), name)):
                _stop_host(name)
            accel = accel or _accel(cfg)
            host = _start_host(name, distro, cfg, key_blob, accel)
            print(f"lab: started {name} ({distro}, {cfg['memory']} MiB, {cfg['disks']} x {cfg['disk_size']} "
                  f"data disks) ssh 127.0.0.1:{host['port']}", flush=True)
        hosts.append(host)
    write_inventory(hosts + [h for h in map(_read_host, stray) if h])
    if not _wait(hosts, cfg, start):
        return 1
    if not _set_pycache(hosts, pycache_wanted()):
        return 1
    return 0


def _wait(hosts, cfg, start):
    boot_start = time.monotonic()
    pending = {h["name"]: h for h in hosts}
    ssh_up = {}
    last_report = 0.0
    while pending:
        elapsed = time.monotonic() - boot_start
        for name in list(pending):
            if not _running_pid(name):
                print(f"lab: {name} died while booting; last lines of its console:\n{_console_tail(name)}",
                      file=sys.stderr)
                return False
            if name not in ssh_up and _ssh_banner(pending[name]["port"]):
                ssh_up[name] = elapsed
                print(f"lab: {name} answers ssh after {elapsed:.0f}s", flush=True)
        ready = [h for n, h in pending.items() if n in ssh_up]
        if ready:
            for name in _ansible_ping(ready):
                print(f"lab: {name} answers Ansible after {time.monotonic() - boot_start:.0f}s", flush=True)
                del pending[name]
        if not pending:
            break
        elapsed = time.monotonic() - boot_start
        if elapsed > cfg["boot_timeout"]:
            for name in pending:
                state = "ssh up, Ansible not answering" if name in ssh_up else "no ssh"
                print(f"lab: {name} not ready after {elapsed:.0f}s ({state}); last lines of its console:\n"
                      f"{_console_tail(name)}", file=sys.stderr)
            return False
        if elapsed - last_report >= 10:
            states = ", ".join(f"{n} ({'ssh up' if n in ssh_up else 'booting'})" for n in sorted(pending))
            print(f"lab: [{elapsed:3.0f}s] waiting for {states}", flush=True)
            last_report = elapsed
        time.sleep(2)
    print(f"lab: {len(hosts)} host(s) ready in {time.monotonic() - start:.0f}s; inventory: {inventory_path()}")
    return True


def _stop_host(name):
    pid = _running_pid(name)
    if pid:
        os.kill(pid, signal.SIGTERM)
        for _attempt in range(50):
            if not _running_pid(name):
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
    shutil.rmtree(os.path.join(hosts_dir(), name), ignore_errors=True)
    return pid


def down():
    names = _known_hosts()
    for name in names:
        pid = _stop_host(name)
        print(f"lab: {name}: " + (f"stopped qemu pid {pid}" if pid else "was not running") + ", disks removed")
    if os.path.exists(inventory_path()):
        os.remove(inventory_path())
    if not names:
        print("lab: no hosts")
    return 0


def print_hosts():
    for name in _known_hosts():
        print(name)
    return 0


def status():
    names = _known_hosts()
    if not names:
        print("lab: no hosts (make lab-up starts them)")
        return 0
    print(f"{'HOST':<14} {'DISTRO':<9} {'STATE':<8} {'PID':>7} {'SSH':<16} {'UP':>6}  DATA DISKS")
    for name in names:
        host = _read_host(name) or {}
        pid = _running_pid(name)
        port = host.get("port")
        state = ("ssh" if port and _ssh_banner(port) else "booting") if pid else "stopped"
        uptime = f"{time.time() - host['started']:.0f}s" if pid and host.get("started") else "-"
        print(f"{name:<14} {host.get('distro', '?'):<9} {state:<8} {pid or '-':>7} "
              f"{'127.0.0.1:' + str(port) if port else '-':<16} {uptime:>6}  {' '.join(host.get('data_disks', []))}")
    if os.path.exists(inventory_path()):
        print(f"inventory: {inventory_path()}")
    return 0
