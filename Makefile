# Two commands a newcomer needs (see README):
#   make lab    set everything up and start JupyterLab with the extension
#   make test   set everything up and run every test (pytest, jest, Galata in Chromium, the
#               class on a real JupyterHub)
SHELL := /bin/bash
VENV := .venv
BIN := $(PWD)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# Where readings come from in `make lab`: auto (NVML if present), nvml, replay or none.
BACKEND ?= auto
# With BACKEND=replay: a trace's path, or a bundled one's name (h200-mig-synthetic.jsonl: MIG).
TRACE ?=
PORT ?= 8888

.PHONY: lab test test-fast test-python test-js test-ui test-oldest test-hub build setup chromium prometheus bench clean lint lint-check screenshots

$(VENV)/.installed: pyproject.toml requirements-dev.txt
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

node_modules/.installed: $(VENV)/.installed package.json yarn.lock
	jlpm install --immutable
	touch $@

# Built again only when a source of the extension changed: `make lab` starts at once
# otherwise.
BUILD_INPUTS := $(wildcard $(shell git ls-files src style schema package.json tsconfig.json pyproject.toml 2>/dev/null))
$(VENV)/.built: node_modules/.installed $(BUILD_INPUTS)
	jlpm build
	$(BIN)/pip install -q --no-build-isolation -e '.[test]'
	# pip copies the built frontend into the environment; a link instead serves every later
	# build (the benchmarks' production one too) without installing again.
	jupyter labextension develop --overwrite .
	touch $@

build: $(VENV)/.built

setup: build

# The browser tests use the system's Chromium (Debian's package), which needs no download
# from Playwright's servers; CHROMIUM_EXECUTABLE tells the Playwright configuration.
export CHROMIUM_EXECUTABLE ?= $(shell command -v chromium 2>/dev/null || echo /usr/bin/chromium)
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Prometheus for the class hub tests: Debian's package (the binary is run by the tests with
# their own configuration, not as the system's service).
prometheus:
	@command -v prometheus >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

ui-tests/node_modules/.installed: ui-tests/package.json ui-tests/package-lock.json
	cd ui-tests && npm ci --no-audit --no-fund
	touch $@

lab: build
	jupyter lab --allow-root --no-browser --port=$(PORT) --GPUScope.backend=$(BACKEND) --GPUScope.replay_trace=$(TRACE)

# The diagnostic's tests run the collector in a real kernel with whichever torch is
# installed: they expect what that build reports of itself (a CPU build is told it has no
# CUDA; a CUDA build on a machine without a GPU is told there is no driver). From PyPI,
# `pip install torch` on x86_64 Linux is the CUDA build (some GB with its NVIDIA libraries);
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu takes the small CPU build instead.
# Where a torch wheel is kept in a local wheel folder (pip's find-links), pip takes that.
TORCH_INDEX_URL ?=
$(VENV)/.torch: $(VENV)/.installed
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	touch $@

test-python: build $(VENV)/.torch prometheus
	python -m pytest -q -m "not hub" python/jupyterlab_gpuscope/tests

test-js: node_modules/.installed
	jlpm test --silent

test-ui: build $(VENV)/.torch chromium ui-tests/node_modules/.installed
	cd ui-tests && npx playwright test

# The template's quality gates: eslint (with @jupyter/eslint-plugin), prettier, stylelint,
# the browser-free core compiled without the DOM, no import cycles, ruff for Python, and
# one JupyterLab version in every file that pins it (scripts/pin_jupyterlab.py).
PY_SOURCES := python bench scripts ui-tests/*.py ui-tests/oldest/*.py
lint-check: node_modules/.installed
	jlpm lint:check
	ruff check $(PY_SOURCES)
	ruff format --check $(PY_SOURCES)
	python scripts/pin_jupyterlab.py --check

# Fix what can be fixed, then report the rest.
lint: node_modules/.installed
	jlpm lint
	ruff format $(PY_SOURCES)
	ruff check --fix $(PY_SOURCES)

# The oldest supported JupyterLab (4.2, see pyproject.toml) with the release wheel.
VENV_OLDEST := .venv-jl42
$(VENV_OLDEST)/.installed: pyproject.toml
	test -x $(VENV_OLDEST)/bin/python || python3 -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/pip install -q --upgrade pip
	$(VENV_OLDEST)/bin/pip install -q "jupyterlab==4.2.5"
	touch $@

test-oldest: build $(VENV_OLDEST)/.installed chromium ui-tests/node_modules/.installed
	$(VENV_OLDEST)/bin/pip install -q --force-reinstall --no-deps "$$(python scripts/release_wheel.py dist)"
	$(VENV_OLDEST)/bin/pip install -q "$$(ls dist/jupyterlab_gpuscope-*.whl)"
	cd ui-tests && npx playwright test -c oldest/playwright.config.js

# The class on a real JupyterHub (docs/hub.md): JupyterHub with configurable-http-proxy,
# OS accounts gs-teacher and gs-student1..3 spawned by LocalProcessSpawner, Prometheus.
# Needs root: it creates those accounts, and lets other accounts traverse the folders above
# this checkout and its Python (o+x) so the students' servers can run them.
test-hub: build prometheus chromium ui-tests/node_modules/.installed
	python -m pytest -q -m hub python/jupyterlab_gpuscope/tests
	cd ui-tests && npx playwright test -c hub/playwright.config.js

test: lint-check test-python test-js test-ui test-oldest test-hub

# The everyday loop after a change: the quality gates, jest and pytest without the browser
# tests and without building the release wheel (a minute or two, not ten). `make test`
# runs everything, as CI does.
test-fast: node_modules/.installed
	$(MAKE) --no-print-directory lint-check
	jlpm test --silent
	python -m pytest -q -m "not wheel and not hub" python/jupyterlab_gpuscope/tests

# The README's images: the Galata tests with their screenshots written to docs/screenshots.
screenshots: build $(VENV)/.torch chromium prometheus ui-tests/node_modules/.installed
	cd ui-tests && GPUSCOPE_SCREENSHOTS=$(PWD)/docs/screenshots npx playwright test
	cd ui-tests && GPUSCOPE_SCREENSHOTS=$(PWD)/docs/screenshots npx playwright test -c hub/playwright.config.js

bench: build ui-tests/node_modules/.installed chromium prometheus
	python bench/server_load.py
	python bench/shared_gpus_load.py
	python bench/hub_scale.py  # root: 20 OS accounts gs-bench01..20
	python bench/frontend_size.py  # leaves the production build, which the browser benchmarks load
	node bench/lint_speed.js
	node bench/lint_quality.js
	node bench/lint_public.js
	node bench/explain_coverage.js
	python bench/cell_overhead.py
	cd ui-tests && npx playwright test -c bench/playwright.config.js update-cost
	cd ui-tests && npx playwright test -c bench/startup.config.js
	jlpm build  # frontend_size.py left a production build; back to the development one

clean:
	rm -rf lib python/jupyterlab_gpuscope/labextension tsconfig.tsbuildinfo node_modules ui-tests/node_modules $(VENV) $(VENV_OLDEST) dist
