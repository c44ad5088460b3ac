"""What every lab host must offer before any sts.devicemapper test can mean anything."""

import json
import re

import pytest

# thin-provisioning-tools generation per lab distro (see docs/lab.md)
THIN_TOOLS = {"debian12": r"0\.9\.0", "debian13": r"1\.\d+\.\d+"}


def test_kernel_offers_thin_pool_target(lab_fleet):
    # dm targets are modules that load on demand, so load the two before listing
    lab_fleet.run_ok("ansible.builtin.command", {"argv": ["modprobe", "-a", "dm-thin-pool", "dm-mod"]})
    results = lab_fleet.run_ok("ansible.builtin.command", {"argv": ["dmsetup", "targets"]})
    for host, result in results.items():
        targets = {line.split()[0] for line in result["stdout_lines"] if line.strip()}
        assert {"thin-pool", "thin", "linear"} <= targets, f"{host}: dmsetup targets lists {sorted(targets)}"


def test_thin_tools_generation_matches_distro(lab_fleet):
    results = lab_fleet.run_ok("ansible.builtin.command", {"argv": ["thin_check", "-V"]})
    for host, result in results.items():
        version = result["stdout"].strip()
        distro = lab_fleet.hosts[host].get("lab_distro")
        expected = THIN_TOOLS.get(distro, r"\d+\.\d+\.\d+")
        assert re.fullmatch(expected, version), f"{host} ({distro}): thin_check -V says {version!r}"


def test_data_disks_are_block_devices(lab_fleet):
    for host, hostvars in lab_fleet.hosts.items():
        assert len(hostvars.get("lab_data_disks", [])) >= 2, f"{host}: lab_data_disks needs two disks"
    results = lab_fleet.run_ok("ansible.builtin.command", {"argv": ["lsblk", "-J", "-b", "-o", "PATH,SIZE,TYPE"]})
    for host, result in results.items():
        devices = {d["path"]: d for d in json.loads(result["stdout"])["blockdevices"]}
        for disk in lab_fleet.hosts[host]["lab_data_disks"]:
            assert disk in devices, f"{host}: {disk} missing; lsblk shows {sorted(devices)}"
            assert devices[disk]["type"] == "disk" and int(devices[disk]["size"]) > 0, f"{host}: {devices[disk]}"


def test_module_payloads_use_the_bytecode_cache_lab_up_installed(lab_fleet):
    """lab/pycache: on a host where lab up installed it (inventory lab_pycache), the guest's
    python3 compiles through it and a module run leaves its compiled payload in the cache."""
    hosts = [h for h, hostvars in lab_fleet.hosts.items() if hostvars.get("lab_pycache")]
    if not hosts:
        pytest.skip("lab up ran with LAB_PYCACHE=0 (or these hosts are not the lab's)")
    lab_fleet.run_ok("ansible.builtin.ping")
    probe = ("import os, zipimport; print(zipimport._compile_source.__module__); "
             "print(len(os.listdir('/var/cache/sts-lab-pycache')))")
    results = lab_fleet.run_ok("ansible.builtin.command", {"argv": ["python3", "-c", probe]})
    for host in hosts:
        hooked, entries = results[host]["stdout_lines"]
        assert hooked == "sts_lab_pycache", f"{host}: zipimport compiles with {hooked}"
        assert int(entries) > 0, f"{host}: the bytecode cache is empty after a module run"
