# calsync: the two commands are `make demo` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install test lint demo up down bench docs clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Lint, then the whole suite (the Firestore emulator up; fixtures start ours); exits with pytest's status.
test: install lint
	$(PY) -m emulators.stack test $(PYTEST_ARGS)

demo: install
	$(PY) -m emulators.stack demo

up: install
	$(PY) -m emulators.stack up

down:
	@if [ -x $(PY) ]; then $(PY) -m emulators.stack down; else echo "the local stack is not up"; fi

bench: install
	$(PY) -m bench.run

# Regenerate the README's settings and issue-code tables from their catalogues.
docs: $(VENV)/.installed
	$(PY) -m docs.generate

clean: down
	rm -rf $(VENV) .calsync .pytest_cache .ruff_cache .mypy_cache
