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

test: ## everything: sanity, lint, unit, integration on real tools (and the lab when present)
test: $(TEST_STAGES)
	@echo "make test: all stages passed ($(TEST_STAGES))"

demo: ## the main job on the built-in lab fleet: lab up, site.yml (thin, cache, era stacks), fleet report, lab down (KEEP=1 keeps it)
	@hack/demo.sh
