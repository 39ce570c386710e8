# Two commands on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
FLASK := $(VENV)/bin/flask --app wsgi
APT_PACKAGES := ffmpeg redis-server chromium postgresql fonts-noto-cjk
STAMP_RUN := $(VENV)/.stamp-run
STAMP_DEV := $(VENV)/.stamp-dev
STAMP_NPM := node_modules/.stamp

.PHONY: run test bench lint system-deps deps dev-deps npm-deps migrate seed clean worker

# Serves the site on DANGXIAO_HOST:DANGXIAO_PORT (default 127.0.0.1:5000; the server prints the
# address) and, beside it, one transcoding worker. Ctrl-C stops both and ends with status 0:
# dangxiao/serve.py gives the server's own process group the terminal, so Ctrl-C reaches the
# server and not make; INT/TERM/HUP sent to that script stop both the same way.
run: system-deps deps npm-deps migrate seed
	@$(PY) -m dangxiao.serve

# pytest-xdist: one worker per core ("auto"); each worker starts its own PostgreSQL, Redis and
# Chromium, and every test already gets its own database, so tests never share state.
TEST_WORKERS ?= auto

test: system-deps dev-deps npm-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: system-deps dev-deps npm-deps
	@for f in bench/*.py; do case $$f in */__init__.py) ;; *) echo "# $$f"; $(PY) $$f || exit 1;; esac; done

# Fixes what it can: import order and other safe fixes, then the formatting `make test` checks.
lint: dev-deps
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Install the Debian packages the app and its tests use, only when one is missing.
system-deps:
	@missing=""; \
	command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing="$$missing ffmpeg"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v node >/dev/null || missing="$$missing nodejs npm"; \
	fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUN): requirements.txt | $(VENV)/bin/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	mkdir -p $(@D) && touch $@

$(STAMP_DEV): requirements.txt requirements-dev.txt $(STAMP_RUN)
	$(PIP) install -q -r requirements-dev.txt
	mkdir -p $(@D) && touch $@

deps: $(STAMP_RUN)
dev-deps: $(STAMP_DEV)

$(STAMP_NPM): package.json
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
	  else npm install --no-audit --no-fund --loglevel=error; fi
	mkdir -p $(@D) && touch $@

npm-deps: $(STAMP_NPM)

migrate: deps
	$(FLASK) db upgrade

seed: deps
	$(FLASK) seed-demo
	$(FLASK) search reindex  # content that existed before the search index (an older instance database)

worker: deps
	$(FLASK) media worker

clean:
	rm -rf $(VENV) node_modules
