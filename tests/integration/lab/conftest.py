"""Session fixtures for tests that run on the lab's guests (or on your own hosts).

With STS_DM_INVENTORY unset, the session boots the lab once (lab/lab.py up) and stops it at
the end. With STS_DM_INVENTORY=path, the hosts in that inventory are used as they are and
left running; STS_DM_HOSTS picks a host pattern (default: the group ``lab``).

Modules run through the ``ansible`` command line, one ad-hoc call per step, and the results
are read as JSON from ansible's ``--tree`` directory (ansible-core ships no JSON stdout
callback of its own).
"""

import json
import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
LAB = os.path.join(REPO, "lab", "lab.py")


def _ansible_tool(name):
    local = os.path.join(os.path.dirname(sys.executable), name)
    return local if os.path.exists(local) else name


class Fleet:
    """The hosts under test and a way to run one module on all of them."""

    def __init__(self, inventory, pattern):
        self.inventory = inventory
        self.pattern = pattern
        listing = subprocess.run(
            [_ansible_tool("ansible-inventory"), "-i", inventory, "--list", "--limit", pattern],
            check=True, capture_output=True, text=True).stdout
        hostvars = json.loads(listing).get("_meta", {}).get("hostvars", {})
        self.hosts = {name: hostvars[name] for name in sorted(hostvars)}
        if not self.hosts:
            raise pytest.UsageError(f"no hosts match {pattern!r} in {inventory}")

    def run(self, module, args=None, timeout=60):
        """Run module on every host; return {host: result}. A host with no result counts as a failure."""
        with tempfile.TemporaryDirectory(prefix="sts-lab-tree-") as tree:
            argv = [_ansible_tool("ansible"), "-i", self.inventory, self.pattern, "-m", module,
                    "-T", "30", "--tree", tree]
            if args is not None:
                argv += ["-a", args if isinstance(args, str) else json.dumps(args)]
            env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False")
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout + 60, check=False)
            results = {}
            for name in os.listdir(tree):
                with open(os.path.join(tree, name)) as f:
                    results[name] = json.load(f)
        missing = set(self.hosts) - set(results)
        assert not missing, f"no result from {sorted(missing)}; ansible said:\n{proc.stdout}\n{proc.stderr}"
        return results

    def run_ok(self, module, args=None, timeout=60):
        """run(), failing the test with the host's result if any host failed."""
        results = self.run(module, args, timeout)
        bad = {h: r for h, r in results.items() if r.get("failed") or r.get("unreachable")}
        assert not bad, f"{module} failed: {json.dumps(bad, indent=2)}"
        return results


@pytest.fixture(scope="session")
def lab_fleet():
    inventory = os.environ.get("STS_DM_INVENTORY")
    pattern = os.environ.get("STS_DM_HOSTS", "lab")
    started = False
    if not inventory:
        subprocess.run([sys.executable, LAB, "up"], check=True,
                       env=dict(os.environ, VENV=os.environ.get("VENV", os.path.dirname(os.path.dirname(sys.executable)))))
        inventory = os.path.join(os.environ.get("LAB_DIR") or os.path.join(REPO, ".lab"), "inventory.yml")
        started = True
    try:
        yield Fleet(inventory, pattern)
    finally:
        if started:
            subprocess.run([sys.executable, LAB, "down"], check=False)
