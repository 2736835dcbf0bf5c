# Two commands do all the set-up (see the README):
#   make run    # set up, then run the embedded default experiment to its site
#   make test   # set up, then run the test suite
# Both create .venv/ with this project and its dependencies. The workflow gets its data itself (its
# `data` rule); `make test` first makes sure Fashion-MNIST, which the tests read, is there (`make data`).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The PyTorch pair to install. The default is the release this project is tested with; for a CPU-only
# build elsewhere use e.g.  make run TORCH_SPEC="torch torchvision" PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PIP_ARGS ?=
# Extra arguments for Snakemake, e.g.  make run SNAKEMAKE_ARGS="--configfile config/cifar10-resnet18.yaml"
SNAKEMAKE_ARGS ?=
# Extra arguments for pytest, e.g.  make test PYTEST_ARGS="-m 'not slow'"
PYTEST_ARGS ?=

.PHONY: run test test-fast setup data clean help

help:
	@echo "make run    - set up and run the default experiment (results/<name>/site/index.html)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make test-fast - the suite without the slow tests"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_ARGS) $(TORCH_SPEC)
	$(PY) -m pip install --quiet $(PIP_ARGS) -e '.[test,slurm]'
	touch $@

setup: $(VENV)/.installed

# Fashion-MNIST for the tests: Debian's package dataset-fashion-mnist where it is installed, else the
# copy in resources/data, else torchvision's download into it; else it stops and says how to get it.
data: setup
	$(PY) -m unlearning_comparator fetch-data --dataset fashion_mnist --root resources/data

run: setup
	$(VENV)/bin/snakemake --cores all $(SNAKEMAKE_ARGS)
	@echo "Site: $$($(PY) -c 'import yaml,sys; print("results/" + yaml.safe_load(open("config/config.yaml"))["name"] + "/site/index.html")')"

test: data
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: data
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf results .snakemake .pytest_cache test-artifacts
