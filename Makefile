# calsync: the two commands are `make demo` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TASKS_VENV := .venv-tasks

.PHONY: install test lint demo up down bench docs clean browser

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

# The browser tests drive Debian's Chromium through Playwright (never Playwright's own browser
# download): installed with apt when missing, as root; otherwise say what to install.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Chromium for the browser tests (apt-get install chromium)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "error: the browser tests need Chromium at $(CHROMIUM): run 'sudo apt-get install chromium' (Debian/Ubuntu), or give its path with CHROMIUM=..." >&2; \
		exit 1; \
	fi

# Lint, then the whole suite with the Firestore and Cloud Tasks emulators up; exits with pytest's status.
test: install lint browser
	CALSYNC_CHROMIUM=$(CHROMIUM) $(PY) -m emulators.stack test $(PYTEST_ARGS)

# HOLD=1 keeps the stack up after the demo (to look at the dashboard it prints) until Ctrl-C.
demo: install
	$(PY) -m emulators.stack demo $(if $(HOLD),--hold,)

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
	rm -rf $(VENV) $(TASKS_VENV) .calsync .pytest_cache .ruff_cache .mypy_cache
