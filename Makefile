# Two commands on a fresh clone (only Python >= 3.11 and pip needed):
#   make demo   set up .venv and run the main job on its built-in default
#   make test   set up .venv and run the test suite (+ ruff)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,metrics]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python experiments/sweep.py

test: $(STAMP) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/w1.py
	$(BIN)/python benchmarks/w3.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
