# Every target bootstraps .venv itself: a fresh clone needs only `make run` or `make test`.
# The venv holds only what the program needs (`make run`, the service install); `make test`
# and `make bench` add their own extras on top, each behind its own stamp.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
TESTED  := $(VENV)/.installed-test
BENCHED := $(VENV)/.installed-bench
SHARED  ?= ../shared
# Extra runtime sets for a service install, e.g. `make install EXTRAS=postgres`.
EXTRAS  ?=
PIP     := $(BIN)/python -m pip install -q
LOG     := $(VENV)/install.log

.PHONY: install run test demo bench lint check clean services

$(BIN)/python:
	@$(PY) -m venv $(VENV)
	@echo "upgrading pip in $(VENV) (log: $(LOG))"
	@$(PIP) --upgrade pip > $(LOG) 2>&1 || (cat $(LOG); exit 1)

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "installing newswatch and its runtime dependencies into $(VENV) (log: $(LOG))"
	@$(PIP) -e . >> $(LOG) 2>&1 || (cat $(LOG); exit 1)
	@touch $(STAMP)

$(TESTED): $(STAMP)
	@echo "adding the test tools (pytest, Playwright, ruff, psycopg) to $(VENV)"
	@$(PIP) -e '.[test]' >> $(LOG) 2>&1 || (cat $(LOG); exit 1)
	@touch $(TESTED)

$(BENCHED): $(STAMP)
	@echo "adding the benchmark anchors (trafilatura) to $(VENV)"
	@$(PIP) -e '.[bench]' >> $(LOG) 2>&1 || (cat $(LOG); exit 1)
	@touch $(BENCHED)

install: $(STAMP) ## the runtime only: what the systemd units run (see systemd/README.md)
	@$(if $(EXTRAS),$(PIP) -e '.[$(EXTRAS)]' >> $(LOG) 2>&1 || (cat $(LOG); exit 1),true)

run: $(STAMP) ## start the daemon on the default config, SQLite in ./data
	$(BIN)/newswatch check
	$(BIN)/newswatch run

demo: $(STAMP) ## a full offline pass over a sample news site on 127.0.0.1
	$(BIN)/newswatch demo

services: ## install and start what the tests need (PostgreSQL, Chromium); root only
	@bash scripts/test-services.sh

test: $(TESTED) ## every test, with PostgreSQL and Chromium when they can be set up
	@bash scripts/test-services.sh && $(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

lint: $(TESTED)
	$(BIN)/ruff check .

bench: $(BENCHED) ## benchmarks print side-by-side ratios; they take ../shared as an argument
	$(BIN)/python bench/extract.py $(SHARED)/extraction-bench
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/pipeline.py

check: $(STAMP)
	$(BIN)/newswatch check

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
