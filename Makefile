# Two commands on a fresh clone (only Python >= 3.11 and pip needed):
#   make demo   set up .venv and run the main job on its built-in default
#   make test   set up .venv and run the test suite (+ ruff)
# Both install the exact versions in requirements.lock; `make lock` is the only way they
# change (it re-resolves pyproject.toml's ranges).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
STAMP  := $(VENV)/.installed-stamp
# pip and the resolver are pinned too, so that a lock and an install mean the same thing
PIP_VERSION := 26.3
UV_VERSION  := 0.13.9

.PHONY: demo test lint bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'pip==$(PIP_VERSION)'

$(STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
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

# Every direct and transitive dependency of raysim[dev,metrics], pinned, for every platform.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra metrics --universal \
		--python-version 3.11 --quiet -o $(LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
