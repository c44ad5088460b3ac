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

# The venv, the host packages and the installed collection first; then the lab stage (when
# mk/lab.mk adds it) in the background beside the other stages, one after the other (hack/test.sh).
TEST_FIRST := venv apt-dev install
test: ## everything: sanity, lint, unit, integration on real tools (and the lab when present, beside the rest)
	@hack/test.sh "$(TEST_FIRST)" "$(filter-out $(TEST_FIRST) lab-test,$(TEST_STAGES))" "$(filter lab-test,$(TEST_STAGES))"

demo: ## the main job on the built-in lab fleet: lab up, site.yml (thin, cache, era stacks), fleet report, lab down (KEEP=1 keeps it)
	@hack/demo.sh
