# The index in two commands: `make run` serves it, `make test` proves it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 2
# Few threads per worker: they share one interpreter lock, and more of them
# lengthen the slowest answers without raising throughput (see docs/benchmarks.md).
THREADS ?= 4
STAMP := $(VENV)/.installed
# axe-core for the browser tests, from the npm registry at the locked version.
# Without npm, `make test` still runs: the browser tests then skip and say why.
NPM ?= npm
AXE := tests/browser/node_modules/axe-core/axe.min.js
BROWSER_DEPS := $(if $(shell command -v $(NPM) 2>/dev/null),$(AXE))

.DEFAULT_GOAL := help
.PHONY: help install browser-deps run dev migrate test test-fast lint format bench clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install everything

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	$(NPM) ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	touch $@

browser-deps: $(AXE) ## Install axe-core for the browser tests (needs npm; Chromium: apt-get install chromium)

migrate: $(STAMP) ## Apply database migrations
	$(BIN)/python manage.py migrate --noinput

run: $(STAMP) ## Serve the index on http://127.0.0.1:$(PORT) (SQLite, local files)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/gunicorn pypi_site.wsgi:application --bind 127.0.0.1:$(PORT) \
		--workers $(WORKERS) --worker-class gthread --threads $(THREADS) \
		--access-logfile - --timeout 300

dev: $(STAMP) ## Serve with Django's auto-reloading development server (DEBUG on)
	$(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The browser tests' screenshots land in test-artifacts/screenshots/
# (TEST_ARTIFACTS_DIR=<dir> puts them in <dir>/screenshots/).
test: $(STAMP) $(BROWSER_DEPS) ## Run the whole test suite with coverage enforced, browser tests included
	$(BIN)/python -m pytest --cov --cov-report=term-missing $(PYTEST_ARGS)

test-fast: $(STAMP) $(BROWSER_DEPS) ## Run the suite without the end-to-end tests and coverage
	$(BIN)/python -m pytest -m "not e2e" -q $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Reformat the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## Run the benchmarks (not part of the tests)
	$(BIN)/python benchmarks/run.py

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var .coverage htmlcov .pytest_cache tests/browser/node_modules test-artifacts
