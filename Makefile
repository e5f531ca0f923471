# calsync: the two commands are `make demo` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
IAC_VENV := .venv-iac
SCHEMAS := .tools/terraform-schemas

.PHONY: install cli test lint demo up down bench docs clean prerequisites browser

install: $(VENV)/.installed $(IAC_VENV)/.installed $(SCHEMAS)/.installed

# Only what the admin command line needs (docs/deploy.md, step 7): no emulators, no Terraform tools.
cli: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

# checkov pins older libraries and brings its own `hcl2` module: the Terraform scanners get a venv
# of their own. Like every venv here it stays out of the function source (terraform/functions.tf).
$(IAC_VENV)/.installed: requirements-iac.txt
	@test -x $(IAC_VENV)/bin/python || $(PYTHON) -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/python -m pip install --quiet -r requirements-iac.txt
	@touch $@

# The provider schemas that stand in for `terraform validate`: cdktf's packages, from npm. npm is
# installed with apt where it is missing on a Debian machine run as root (CI); elsewhere the
# message says what to install.
$(SCHEMAS)/.installed: tools/terraform_providers.json tools/terraform_schema.py $(VENV)/.installed
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing npm with apt-get"; apt-get update -qq && apt-get install -y -qq npm; \
	  else \
	    echo "error: npm is not installed; the Terraform schema check needs it (Debian/Ubuntu: apt-get install npm)"; exit 1; \
	  fi; \
	fi
	$(PY) -m tools.terraform_schema fetch $(SCHEMAS)
	@touch $@

# ruff, mypy, and the Terraform checks: fmt, provider schemas, checkov, trivy (tools/lint_terraform.py).
lint: $(VENV)/.installed $(IAC_VENV)/.installed $(SCHEMAS)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m tools.lint_terraform terraform

# Java and the Cloud CLI, checked with the system Python before anything is installed.
prerequisites:
	@$(PYTHON) emulators/prerequisites.py

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

# Lint, then the whole suite (the Firestore emulator up; the fixtures start ours); exits with pytest's status.
test: prerequisites install lint browser
	CALSYNC_CHROMIUM=$(CHROMIUM) $(PY) -m emulators.stack test $(PYTEST_ARGS)

# The demo runs on a stack of its own: a running `make up` is not touched. HOLD=1 keeps it up
# after the demo (to look at the dashboard it prints) until Ctrl-C.
demo: prerequisites install
	$(PY) -m emulators.stack demo $(if $(HOLD),--hold,)

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
	rm -rf $(VENV) $(IAC_VENV) .tools .calsync .pytest_cache .ruff_cache .mypy_cache
