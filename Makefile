# Two entry points for a newcomer: `make demo` runs the default experiment, `make test`
# runs the test suite. Both create (once) and reuse the virtual environment in .venv/.

SHELL := bash
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
CORES ?= 2
SNAKEMAKE_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# How `make data` installs Debian packages: as root, or through sudo where it works without
# a password; empty where neither does (then nothing is installed and the demo downloads
# its data instead). Evaluated only where used; `make data APT=` forces the no-root path.
APT = $(shell if [ "$$(id -u)" = 0 ]; then echo env; \
	elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then echo sudo env; fi)

# Rules run `python -m transferability` or `python -m transferability_runtime`: the
# venv's python must come first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test test-fast lint bench data slurm-packages venv clean reference results-status

demo: venv data
	@PYTHONPATH=workflow $(PYTHON) -m transferability_runtime.homecheck
	@if [ -f $(FASHION_MNIST) ]; then fallback=; \
		echo "demo: data from Debian's dataset-fashion-mnist in $(dir $(FASHION_MNIST))"; \
	else fallback="--configfile config/download.yaml"; \
		echo "demo: Debian's dataset-fashion-mnist is not installed: torchvision downloads" \
			"Fashion-MNIST into results/downloads/ (config/download.yaml, needs the internet)"; \
	fi; \
	set -x; snakemake --cores $(CORES) $$fallback $(SNAKEMAKE_ARGS)
	@echo
	@echo "Results: results/summary.parquet (and .csv), results/figures/, results/claims.md"

# The committed reference run (results/reference/): `make demo` from a clean results/,
# timed, then the table, config, wall time and job times copied and figures and claims
# redrawn from the copied table (tests/test_reference.py checks they match).
reference: venv data
	$(MAKE) clean
	@fallback=; [ -f $(FASHION_MNIST) ] || fallback="--configfile config/download.yaml"; \
	start=$$(date +%s); $(MAKE) demo && \
	PYTHONPATH=workflow $(PYTHON) -m transferability_runtime.reference --cores $(CORES) \
		--started $$start $${fallback:+--configfile config/download.yaml}

test: venv data slurm-packages lint
	$(PYTHON) -m pytest

# The unit-level half of the suite (no snakemake runs, no cluster): minutes, for the edit loop.
test-fast: venv data
	$(PYTHON) -m pytest -m "not slow"

# Which committed runs (results/*/) are what this commit's config, data and code make, and
# the command that remakes each stale one. Reports; never fails on a stale run.
results-status: venv data
	PYTHONPATH=workflow $(PYTHON) -m transferability_runtime.reference status

# Every script under benchmarks/ but the _helper modules (each prints `RESULT <name> <value>
# <unit>` lines), one after another, except those in BENCH_SKIP: base_accuracy_ceiling.py measures accuracy,
# not speed, and takes minutes (`make bench BENCH_SKIP=` runs it too). Run on an idle
# machine: workflow_wall.py runs the whole default workflow. `make bench BENCH_ARGS=--quick`
# runs every script at tiny sizes in a few minutes, as tests/test_benchmarks.py does.
BENCH_SKIP ?= base_accuracy_ceiling.py
BENCH_ARGS ?=

bench: venv data
	@set -e; for script in benchmarks/[!_]*.py; do \
		case " $(BENCH_SKIP) " in *" $$(basename $$script) "*) \
			echo "== $$script: skipped (BENCH_SKIP)"; continue;; esac; \
		echo "== $$script"; $(PYTHON) $$script $(BENCH_ARGS); \
	done

lint: venv
	$(VENV)/bin/ruff check workflow tests benchmarks
	$(VENV)/bin/ruff format --check workflow tests benchmarks
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	snakemake --lint

venv: $(STAMP)

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --no-cache-dir --upgrade pip
	@# torch's CUDA build makes the venv ~6 GB: no second copy in pip's cache.
	$(PYTHON) -m pip install --quiet --no-cache-dir -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

# The embedded dataset: Debian's dataset-fashion-mnist, installed where apt-get can run
# (as root, or with password-less sudo). Elsewhere nothing is installed, make data says so
# in one line and does not fail, and the demo asks torchvision to download the files
# instead (config/download.yaml, into the user-writable results/downloads/).
data:
	@[ -f $(FASHION_MNIST) ] || { $(call apt_install,dataset-fashion-mnist); }
	@# WordNet 3.0 for the optional WordNet man-made rule of the ImageNet split (and its tests).
	@[ -f /usr/share/wordnet/data.noun ] || { $(call apt_install,wordnet-base); }

# $(call apt_install,PACKAGE): install a Debian package if this user can; never fails.
apt_install = apt="$(APT)"; \
	if ! command -v apt-get > /dev/null; then echo "data: no apt-get here: $(1) not installed"; \
	elif [ -z "$$apt" ]; then echo "data: neither root nor password-less sudo: $(1) not installed"; \
	else { $$apt apt-get update -qq && \
		$$apt DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); } || \
		echo "data: apt-get could not install $(1)"; fi

# The local one-node SLURM cluster of tests/slurm/ (started and stopped by the tests).
SLURM_PACKAGES := slurm-wlm slurmdbd slurm-client munge mariadb-server
slurm-packages:
	@missing=; for tool in slurmctld slurmd slurmdbd sacct munged mariadbd; do \
		command -v $$tool > /dev/null || missing=1; done; \
	if [ -n "$$missing" ] && command -v apt-get > /dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SLURM_PACKAGES); \
	fi

clean:
	find results -mindepth 1 -not -path 'results/reference' -not -path 'results/reference/*' \
		-not -path 'results/study' -not -path 'results/study/*' \
		-not -path 'results/study-replicate' -not -path 'results/study-replicate/*' \
		! -name README.md -delete; \
	rm -rf .snakemake
