# Every target creates .venv on first use, so a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-faults lint validate graph bench backup clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The bench also runs peers (aiogram) beside psoasbot: the `bench` extra, installed only here.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

run: $(STAMP)
	$(BIN)/psoasbot run

test: $(STAMP)
	$(BIN)/python -m pytest

test-faults: $(STAMP)
	$(BIN)/python -m pytest -m faults tests/test_faults.py tests/test_postgres_faults.py

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/psoasbot validate

graph: $(STAMP)
	$(BIN)/psoasbot graph

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run

# A consistent copy of $PSOASBOT_DB (safe while the bot runs) into backups/, named by the time.
backup: $(STAMP)
	$(BIN)/psoasbot backup backups/psoasbot-$$(date -u +%Y%m%dT%H%M%SZ).db

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
