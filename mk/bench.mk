# Benchmarks: `make bench` runs bench/ suites and renders docs/performance.md.
# Never part of `make test`: these are measurements, not timed tests.
# Included by the top-level Makefile with `-include mk/bench.mk`; uses VENV from mk/dev.mk.
#
#   make bench                                  every suite (pending ones are listed as such)
#   make bench BENCH_SUITES=dmpd                one or more suites, space-separated
#   make bench BENCH_ARGS='--rounds 7'          more options for python -m bench.run (--help)
#   make bench-render                           only re-render the page from bench/results/

VENV ?= .venv
BENCH_SUITES ?=
BENCH_ARGS ?=
BENCH_REQUIREMENTS := requirements/bench.txt
BENCH_STAMP := $(VENV)/.sts-bench-installed
BENCH_SELECT := $(addprefix --suite ,$(BENCH_SUITES))
# the guests as their images made them: no bytecode cache for module payloads (docs/lab.md),
# which makes every module run compile its code, as on any host (BENCH_LAB_PYCACHE=1: the cache)
BENCH_LAB_PYCACHE ?= 0

.PHONY: bench bench-deps bench-lab bench-render

# install: the stack and fleet suites run ansible-playbook with the collection built from this tree into
# build/collections (ansible.cfg); without it a fresh clone has none, and an older build would be measured
bench: bench-deps install bench-lab ## benchmarks: run bench/ suites (BENCH_SUITES=, BENCH_ARGS=), render docs/performance.md with plots
	$(call banner,$(strip bench: python -m bench.run $(BENCH_SELECT) $(BENCH_ARGS)))
	$(VENV)/bin/python -m bench.run $(BENCH_SELECT) $(BENCH_ARGS)
	$(call banner,bench: python -m bench.render)
	$(VENV)/bin/python -m bench.render

bench-deps: $(BENCH_STAMP)
	@hack/apt-ensure.sh thin-provisioning-tools

# On top of the controller venv: a change to the venv's own stamp re-installs these too.
$(BENCH_STAMP): $(BENCH_REQUIREMENTS) $(VENV_STAMP)
	$(call banner,bench: $(BENCH_REQUIREMENTS) into $(VENV))
	$(VENV)/bin/pip install --disable-pip-version-check -q -r $(BENCH_REQUIREMENTS)
	@touch $@

# The lab hook: `bench.run --lab-needed` names the selected suites that run on the lab
# guests with these BENCH_ARGS (dmpd does unless --dmpd-lab-hosts '' or --host); with one of
# them `make lab-up` runs first.
bench-lab: bench-deps
	@lab=$$($(VENV)/bin/python -m bench.run --lab-needed $(BENCH_SELECT) $(BENCH_ARGS)); \
	if [ -n "$$lab" ]; then \
		echo "bench: $$lab need the lab: make lab-up LAB_PYCACHE=$(BENCH_LAB_PYCACHE)"; \
		$(MAKE) --no-print-directory lab-up LAB_PYCACHE=$(BENCH_LAB_PYCACHE); \
	fi

bench-render: bench-deps ## benchmarks: re-render docs/performance.md and its plots from bench/results/*.json
	$(VENV)/bin/python -m bench.render
