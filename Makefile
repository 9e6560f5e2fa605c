# pixring: the two commands are `make demo` and `make test`; `make setup` is what both run first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIXRING := $(VENV)/bin/pixring
export PIXRING_HOME ?= $(CURDIR)/var
# pytest arguments, e.g. `make test PYTEST_ARGS="-k kafka"`
PYTEST_ARGS ?=

.PHONY: help setup system-packages jars ui demo lint test up down status clean

help:
	@echo "make demo   - install everything, start Kafka/Neo4j/MLflow, run the pipeline, print where to look"
	@echo "make test   - install everything, start the services the tests need, run every test"
	@echo "make lint   - ruff, the import contracts (lint-imports) and no private names across packages"
	@echo "make setup | up | down | status | clean"

# Debian packages the project needs (Java 17 and Maven are on the machine image; installed only if missing)
system-packages:
	@bash infra/install-system-packages.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

jars: $(VENV)/.installed
	@$(PIXRING) jars

ui: system-packages
	@bash api/ui/build.sh

setup: system-packages $(VENV)/.installed jars ui

up: setup
	@$(PIXRING) up
down:
	@test -x $(PIXRING) && $(PIXRING) down || true
status:
	@$(PIXRING) status

demo: setup
	@$(PIXRING) demo

# Static checks, before any test: ruff (pyproject [tool.ruff]), import-linter's contracts (pyproject
# [tool.importlinter]: datagen alone, lakehouse -> graph -> gnn -> streaming | api, the contract imports no
# stage) and no package importing another's private names.
lint: $(VENV)/.installed
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/lint-imports --no-cache
	@$(PY) .ci/private_imports.py

# Starts the services the tests need; stops them afterwards only if this run started them.
test: setup lint
	@if $(PIXRING) status >/dev/null 2>&1; then started=no; else started=yes; fi; \
	$(PIXRING) up || exit $$?; \
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ "$$started" = yes ]; then $(PIXRING) down; fi; \
	exit $$rc

clean: down
	rm -rf $(PIXRING_HOME)
