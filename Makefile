# The Account service. `make help` lists the targets.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 2
export ACCOUNT_INSTANCE_PATH ?= $(CURDIR)/instance

.DEFAULT_GOAL := help
.PHONY: help run migrate test lint clean bench report-preview

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

# The 6.20 reference client has the 7.9 client's import name: it lives apart, in
# $(VENV)/v620, and tests/test_v6_contract.py runs it in a subprocess.
$(VENV)/.v620: requirements-v6.txt | $(BIN)/python
	rm -rf $(VENV)/v620
	$(BIN)/pip install --quiet --no-deps --target $(VENV)/v620 -r requirements-v6.txt
	touch $@

# The benchmark suite's tools (py-spy; wrk is Debian's package, installed by `make bench`).
$(VENV)/.bench: requirements.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $(VENV)/.runtime $@

migrate: $(VENV)/.runtime ## Create or upgrade the database schema
	$(BIN)/flask --app wsgi account migrate

run: migrate ## Serve on 127.0.0.1:$(PORT) with gunicorn (embedded SQLite unless ACCOUNT_DATABASE_URL is set)
	@echo "Account service: http://127.0.0.1:$(PORT)"
	@echo "  API docs: http://127.0.0.1:$(PORT)/account/openapi/docs  http://127.0.0.1:$(PORT)/account/openapi/redoc"
	@echo "  pages:    http://127.0.0.1:$(PORT)/account/file/file_en.html  http://127.0.0.1:$(PORT)/account/file/file_ru.html"
	@echo "  6.20:     http://127.0.0.1:$(PORT)/v6/account/openapi/docs"
	@echo "  console:  http://127.0.0.1:$(PORT)/account/console/"
	$(BIN)/gunicorn --config gunicorn.conf.py --bind 127.0.0.1:$(PORT) --workers $(WORKERS) wsgi:app

# Debian packages the suite drives: Chromium and its driver (the API docs offline,
# tests/test_docs_offline.py; the console, tests/test_console.py) and PgBouncer (several
# instances, tests/test_instances.py); installed when missing.
TEST_DEBS := chromium chromium-driver pgbouncer

test: $(VENV)/.dev $(VENV)/.v620 ## Install and run the whole suite (also on PostgreSQL when CI=true or ACCOUNT_TEST_DATABASE_URL is set)
	@missing=$$(for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); [ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && { apt-get install -y -qq $$missing || { apt-get update -qq && apt-get install -y -qq $$missing; }; } >/dev/null 2>&1; } || echo "could not install $$missing (Debian packages): the tests that need them fail"
	$(BIN)/python -m pytest

# BENCH_ARGS passes options to bench/run.py: "--rounds 7", "--only info --profile info", "--tiny".
bench: $(VENV)/.bench ## Benchmark on PostgreSQL (ACCOUNT_BENCH_DATABASE_URL): writes bench/RESULTS.md and results.json
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && { apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; } >/dev/null 2>&1; } \
	  || echo "wrk not installed: the load comes from Python threads"
	$(BIN)/python -m bench.run $(BENCH_ARGS)

report-preview: $(VENV)/.runtime ## Render the demo user's 90-day report to docs/report-preview.png (LibreOffice, pdftoppm)
	$(BIN)/python -m tools.report_preview

lint: $(VENV)/.dev ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
