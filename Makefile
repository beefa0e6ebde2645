# The README's two commands are `make run` and `make test`; everything else is for developers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1

.PHONY: run test check bench eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first, pinned to the CPU wheel: a bare `torch` (pulled by sentence-transformers) is GBs.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

# The sample corpus (the provincial gazette) is ingested when ../shared is beside the checkout.
SAMPLE := $(wildcard ../shared/corpus)

run: $(VENV)/.installed
	$(BIN)/kb serve $(if $(SAMPLE),--ingest $(SAMPLE))

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

check: $(VENV)/.installed-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy kb_service index ingestion api
	$(BIN)/lint-imports

eval: $(VENV)/.installed-dev
	$(BIN)/python bench/eval_retrieval.py

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/bench_suggest.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
