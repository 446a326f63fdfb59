# Keel: `make run` sets up and starts Keel on SQLite with a demo organisation;
# `make test` sets up and runs the whole suite (SQLite, then PostgreSQL when KEEL_TEST_POSTGRES is set).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
KEEL := $(BIN)/keel
KEEL_PORT ?= 8000
PYTEST_WORKERS ?= 2
VENDOR := keel/web/static/vendor

.PHONY: run setup venv static messages migrate demo test test-sqlite test-postgres lint format bench clean

run: setup
	$(KEEL) migrate --no-input -v 0
	$(KEEL) demo --if-empty
	$(KEEL) collectstatic --no-input -v 0
	$(KEEL) serve --port $(KEEL_PORT) --worker

setup: venv static messages

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Keel needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9
	$(UV) pip install -q --python $(BIN)/python -r requirements-dev.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

static: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	touch $@

messages: venv
	$(KEEL) compiletranslations

migrate: setup
	$(KEEL) migrate --no-input

demo: migrate
	$(KEEL) demo

test: setup
	$(MAKE) test-sqlite
	@if [ -n "$$KEEL_TEST_POSTGRES" ]; then $(MAKE) test-postgres; \
	else echo "KEEL_TEST_POSTGRES is not set: the PostgreSQL pass is skipped (CI sets it)."; fi

test-sqlite:
	env -u DATABASE_URL $(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider $(PYTEST_ARGS)

test-postgres:
	DATABASE_URL="$$KEEL_TEST_POSTGRES" $(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider --create-db $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var/static var/test
