# sts.devicemapper developer entry points. `make help` lists them.
# The dev loop (venvs, sanity, lint, unit, docs, install) lives in mk/dev.mk,
# the lab (qemu guests with real device-mapper) in mk/lab.mk, the benchmarks (make bench,
# never part of make test) in mk/bench.mk.

SHELL := /bin/bash
.DEFAULT_GOAL := help

include mk/dev.mk
-include mk/lab.mk
-include mk/bench.mk

.PHONY: help test demo
help:
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

# The venvs, host packages and installed collection first; then the lab stage (TEST_LAB, from
# mk/lab.mk) in the background while the other stages run in turn (hack/test.sh).
TEST_FIRST := venv venv-oldest apt-dev install
test: ## everything: sanity, lint, unit, integration on real tools (and the lab when present, alongside)
	@hack/test.sh "$(TEST_FIRST)" "$(filter-out $(TEST_FIRST),$(TEST_STAGES))" "$(TEST_LAB)"

demo: ## the main job on the built-in lab fleet: lab up, site.yml (thin, cache, era stacks), fleet report, lab down (KEEP=1 keeps it)
	@hack/demo.sh
