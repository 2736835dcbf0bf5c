# Two commands do all the set-up (see the README):
#   make run    # set up, then run the embedded default experiment to its site
#   make test   # set up, then run the test suite
# Both create .venv/ with this project and its dependencies and make sure Fashion-MNIST is on this machine
# (`make data`); the workflow then finds it, and records what it used, in its `data` rule.

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

.PHONY: run test test-fast lint setup data clean help

help:
	@echo "make run    - set up and run the default experiment (results/<name>/site/index.html)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make test-fast - the suite without the slow tests"
	@echo "make lint   - ruff, snakefmt and snakemake --lint (what CI checks besides the tests)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_ARGS) $(TORCH_SPEC)
	$(PY) -m pip install --quiet $(PIP_ARGS) -e '.[test,slurm,lint]'
	touch $@

setup: $(VENV)/.installed

# Fashion-MNIST (the default experiment's data and the tests'): Debian's package dataset-fashion-mnist
# where it is installed or can be (as root or with password-less sudo), else the copy in resources/data,
# else torchvision's download into it; else it stops and says how to get it.
data: setup
	@sh workflow/scripts/get_fashion_mnist.sh "$(PY)"

run: data
	$(VENV)/bin/snakemake --cores all $(SNAKEMAKE_ARGS)
	@echo "Site: $$($(PY) -c 'import yaml,sys; print("results/" + yaml.safe_load(open("config/config.yaml"))["name"] + "/site/index.html")')"

test: data
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: data
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# Style checked by machine: the Python code (ruff: lint and format), the rule files (snakefmt) and the
# workflow as Snakemake reads it (snakemake --lint, on the default config, in a scratch folder).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	@scratch=$$(mktemp -d) && $(VENV)/bin/snakemake --snakefile Snakefile --directory "$$scratch" \
		--configfile config/config.yaml --lint; status=$$?; rm -rf "$$scratch"; exit $$status

clean:
	rm -rf results .snakemake .pytest_cache test-artifacts
