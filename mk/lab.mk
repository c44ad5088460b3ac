# The lab: qemu guests (Debian 12 and 13) with a real device-mapper kernel. See docs/lab.md.
# Included by the top Makefile with `-include mk/lab.mk`.

VENV ?= .venv
LAB_PYTHON ?= python3
LAB := $(LAB_PYTHON) lab/lab.py

# Fleet shape; every one is also read from the environment.
LAB_DISTROS ?= debian12 debian13
LAB_COUNT ?= 1
LAB_MEMORY ?= 1024
LAB_CPUS ?= 2
LAB_DISKS ?= 2
LAB_DISK_SIZE ?= 5G
LAB_KVM ?=
LAB_DIR ?= $(CURDIR)/.lab
export LAB_PYTHON VENV LAB_DISTROS LAB_COUNT LAB_MEMORY LAB_CPUS LAB_DISKS LAB_DISK_SIZE LAB_KVM LAB_DIR

LAB_INVENTORY := $(LAB_DIR)/inventory.yml

.PHONY: lab-image lab-up lab-down lab-status lab-test

lab-image: ## lab: build (or find cached) the Debian 12/13 base images
	@$(LAB) image

lab-up: ## lab: boot the fleet and write .lab/inventory.yml
	@$(LAB) up

lab-down: ## lab: stop the guests lab-up started and remove their disks
	@$(LAB) down

lab-status: ## lab: list the lab guests
	@$(LAB) status

# image -> up -> tests/integration/lab -> tests/integration/dmpd and dm per host -> [molecule, LAB_TEST_MOLECULE=all] -> down
# (always, even on failure). LAB_TEST_DMPD=0 skips the dmpd tests; LAB_TEST_DMPD_MARK picks them (guest).
lab-test: ## lab: boot the fleet, run the lab, dmpd and dm integration tests and every molecule scenario on it, tear it down
	@lab/lab-test.sh
TEST_STAGES += lab-test
