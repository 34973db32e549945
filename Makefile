# The two commands a newcomer needs:
#   make run    install what is missing, migrate, create a first admin, run web + worker + beat
#   make test   install what is missing, start real MariaDB/PostgreSQL/Redis, run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: run test install install-system lint clean

run:
	@$(MAKE) --no-print-directory install-system PACKAGES_FOR=run
	@$(MAKE) --no-print-directory $(VENV)/.installed-base
	$(PY) manage.py runplatform

test:
	@$(MAKE) --no-print-directory install-system PACKAGES_FOR=test
	@$(MAKE) --no-print-directory $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

install:
	@$(MAKE) --no-print-directory install-system PACKAGES_FOR=test
	@$(MAKE) --no-print-directory $(VENV)/.installed-dev

# Debian packages, installed only when missing: the MariaDB client library and pkg-config to
# build mysqlclient, Redis for 'run' (used only when none is reachable), and for 'test' the
# servers it starts on spare ports (pgloader for the W1 benchmark).
install-system:
	@need=""; \
	have() { command -v "$$1" >/dev/null 2>&1 || ls $$2 >/dev/null 2>&1; }; \
	have redis-server /nonexistent || need="$$need redis-server"; \
	have pkg-config /nonexistent || need="$$need pkg-config"; \
	pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null \
	  || need="$$need libmariadb-dev"; \
	if [ "$(PACKAGES_FOR)" = test ]; then \
	  have mariadbd /usr/sbin/mariadbd || need="$$need mariadb-server"; \
	  have initdb '/usr/lib/postgresql/*/bin/initdb' || need="$$need postgresql"; \
	  have pgloader /nonexistent || need="$$need pgloader"; \
	fi; \
	if [ -n "$$need" ]; then \
	  echo "Installing Debian packages:$$need"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$need; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-base: requirements/base.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements/base.txt
	touch $@

$(VENV)/.installed-dev: requirements/base.txt requirements/dev.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements/dev.txt
	touch $@ $(VENV)/.installed-base

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .dts-state .pytest_cache .mypy_cache .ruff_cache
