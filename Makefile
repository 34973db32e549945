# The two commands a newcomer needs:
#   make run    install what is missing, migrate, create a first admin, run web + worker + beat
#   make test   install what is missing, start real MariaDB/PostgreSQL/Redis, run the whole suite
#               (the console's Vitest suite, then pytest with the Playwright end-to-end tests)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

# The browser console (frontend/): rebuilt only when its sources or lock file changed (stamp files).
FRONTEND := frontend
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src -type f 2>/dev/null) $(addprefix $(FRONTEND)/,index.html \
	vite.config.ts tsconfig.json package.json)

.PHONY: run test install install-system lint clean frontend frontend-test bench-w4

run:
	@$(MAKE) --no-print-directory install-system PACKAGES_FOR=run
	@$(MAKE) --no-print-directory $(VENV)/.installed-base frontend
	$(PY) manage.py runplatform

test:
	@$(MAKE) --no-print-directory install-system PACKAGES_FOR=test
	@$(MAKE) --no-print-directory $(VENV)/.installed-dev frontend
	@$(MAKE) --no-print-directory frontend-test
	$(PY) -m pytest $(PYTEST_ARGS)

install:
	@$(MAKE) --no-print-directory install-system PACKAGES_FOR=test
	@$(MAKE) --no-print-directory $(VENV)/.installed-dev frontend

frontend: $(FRONTEND)/dist/.built

frontend-test: $(FRONTEND)/node_modules/.installed
	cd $(FRONTEND) && npm test -- --run

$(FRONTEND)/node_modules/.installed: $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	touch $@

$(FRONTEND)/dist/.built: $(FRONTEND)/node_modules/.installed $(FRONTEND_SOURCES)
	cd $(FRONTEND) && npm run build
	touch $@

# Debian packages, installed only when missing: the MariaDB client library and pkg-config to
# build mysqlclient, Redis for 'run' (used only when none is reachable), Node.js/npm to build the
# console, and for 'test' the servers it starts on spare ports (pgloader for the W1 benchmark) and
# Chromium and a CJK font for the end-to-end tests (Playwright drives /usr/bin/chromium; it never
# downloads one; the font makes the Chinese UI legible in the screenshots).
install-system:
	@need=""; \
	have() { command -v "$$1" >/dev/null 2>&1 || ls $$2 >/dev/null 2>&1; }; \
	have redis-server /nonexistent || need="$$need redis-server"; \
	have npm /nonexistent || need="$$need nodejs npm"; \
	have pkg-config /nonexistent || need="$$need pkg-config"; \
	pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null \
	  || need="$$need libmariadb-dev"; \
	if [ "$(PACKAGES_FOR)" = test ]; then \
	  have mariadbd /usr/sbin/mariadbd || need="$$need mariadb-server"; \
	  have initdb '/usr/lib/postgresql/*/bin/initdb' || need="$$need postgresql"; \
	  have pgloader /nonexistent || need="$$need pgloader"; \
	  have chromium /usr/bin/chromium || need="$$need chromium"; \
	  fc-list :lang=zh 2>/dev/null | grep -q . || need="$$need fonts-wqy-microhei"; \
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

# W4: compare 1M rows MariaDB vs PostgreSQL, side by side with reladiff (installed for the bench only).
bench-w4: $(VENV)/.installed-dev
	$(PY) -m pip install -q -r requirements/bench.txt
	$(PY) -m bench.w4_compare

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .dts-state .pytest_cache .mypy_cache .ruff_cache $(FRONTEND)/node_modules $(FRONTEND)/dist
