# Every target creates what it needs: a venv in .venv with linkcheck and its dev tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python fixtures/demo/run_demo.py

# The suite runs real compilers, image tools and, as root, the entrypoints themselves.
tools:
	bash .ci/tools.sh

test: $(STAMP) tools
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check linkcheck tests fixtures
	$(BIN)/ruff format --check linkcheck tests fixtures
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python tests/bench/run_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
