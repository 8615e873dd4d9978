# SnapQueue: `make run` starts the whole stack on this machine, `make test` tests it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/uv/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
PROCESSES := emulator $(foreach p,upload:upload-service/src/upload_service notifier:notifier-service/src/notifier_service worker:processing-worker/src/processing_worker,$(if $(wildcard $(word 2,$(subst :, ,$(p)))/__main__.py),$(word 1,$(subst :, ,$(p))))) $(if $(wildcard frontend/package.json),frontend)

corpus: install-python
	$(PY) -m devstack.corpus

.PHONY: corpus help install install-python install-frontend install-browser install-tools run test lint format bench clean

help:
	@echo "make run    start the embedded stack (emulator, services, SPA on http://127.0.0.1:8080)"
	@echo "make test   install what is needed and run the whole test suite"
	@echo "make lint   ruff and mypy"
	@echo "make bench  run the benchmarks and write docs/benchmarks.md"

$(UV):
	python3 -m venv .tools/uv && .tools/uv/bin/pip install --quiet uv

install-python: $(UV)
	$(UV) sync --all-packages --frozen

install-frontend:
	@if [ -f frontend/package.json ]; then \
	  if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then \
	    npm --prefix frontend ci --no-audit --no-fund; fi; \
	  npm --prefix frontend run build; fi

# Browser tests drive Debian's Chromium; install it when we are allowed to.
install-browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium (browser tests will fail)"; fi; }

# Deployment checkers (checkov, actionlint) in their own environments under .tools/.
install-tools:
	bash scripts/install-tools.sh

install: install-python install-frontend install-tools

run: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -e .env.embedded -f Procfile start $(PROCESSES)

test: install install-browser corpus
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	@if [ -f frontend/package.json ]; then npm --prefix frontend test; fi

lint: install-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@if [ -f frontend/package.json ]; then npm --prefix frontend run lint; fi

format: install-python
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install corpus
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tools frontend/node_modules frontend/dist .pytest_cache .mypy_cache .ruff_cache
