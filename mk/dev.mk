# The dev loop: controller venvs, sanity on both ends of the supported
# ansible-core range, lint, unit tests, the built collection installed into
# the venv, integration against the real dmpd tools, and the docs site.
# Included by the top-level Makefile; mk/lab.mk appends its stages to TEST_STAGES.

# "PYTHON REQUIREMENTS": the newest Python >= 3.12 with requirements/controller.txt
# (ansible-core 2.21), or python3 with requirements/controller-py311.txt (2.19).
VENV_PICK := $(shell hack/pick-python.sh)
VENV_BASE_PYTHON := $(word 1,$(VENV_PICK))
VENV_REQUIREMENTS := $(word 2,$(VENV_PICK))
VENV := .venv
# The machine's python3 is 3.11: the oldest controller Python ansible-core 2.18 runs on here.
OLDEST_BASE_PYTHON := $(shell for p in python3.11 python3; do \
	command -v $$p >/dev/null && exec $$p -c 'import sys; print(sys.executable)'; done)
OLDEST_REQUIREMENTS := requirements/oldest.txt
VENV_OLDEST := .venv-oldest
# A stamp per requirements file and interpreter: a change to either re-creates the venv.
VENV_STAMP := $(VENV)/.sts-installed-$(notdir $(VENV_BASE_PYTHON))
VENV_OLDEST_STAMP := $(VENV_OLDEST)/.sts-installed-$(notdir $(OLDEST_BASE_PYTHON))

BUILD := build
COLLECTION_NAMESPACE := $(shell sed -nE 's/^namespace:[[:space:]]*([a-z0-9_]+).*/\1/p' galaxy.yml)
COLLECTION_NAME := $(shell sed -nE 's/^name:[[:space:]]*([a-z0-9_]+).*/\1/p' galaxy.yml)
COLLECTION_VERSION := $(shell sed -nE 's/^version:[[:space:]]*([0-9][^[:space:]]*).*/\1/p' galaxy.yml)
COLLECTION_TARBALL := $(BUILD)/$(COLLECTION_NAMESPACE)-$(COLLECTION_NAME)-$(COLLECTION_VERSION).tar.gz
# Debian packages the dev loop needs on a fresh machine: integration-local runs the real dmpd
# tools, and opens the HTML fleet report in headless Chromium.
DEV_DEB_PACKAGES := thin-provisioning-tools shellcheck chromium

TEST_STAGES := venv venv-oldest sanity lint unit integration-local docs

banner = @printf '\n========== %s [%s] ==========\n' "$(1)" "$$(date +%T)"

.PHONY: venv venv-oldest apt-dev sanity sanity-newest sanity-oldest lint unit unit-newest unit-oldest \
	install integration-local docs clean-dev

venv: $(VENV_STAMP) ## controller venv .venv with the pinned tools (ansible-core 2.21 on Python >= 3.12)
$(VENV_STAMP): $(VENV_REQUIREMENTS) $(wildcard requirements/controller.constraints.txt)
	$(call banner,venv: $(VENV) from $(VENV_BASE_PYTHON) + $(VENV_REQUIREMENTS))
	hack/venv.sh $(VENV) $(VENV_BASE_PYTHON) $(VENV_REQUIREMENTS)
	@touch $@

venv-oldest: $(VENV_OLDEST_STAMP) ## venv .venv-oldest with the oldest supported ansible-core (2.18) for sanity and unit
$(VENV_OLDEST_STAMP): $(OLDEST_REQUIREMENTS)
	$(call banner,venv-oldest: $(VENV_OLDEST) from $(OLDEST_BASE_PYTHON) + $(OLDEST_REQUIREMENTS))
	hack/venv.sh $(VENV_OLDEST) $(OLDEST_BASE_PYTHON) $(OLDEST_REQUIREMENTS)
	@touch $@

apt-dev: ## Debian packages the dev loop needs (thin-provisioning-tools, shellcheck, chromium), installed only if missing
	@hack/apt-ensure.sh $(DEV_DEB_PACKAGES)

sanity: sanity-newest sanity-oldest ## ansible-test sanity, every test, with the newest and the oldest ansible-core
sanity-newest: venv apt-dev
	$(call banner,sanity: ansible-test sanity with $(VENV))
	hack/sanity.sh $(VENV)
