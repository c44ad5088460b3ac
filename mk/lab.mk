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
LAB_DISK_SIZE ?= 4G
LAB_KVM ?=
LAB_DIR ?= $(CURDIR)/.lab
export VENV LAB_DISTROS LAB_COUNT LAB_MEMORY LAB_CPUS LAB_DISKS LAB_DISK_SIZE LAB_KVM LAB_DIR

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

# image -> up -> pytest lab tests -> dmpd tests per host -> molecule smoke -> down (always).
lab-test: ## lab: boot the fleet, run the integration tests and molecule scenarios on it, tear it down
	@start=$$(date +%s); \
	teardown() { $(LAB) down; echo "lab-test: $$1 after $$(( $$(date +%s) - start ))s"; }; \
	trap 'rc=$$?; trap - EXIT; teardown "$$([ $$rc = 0 ] && echo passed || echo FAILED)"; exit $$rc' EXIT; \
	trap 'exit 130' INT TERM; \
	set -euo pipefail; \
	test -x $(VENV)/bin/ansible || { echo "lab-test: $(VENV)/bin/ansible is missing; run make venv" >&2; exit 1; }; \
	$(LAB) image; \
	$(LAB) up; \
	echo "lab-test: fleet up after $$(( $$(date +%s) - start ))s"; \
	export STS_DM_INVENTORY=$(LAB_INVENTORY) PATH="$(abspath $(VENV))/bin:$$PATH"; \
	$(VENV)/bin/python -m pytest -p no:cacheprovider tests/integration/lab; \
	if [ -d tests/integration/dmpd ] && ls tests/integration/dmpd/test_*.py >/dev/null 2>&1; then \
	  if $(MAKE) -n install >/dev/null 2>&1; then $(MAKE) --no-print-directory install; fi; \
	  for host in $$($(LAB) hosts); do \
	    echo "lab-test: tests/integration/dmpd on $$host"; \
	    STS_DM_HOSTS=$$host $(VENV)/bin/python -m pytest -p no:cacheprovider tests/integration/dmpd; \
	  done; \
	fi; \
	$(VENV)/bin/molecule test -s smoke
