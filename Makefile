# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml fakes/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./fakes
	touch $(STAMP)

.PHONY: setup demo test lint bench
setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/archiver demo --workdir demo-archive

lint: $(STAMP)
	$(BIN)/ruff check archiver connectors tests bench fakes
	$(BIN)/ruff format --check archiver connectors tests bench fakes
	$(BIN)/mypy
	$(BIN)/mypy --strict tests bench
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q -n auto

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
