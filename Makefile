# Two commands: `make demo` and `make test`. Both set everything up first (virtualenv from the
# requirements files, Azurite from package.json); re-running is quick when nothing changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: setup test demo lint bench clean

setup: $(VENV_STAMP) $(NODE_STAMP)

$(VENV_STAMP): requirements.txt requirements-pulumi.txt requirements-dev.txt infra/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: setup
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest

demo: setup
	$(PY) -m controlplane demo

clean:
	rm -rf $(VENV) node_modules .local .pytest_cache .ruff_cache
