# Every target bootstraps .venv itself: a fresh clone needs only `make run` or `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SHARED  ?= ../shared

.PHONY: run test demo bench lint check clean services

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "installing newswatch and its dependencies into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@$(BIN)/python -m pip install -q -e '.[test,bench]' >> $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP)

run: $(STAMP) ## start the daemon on the default config, SQLite in ./data
	$(BIN)/newswatch check
	$(BIN)/newswatch run

demo: $(STAMP) ## a full offline pass over a sample news site on 127.0.0.1
	$(BIN)/newswatch demo

services: ## install and start what the tests need (PostgreSQL, Chromium); root only
	@bash scripts/test-services.sh

test: $(STAMP) ## every test, with PostgreSQL and Chromium when they can be set up
	@bash scripts/test-services.sh && $(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP) ## benchmarks print side-by-side ratios; they take ../shared as an argument
	$(BIN)/python bench/extract.py $(SHARED)/extraction-bench
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/pipeline.py

check: $(STAMP)
	$(BIN)/newswatch check

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
