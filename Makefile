# The index in two commands: `make run` serves it, `make test` proves it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Bind address of `make run` and `make dev`: 0.0.0.0 serves other machines too
# (behind a TLS proxy, see the README).
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
# Few threads per worker: they share one interpreter lock, and more of them
# lengthen the slowest answers without raising throughput (see docs/benchmarks.md).
THREADS ?= 4
# `make edge`: the Varnish edge cache (edge/run) on EDGE_HOST:EDGE_PORT in front
# of the app at 127.0.0.1:PORT (docs/edge.md).
EDGE_HOST ?= 127.0.0.1
EDGE_PORT ?= 8001
# gunicorn settings every way of starting the index shares (keep-alive).
GUNICORN_CONF := pypi_site/gunicorn.conf.py
# Two stamps: serving needs the runtime dependencies only; the test toolchain
# (pytest, twine, uv, playwright, bandersnatch, ...) comes with the targets that
# use it. Installing it also satisfies the runtime stamp.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# Starts the throwaway PostgreSQL and Redis of `make test` (and `.ci/run`), and
# installs the Debian packages the tests need.
SERVICES := scripts/test-services
# axe-core for the browser tests, from the npm registry at the locked version.
# `make test` installs npm (Debian's nodejs/npm) first; under `make test-fast`
# without npm the browser tests skip and say why.
NPM ?= npm
AXE := tests/browser/node_modules/axe-core/axe.min.js
BROWSER_DEPS := $(if $(shell command -v $(NPM) 2>/dev/null),$(AXE))
# `make test` and `make test-fast` run the tests in this many pytest-xdist
# processes at once (0: all in pytest's own), the end-to-end tests first: on two
# cores a process waiting for a server, a client or a timer leaves the other one
# the CPU. tests/conftest.py says how the tests are shared out and kept apart.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder)

.DEFAULT_GOAL := help
# Prerequisites are made in the order written: `make test` installs the Debian
# packages before the virtualenv (python3-venv) and axe-core (npm) need them.
.NOTPARALLEL:
.PHONY: help install browser-deps run dev edge migrate test test-packages test-fast lint format \
	bench clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP) $(RUN_STAMP)

install: $(DEV_STAMP) ## Create the virtualenv and install everything, test toolchain included

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	$(NPM) ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	touch $@

browser-deps: $(AXE) ## Install axe-core for the browser tests (needs npm; Chromium: apt-get install chromium)

migrate: $(RUN_STAMP) ## Apply database migrations
	$(BIN)/python manage.py migrate --noinput

run: $(RUN_STAMP) ## Serve the index on http://$(HOST):$(PORT) (SQLite, local files)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/gunicorn pypi_site.wsgi:application --config $(GUNICORN_CONF) \
		--bind $(HOST):$(PORT) --workers $(WORKERS) --worker-class gthread --threads $(THREADS) \
		--access-logfile - --timeout 300

dev: $(RUN_STAMP) ## Serve with Django's auto-reloading development server (DEBUG on)
	$(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

edge: ## Serve the edge cache (Varnish) on http://$(EDGE_HOST):$(EDGE_PORT) in front of `make run`
	EDGE_HOST=$(EDGE_HOST) EDGE_PORT=$(EDGE_PORT) EDGE_BACKEND_PORT=$(PORT) edge/run

test-packages: ## Install the Debian packages the tests need (as root), or say which are missing
	PYTHON=$(PYTHON) $(SERVICES) packages

# Against a throwaway PostgreSQL and Redis that scripts/test-services starts on
# free ports and stops at the end (a DATABASE_URL or REDIS_URL already set is used
# instead). CI=true: a browser test that cannot run fails instead of skipping
# (tests/browser/tooling.py), so the suite never passes by leaving tests out.
# The browser tests' screenshots land in test-artifacts/screenshots/
# (TEST_ARTIFACTS_DIR=<dir> puts them in <dir>/screenshots/).
test: test-packages $(DEV_STAMP) $(AXE) ## The whole suite with coverage, on its own PostgreSQL + Redis (installs them as root)
	CI=true PYTHON=$(PYTHON) $(SERVICES) run \
		$(BIN)/python -m pytest $(XDIST) --cov --cov-report=term-missing $(PYTEST_ARGS)

test-fast: $(DEV_STAMP) $(BROWSER_DEPS) ## The suite without end-to-end tests and coverage, on the settings as they are (SQLite by default)
	$(BIN)/python -m pytest $(XDIST) -m "not e2e" -q $(PYTEST_ARGS)

lint: $(DEV_STAMP) ## ruff check, ruff format --check, and the layers (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(DEV_STAMP) ## Reformat the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(DEV_STAMP) ## Run the benchmarks (not part of the tests)
	$(BIN)/python benchmarks/run.py

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var .coverage htmlcov .pytest_cache tests/browser/node_modules test-artifacts .cache \
		.import_linter_cache
