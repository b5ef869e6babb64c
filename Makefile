# Scoopboard: `make run` serves the app, `make test` runs linters and the whole suite.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

# The first Python >= 3.12 on PATH.
PYTHON := $(shell for p in python3.13 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; \
	then echo $$p; break; fi; done)

.PHONY: run run-procfile test lint test-sqlite test-services system-deps haproxy-deps bench soak dist clean \
	lock lock-check install-run install-test install-bench

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "Scoopboard needs Python 3.12 or newer (python3.13, python3.12 or python3 on PATH)."; \
		echo "Install it first, e.g. 'apt-get install python3.12 python3.12-venv' or from https://www.python.org/downloads/"; \
		exit 1; fi
	$(PYTHON) -m venv $(VENV)

# Installs come from uv.lock alone: every package of the tree at its locked version, checked against its hash.
# uv is pinned here and in pyproject.toml ([tool.uv] required-version, which refuses any other uv).
UV_VERSION := 0.13.8
UV := $(BIN)/uv
UV_ENV := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never
# --python: the venv's own interpreter, even where .python-version names another one.
SYNC := $(UV_ENV) $(UV) sync --locked --no-install-project --python $(BIN)/python --quiet

$(VENV)/.uv-$(UV_VERSION): | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	rm -f $(VENV)/.uv-* && touch $@

# A pyproject.toml edited without `make lock` stops here instead of installing something else than the lock.
lock-check: $(VENV)/.uv-$(UV_VERSION)
	@$(UV_ENV) $(UV) lock --check --quiet || { \
		echo "uv.lock does not match pyproject.toml: run 'make lock' and commit uv.lock."; exit 1; }

# `make run` needs the run group; it leaves the test tools in place. `make test` and `make bench` install
# their group exactly, removing whatever the lock does not list.
install-run: lock-check
	$(SYNC) --inexact --only-group run

install-test: lock-check
	$(SYNC) --only-group test

install-bench: lock-check
	$(SYNC) --only-group bench

# After editing the dependency groups (or to move the unpinned transitive dependencies: LOCK_ARGS=--upgrade).
lock: $(VENV)/.uv-$(UV_VERSION)
	$(UV_ENV) $(UV) lock $(LOCK_ARGS)

run: install-run
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py serve --port $(PORT)

run-procfile: install-run
	@if [ -z "$$DATABASE_URL" ] || [ -z "$$REDIS_URL" ]; then \
		echo "run-procfile needs DATABASE_URL (PostgreSQL) and REDIS_URL (Redis)."; exit 1; fi
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@# The Procfile's release step (migrate) ran above; honcho runs its long-lived processes.
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start web worker dispatcher

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy retry orders consumers project tests benchmarks harness
	$(BIN)/python manage.py makemigrations --check --dry-run

# Pass 1: SQLite and the in-memory channel layer. Pass 2: the tests marked `services`
# again, against a database of their own on PostgreSQL and a key prefix of their own on Redis.
PG_URL ?= postgres://postgres@127.0.0.1:5432/scoopboard
REDIS_TEST_URL ?= redis://127.0.0.1:6379/0
RUN_ID := $(shell date +%s)$$$$
# pytest-xdist processes per pass, each test file in one of them (0: no xdist). The tests mostly wait on workers,
# sockets and timers, so two per pass keep two cores busy; each has its own test database and Redis key prefix.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadfile

test-sqlite: install-test system-deps
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-services: install-test
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) REDIS_PREFIX=scoopboard-test-$(RUN_ID) \
		TEST_DATABASE_NAME=test_scoopboard_$(RUN_ID) $(BIN)/python -m pytest -m services $(XDIST) $(PYTEST_ARGS)

# The two passes wait on processes, sockets and timers more than they compute: they run side by side.
test: lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-services

# Debian's packages that a fresh machine lacks, installed in one apt-get: two at once (the two passes run side by
# side) would fight over apt's lock. chromium runs the browser tests, haproxy fronts the cluster soak's web processes
# (tests/faults/test_cluster_soak.py, `make soak`).
apt-install = @missing=""; for package in $(1); do \
		command -v $$package >/dev/null 2>&1 || test -x /usr/sbin/$$package || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian's$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
		|| echo "Could not install$$missing (run as root, or install it yourself): the tests that need it will fail."; fi

system-deps:
	$(call apt-install,chromium haproxy)

haproxy-deps:
	$(call apt-install,haproxy)

bench: install-bench haproxy-deps
	$(BIN)/python benchmarks/run.py

# The whole cluster on this machine for about 5 minutes, through faults (benchmarks/soak.py); `make bench` runs it too.
SOAK_ARGS ?= --seconds 280 --rate 1 --kitchens 350 --pickups 150 --staff 4 --client-processes 4
soak: install-bench haproxy-deps
	$(BIN)/python -m benchmarks.soak benchmarks/results/soak.json $(SOAK_ARGS)

# The retry layer's wheel alone (django-channels-retry), built with the backend pinned in the test group.
dist: install-test
	rm -rf dist
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .
	@ls -l dist/*.whl

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache dist build *.egg-info
