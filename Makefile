# calsync: the two commands are `make demo` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TASKS_VENV := .venv-tasks

.PHONY: install test lint demo up down bench docs clean prerequisites

install: $(VENV)/.installed $(TASKS_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

# The Cloud Tasks emulator pins protobuf<5: it gets a venv of its own.
$(TASKS_VENV)/.installed: requirements-tasks.txt
	@test -x $(TASKS_VENV)/bin/python || $(PYTHON) -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/python -m pip install --quiet -r requirements-tasks.txt
	@touch $@

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Java and the Cloud CLI, checked with the system Python before anything is installed.
prerequisites:
	@$(PYTHON) emulators/prerequisites.py

# Lint, then the whole suite with the Firestore and Cloud Tasks emulators up; exits with pytest's status.
test: prerequisites install lint
	$(PY) -m emulators.stack test $(PYTEST_ARGS)

# The demo runs on a stack of its own: a running `make up` is not touched.
demo: prerequisites install
	$(PY) -m emulators.stack demo

# `make up SEED=demo` loads the demo's org and reps into the new stack.
up: prerequisites install
	$(PY) -m emulators.stack up $(if $(SEED),--seed $(SEED))

down:
	@if [ -x $(PY) ]; then $(PY) -m emulators.stack down; else echo "the local stack is not up"; fi

bench: install
	$(PY) -m bench.run

# Regenerate the README's settings and issue-code tables from their catalogues.
docs: $(VENV)/.installed
	$(PY) -m docs.generate

clean: down
	rm -rf $(VENV) $(TASKS_VENV) .calsync .pytest_cache .ruff_cache .mypy_cache
