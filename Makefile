# Two commands: `make demo` and `make test`. Both set everything up first (virtualenv from the
# requirements files, Azurite from package.json; for the tests, Debian's chromium); re-running is quick when
# nothing changed.
# While working: `make lint` (ruff, the type checker, the import contracts) and `make unit` (the pure tests:
# no Azurite, no host process, no network; well under a minute).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# The Python worker's own library, for its indexing and load checks. It declares Python >= 3.13, but pip cannot
# install the app's pinned azure-functions there, and it runs on 3.11: hence --ignore-requires-python.
WORKER_LIB := azure-functions-runtime==1.3.0
# A venv with exactly requirements.txt and the worker library: tests/conformance index function_app.py in it,
# funchost/tests/conformance the bad apps.
WORKER_VENV := .venv-worker
WORKER_STAMP := $(WORKER_VENV)/.installed
# The browser tests (tests/browser) drive this headless Chromium through Playwright, never a browser Playwright
# downloads: Debian's `chromium` package, installed by `make test` when missing. Elsewhere, point CHROMIUM at a
# Chromium or Chrome binary (`make test CHROMIUM=/path/to/chrome`); the tests read it from the environment.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

# The pure tests: `make unit` runs these directories without the tests marked `slow` (those that wait in real
# time or import a heavy SDK); `make test` runs every test.
UNIT_TESTS := tests/unit funchost/tests/unit

.PHONY: setup test unit demo lint bench clean

setup: $(VENV_STAMP) $(NODE_STAMP)

$(VENV_STAMP): requirements.txt requirements-pulumi.txt requirements-dev.txt infra/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --ignore-requires-python $(WORKER_LIB)
	touch $@

$(WORKER_STAMP): requirements.txt  # built anew, so it holds exactly what requirements.txt installs
	rm -rf $(WORKER_VENV)
	$(PYTHON) -m venv $(WORKER_VENV)
	$(WORKER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --ignore-requires-python \
		$(WORKER_LIB) -r requirements.txt
	touch $@

# The binary is its own stamp. As root (CI, containers) apt-get installs it; otherwise sudo if it needs no
# password; else stop with what to do, as the browser tests cannot run without it.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "$@ is missing and cannot be installed without root: run 'sudo apt-get install chromium'," \
		"or 'make test CHROMIUM=/path/to/chromium' (the browser tests in tests/browser need it)" >&2; exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$sudo apt-get install -y -q chromium || { $$sudo apt-get update -q && $$sudo apt-get install -y -q chromium; }
	test -x $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo

# Two workers, each taking whole modules (a module's host process and Azurite are started once): the end-to-end
# tests mostly wait on hosts and workloads, so two workers halve the run on the 2-core CI machine.
test: lint $(WORKER_STAMP) $(CHROMIUM)
	$(PY) -m pytest -n 2 --dist loadfile

unit: $(VENV_STAMP)
	$(PY) -m pytest $(UNIT_TESTS) -m "not slow" -q -n auto

# `make demo HOLD=1` keeps the local host (and the Runtime Center page) up after the scenario until Ctrl-C.
demo: setup
	$(PY) -m controlplane demo $(if $(filter 1 yes true,$(HOLD)),--hold)

# Every benchmark, one after the other (about 35 minutes in all); each prints a table, then one JSON line.
BENCHES := engine state_store drift drift_run scaling loops cold_import audit router_analysis reliability deployment_cost api retention
bench: setup
	set -e; for name in $(BENCHES); do $(PY) bench/$$name.py; done

clean:
	rm -rf $(VENV) $(WORKER_VENV) node_modules .local artifacts .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
