# The only entry points a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium
HOST ?= 127.0.0.1
PORT ?= 8000
# Drop the machine-wide pip notices about absent local mirrors; real errors still show.
PIP_QUIET := { grep -v "^WARNING: Location '" || true; }

.PHONY: help install install-dev chromium run test test-fast lint typecheck format bench bench-webhooks scale-test page-scale clean

help:
	@echo "make run    install, migrate, seed the demo account, serve on http://$(HOST):$(PORT) with a worker"
	@echo "make test   install the dev tools and Chromium, run the whole suite (browser tests included)"
	@echo "make lint   ruff check and format check"
	@echo "make typecheck  mypy with django-stubs over the project's packages"
	@echo "make bench  API throughput benchmark (see README)"
	@echo "make bench-webhooks  webhook delivery throughput, a burst of events, a slow endpoint (see README)"
	@echo "make scale-test  two servers on one PostgreSQL: revocation, key-limit race, load, faults (see README)"
	@echo "make page-scale  each page's server time and queries with 1,000 keys and 1M events (see README)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | $(PIP_QUIET)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e . 2>&1 | $(PIP_QUIET)
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]' 2>&1 | $(PIP_QUIET)
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Production (README "Production"): exactly the pinned, hashed requirements.lock, then the project
# non-editable, into $(VENV) (VENV=/srv/voxkeys/.venv to choose); bin/install-prod says how.
.PHONY: install-prod lock lock-check
install-prod:
	PYTHON=$(PYTHON) bin/install-prod $(VENV) 2>&1 | $(PIP_QUIET)

# requirements.lock from pyproject.toml's runtime dependencies (pip-compile: needs the package
# index). Pins still in range are kept; UPGRADE=1 moves every pin to the newest release in range.
LOCK_FILE := requirements.lock
lock: install-dev
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
		--allow-unsafe --strip-extras --build-deps-for wheel --no-emit-index-url \
		--no-emit-find-links $(if $(UPGRADE),--upgrade) \
		--output-file $(LOCK_FILE) pyproject.toml 2>&1 | $(PIP_QUIET)
	$(BIN)/python bin/lockfile.py stamp $(LOCK_FILE)

# Offline and quick (CI): fails when pyproject.toml's runtime dependencies changed since `make lock`.
lock-check: install-dev
	$(BIN)/python bin/lockfile.py check $(LOCK_FILE)

# $(call debian_package,COMMAND,PACKAGE,WHY): apt-get install PACKAGE when COMMAND is missing.
define debian_package
	@if ! command -v $(1) >/dev/null; then \
		echo "Installing Debian's $(2): $(3)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
			echo "error: $(1) is missing and this user cannot run apt-get; run 'apt-get install $(2)' as root." >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(2) >/dev/null \
			|| { echo "error: could not install $(2) with apt-get; install it by hand, then run make again." >&2; exit 1; }; \
	fi
endef

chromium:
	$(call debian_package,$(CHROMIUM),chromium,the browser tests drive it (playwright cannot download browsers here))
	$(call debian_package,curl,curl,the browser tests run the guide's curl command)

run: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo
	@echo "VoxKeys is starting on http://$(HOST):$(PORT)/ - log in with a demo login above (admin: /admin/)."
	@# The task queue's worker beside the server (emails are its jobs); Ctrl-C stops both.
	DEBUG=1 $(BIN)/python manage.py run_worker --no-reload --interval 0.5 & worker=$$!; \
		trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT; \
		DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install-dev chromium
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install-dev
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Which packages, and how strictly: [tool.mypy] in pyproject.toml.
typecheck: install-dev
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# PostgreSQL by default (the authentication cache needs it); DATABASE_URL=sqlite:///... for SQLite.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/voxkeys_bench
bench: install-dev
	$(call debian_package,wrk,wrk,the load generator the benchmark drives the API with)
	DATABASE_URL="$${DATABASE_URL:-$(BENCH_DATABASE_URL)}" $(BIN)/python bench/api_throughput.py
	DATABASE_URL="$${DATABASE_URL:-$(BENCH_DATABASE_URL)}" $(BIN)/python bench/auth_cost.py
	$(BIN)/python bench/metrics_cost.py
	@# BENCH_BEFORE=<git revision>: also compare that version with this tree, request by request.
	if [ -n "$${BENCH_BEFORE:-}" ]; then $(BIN)/python bench/before_after.py "$$BENCH_BEFORE"; fi

# Webhooks on PostgreSQL: deliveries per worker and event -> delivered latency, a burst of 10,000
# events against the API's latency, a slow endpoint beside a fast one. A few minutes in all.
bench-webhooks: install-dev
	DATABASE_URL="$${DATABASE_URL:-$(BENCH_DATABASE_URL)}" $(BIN)/python bench/webhook_delivery.py
	DATABASE_URL="$${DATABASE_URL:-$(BENCH_DATABASE_URL)}" $(BIN)/python bench/webhook_burst.py
	DATABASE_URL="$${DATABASE_URL:-$(BENCH_DATABASE_URL)}" $(BIN)/python bench/webhook_slow_endpoint.py

# Needs PostgreSQL: DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/voxkeys_scale.
scale-test: install-dev
	$(BIN)/python bench/scale_test.py

# Needs PostgreSQL: a database per size, postgres://postgres@127.0.0.1:5432/voxkeys_pagescale_<size>.
PAGE_SCALE ?= large
page-scale: install-dev
	$(BIN)/python bench/page_scale.py --scale $(PAGE_SCALE)

clean:
	rm -rf $(VENV) staticfiles .test-db-* db.sqlite3
