# The two commands of the course: `make lab` (work on the notebooks) and `make test` (what CI runs).
# Both create .venv and install everything on first use; a second run installs nothing.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.coursekit-installed
JUPYTER_STAMP := $(VENV)/.coursekit-jupyter
# JupyterLab reads the defaults a distribution ships from overrides.d in its application settings dir.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/coursekit.json
HOST ?= 127.0.0.1
PORT ?= 8888
WORKERS ?= 2
NOTEBOOKS := $(wildcard lectures/*.ipynb solutions/*.ipynb)
# Jupyter refuses to run as root (containers, some CI machines) unless told it is deliberate.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# The browser test drives Debian's Chromium (Playwright's own browser download is not used).
CHROMIUM ?= /usr/bin/chromium
# TensorFlow and torch's triton both load their own LLVM: once TF is imported, torch.compile's triton import
# segfaults in the same process, so the TensorFlow tests run in a pytest process of their own.
TF_TESTS := tests/tf
# Every lab executed the way Colab runs it (tests/colab/emulate.py: Colab's package versions in a cached
# virtualenv, a google.colab kernel, no notebook file on disk): a pytest process of its own, two labs at a time.
COLAB_TESTS := tests/test_colab_emulated.py
# The built website's checks: `make site-test` builds the smoke site first, then runs them.
SITE_TESTS := tests/test_site.py

export TF_CPP_MIN_LOG_LEVEL := 2
export MPLBACKEND ?= Agg

.PHONY: setup lab test test-full test-full-changed lint typecheck unit colab notebooks labs-check browser doctor clean \
	site site-test

setup: $(STAMP) $(JUPYTER_STAMP)

# Re-runs only when pyproject.toml changes. torch comes from the range in pyproject (on this course's CI
# machines pip resolves it to the local build); Colab keeps its preinstalled torch and TensorFlow.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet "pip>=23.1"
	$(BIN)/python -m pip install --quiet -e '.[course,dev]'
	@touch $@
	@echo "coursekit environment ready in $(VENV)"

# Every notebook asks for the kernel "python3": it is registered as this venv's Python by absolute path, so
# neither PATH nor another python3 kernelspec can swap in an interpreter without coursekit (`make lab` also
# puts the venv's Jupyter paths before the user's). JupyterLab's question "get notified about official
# Jupyter news?" is answered "Never" by default (Settings > Notifications can still opt in); no update checks.
$(JUPYTER_STAMP): $(STAMP) Makefile
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (coursekit)" >/dev/null
	@rm -rf $(VENV)/share/jupyter/kernels/coursekit  # the same Python under another name (older Makefiles)
	@mkdir -p $(dir $(LAB_OVERRIDES))
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' \
		> $(LAB_OVERRIDES)
	@touch $@

lab: setup
	$(BIN)/python -m coursekit doctor || true
	JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter lab --ip=$(HOST) --port=$(PORT) --no-browser $(ALLOW_ROOT) \
		--ServerApp.open_browser=False --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
		--ServerApp.default_url=/lab/tree/lectures/00_tour.ipynb

lint: setup
	$(BIN)/ruff check .

# mypy on coursekit/ ([tool.mypy] in pyproject.toml).
typecheck: setup
	$(BIN)/mypy

browser:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

unit: setup browser
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope -q tests \
		$(addprefix --ignore=,$(TF_TESTS)) --ignore=$(COLAB_TESTS) --ignore=$(SITE_TESTS)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q $(TF_TESTS)

colab: setup
	$(BIN)/python -m pytest -q $(COLAB_TESTS)

notebooks: setup
	COURSEKIT_PROFILE=smoke COURSEKIT_OFFLINE=1 COURSEKIT_WIDGETS=static OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope -q \
		--nbval-lax --nbval-current-env $(NOTEBOOKS)

# The full profile (what a Colab GPU runs) executed on this CPU as a dry run: every notebook at the profile's
# full sizes, with every training loop capped at MAX_STEPS steps and sets at 256 items (coursekit/config.py),
# offline on stand-in data. Prints each notebook's wall time and its kernel's peak memory
# (tests/plugins/notebook_resources.py; also in build/test-full/resources.md).
# A pass records each notebook's code hash in FULL_RECORD (commit it); `make test` runs `test-full-changed`:
# only the notebooks whose code differs from that record.
MAX_STEPS ?= 2
FULL_NOTEBOOKS ?= $(NOTEBOOKS)
FULL_RECORD := tests/full_profile_passed.json
test-full: setup
	COURSEKIT_PROFILE=full COURSEKIT_MAX_STEPS=$(MAX_STEPS) COURSEKIT_OFFLINE=1 COURSEKIT_WIDGETS=static \
		COURSEKIT_FULL_RECORD=$(FULL_RECORD) OMP_NUM_THREADS=1 PYTHONPATH=tests/plugins \
		$(BIN)/python -m pytest -p notebook_resources -n $(WORKERS) --dist loadscope -q \
		--nbval-lax --nbval-current-env $(FULL_NOTEBOOKS)

test-full-changed: setup
	@changed="$$($(BIN)/python tests/plugins/full_record.py changed $(FULL_RECORD) $(NOTEBOOKS))"; \
	if [ -z "$$changed" ]; then echo "full-profile dry run: no notebook code changed since $(FULL_RECORD)"; \
	else $(MAKE) --no-print-directory test-full FULL_NOTEBOOKS="$$changed"; fi

# The course website: `make site` (lectures executed in the fast profile) into build/site/index.html;
# `make site PROFILE=smoke` (what `make test` builds) into build/site-smoke/. Sphinx + myst-nb read
# build/site-src/, links mirroring the repository (docs/conf.py). One jupyter-cache per profile, keyed by
# each notebook's code: a rebuild re-executes only the lectures whose code changed. A cell error or any
# warning (a broken cross-reference included) fails the build.
PROFILE ?= fast
# One notebook executes at a time, with both cores.
SITE_THREADS ?= 2
SPHINXOPTS ?=
DOCS_STAMP := $(VENV)/.coursekit-docs
SITE_SRC := build/site-src
SITE_OUT := build/site$(if $(filter fast,$(PROFILE)),,-$(PROFILE))

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[course,dev,docs]'
	@touch $@

site: $(DOCS_STAMP) $(JUPYTER_STAMP)
	@mkdir -p $(SITE_SRC)
	@for path in lectures labs course README.md; do ln -sfn ../../$$path $(SITE_SRC)/$$path; done
	@ln -sfn ../../docs/index.md $(SITE_SRC)/index.md
	COURSEKIT_PROFILE=$(PROFILE) COURSEKIT_OFFLINE=1 COURSEKIT_WIDGETS=static OMP_NUM_THREADS=$(SITE_THREADS) \
		JUPYTER_PREFER_ENV_PATH=1 $(BIN)/sphinx-build -W --keep-going -b html -c docs $(SPHINXOPTS) \
		-d build/site-doctrees/$(PROFILE) $(SITE_SRC) $(SITE_OUT)
	@echo "course website: $(SITE_OUT)/index.html"

# The smoke site and its checks (tests/test_site.py: pages, internal links, nothing from the internet, and
# Debian's Chromium showing the figures of the home page and three lectures).
site-test: browser
	@$(MAKE) --no-print-directory site PROFILE=smoke
	$(BIN)/python -m pytest -q $(SITE_TESTS)

labs-check: setup
	$(BIN)/python -m coursekit assign --check
	$(BIN)/python -m coursekit readme --check

test: lint typecheck labs-check unit colab notebooks test-full-changed site-test

doctor: setup
	$(BIN)/python -m coursekit doctor

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache .mypy_cache
