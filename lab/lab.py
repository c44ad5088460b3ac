"""sts.devicemapper lab: qemu guests with a real device-mapper kernel.

    lab.py image [DISTRO...]   build (or find cached) base images
    lab.py up                  boot the fleet, write .lab/inventory.yml, wait for Ansible
    lab.py down                stop exactly the guests this lab started, remove their disks
    lab.py status              list the guests
    lab.py hosts               print the guests' inventory names
Settings come from the environment (the make variables of mk/lab.mk): see docs/lab.md.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import image  # noqa: E402


def distros_from_env():
    return os.environ.get("LAB_DISTROS", "debian12 debian13").split()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_image = sub.add_parser("image", help="build or find the cached base images")
    p_image.add_argument("distros", nargs="*")
    p_image.add_argument("--force", action="store_true", help="rebuild even if cached")
    sub.add_parser("up", help="boot the fleet and wait until Ansible reaches every host")
    sub.add_parser("down", help="stop the guests and remove their overlays and disks")
    sub.add_parser("status", help="list the guests")
    sub.add_parser("hosts", help="print the inventory names of the guests, one a line")
    args = parser.parse_args(argv)

    if args.command == "image":
        image.build_all(args.distros or distros_from_env(), force=args.force)
        return 0
    import fleet
    if args.command == "up":
        return fleet.up(distros_from_env())
    if args.command == "down":
        return fleet.down()
    if args.command == "hosts":
        return fleet.print_hosts()
    return fleet.status()


if __name__ == "__main__":
    sys.exit(main())
