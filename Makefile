# modelyard: `make demo` and `make test` are the whole quick start.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test lint format serve system-deps bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# The versions the tests passed with: uv.lock. --locked refuses a lock older than pyproject.toml:
# after changing the dependencies, run `.venv/bin/uv lock` and commit uv.lock with them.
# [dev] includes [all], every optional part.
$(STAMP): pyproject.toml uv.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync -q --locked --inexact --extra dev
	bash scripts/fetch-assets.sh
	touch $(STAMP)

venv: $(STAMP)

system-deps: ## Install Debian packages used by tests and S_max work (db_bench, fio, chromium)
	@bash scripts/system-deps.sh

demo: $(STAMP) ## Set up, migrate, load demo data and serve on http://127.0.0.1:8000
	$(BIN)/modelyard demo --serve

test: $(STAMP) system-deps ## Set up and run the whole test suite
	$(BIN)/pytest

lint: $(STAMP) ## ruff format --check, ruff check, mypy, vulture (dead code)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/modelyard
	$(BIN)/vulture

format: $(STAMP) ## Format the code
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

serve: $(STAMP) ## Serve on the configured database without demo data
	$(BIN)/modelyard db upgrade && $(BIN)/modelyard serve

bench: $(STAMP) ## Registry benchmark against MLflow (installs wrk and MLflow on first run)
	@BENCH=1 bash scripts/system-deps.sh
	$(BIN)/python bench/api.py

clean: ## Remove the venv and local data
	rm -rf $(VENV) .modelyard