sanity-oldest: venv-oldest apt-dev
	$(call banner,sanity: ansible-test sanity with $(VENV_OLDEST))
	hack/sanity.sh $(VENV_OLDEST)

lint: venv ## ansible-lint (production profile), antsibull-changelog lint, antsibull-docs lint-collection-docs
	$(call banner,lint: ansible-lint)
	@# ansible-lint links the work tree into .ansible/collections itself; without this it
	@# would also find make install's copy through ansible.cfg and warn about two versions
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.ansible/collections \
		$(VENV)/bin/ansible-lint
	$(call banner,lint: antsibull-changelog lint)
	$(VENV)/bin/antsibull-changelog lint
	$(call banner,lint: antsibull-docs lint-collection-docs)
	hack/lint-docs.sh $(VENV)
	$(call banner,lint: execution-environment.yml)
	hack/ee-check.sh $(VENV)

unit: unit-newest unit-oldest ## pytest tests/unit with the newest and the oldest ansible-core
unit-newest: venv
	$(call banner,unit: pytest tests/unit with $(VENV))
	hack/unit.sh $(VENV)
unit-oldest: venv-oldest
	$(call banner,unit: pytest tests/unit with $(VENV_OLDEST))
	hack/unit.sh $(VENV_OLDEST)

# Where `make install` puts the collection: the first collections path of ./ansible.cfg, so
# ansible run from the repository root finds it with no variables, and nothing is written
# into the venv's ansible package.
COLLECTIONS_DIR := $(BUILD)/collections

install: venv ## build the collection into build/ and install it into build/collections (ansible.cfg's collections path)
	$(call banner,install: $(COLLECTION_TARBALL) into $(COLLECTIONS_DIR))
	@mkdir -p $(BUILD)
	$(VENV)/bin/ansible-galaxy collection build --force --output-path $(BUILD) .
	@# ansible-galaxy's warnings (a path outside the configured ones, for one) fail the target
	set -o pipefail; env -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_COLLECTIONS_PATHS -u ANSIBLE_CONFIG \
		$(VENV)/bin/ansible-galaxy collection install --force -p $(COLLECTIONS_DIR) \
		$(COLLECTION_TARBALL) 2>&1 | tee $(BUILD)/install.log
	@! grep -q '\[WARNING\]' $(BUILD)/install.log || { echo "install: ansible-galaxy warned (above)" >&2; exit 1; }
	@# ansible finds it from the repository root, through ansible.cfg alone
	env -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_COLLECTIONS_PATHS -u ANSIBLE_CONFIG \
		$(VENV)/bin/ansible-doc --list $(COLLECTION_NAMESPACE).$(COLLECTION_NAME)

integration-local: install apt-dev ## integration tests on this host: the real dmpd tools (tests/integration/dmpd), bad input refused from the arguments alone and by the dmpd modules (tests/integration/args), the HTML report in Chromium (tests/integration/report)
	$(call banner,integration-local: pytest tests/integration/dmpd)
	@# Two workers: each ansible call is mostly Python start-up, and the machine has two cores.
	hack/pytest-dir.sh $(VENV) tests/integration/dmpd -v -n 2
	$(call banner,integration-local: pytest tests/integration/args (the bad-input cases refused from the arguments alone, and the dmpd modules' on this machine's tools))
	hack/pytest-dir.sh $(VENV) tests/integration/args -v
	$(call banner,integration-local: pytest tests/integration/report (the HTML fleet report in headless Chromium))
	STS_REQUIRE_CHROMIUM=1 hack/pytest-dir.sh $(VENV) tests/integration/report -v

docs: install ## HTML docs site of the collection into docs/build (antsibull-docs + sphinx, offline)
	$(call banner,docs: antsibull-docs + sphinx into docs/build)
	hack/docs.sh $(VENV) $(COLLECTION_NAMESPACE).$(COLLECTION_NAME) docs/build

clean-dev: ## remove build outputs and venvs (keeps the lab)
	rm -rf $(BUILD) docs/build tests/output collections $(VENV) $(VENV_OLDEST)
