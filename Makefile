# One-word targets. Everything runs from the project's own virtual environment (.venv),
# created on first use from pyproject.toml, so a fresh clone needs only Python 3.11.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench samples venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[tvm,dashboard,dev]'
	touch $(STAMP)

## make run: the daemon, watching data/inbox with the embedded defaults (SQLite, data/results)
run: $(STAMP)
	$(VENV)/bin/benchd watch

## make test: the whole suite (Docker, browser and board tiers run where their parts exist)
test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## make bench: benchmarks, printed as ratios measured side by side in one run
bench: $(STAMP)
	$(PY) tests/bench/run.py

## make samples: write the sample models into data/samples/
samples: $(STAMP)
	$(PY) data/make_samples.py data/samples

clean:
	rm -rf $(VENV) data/state data/results data/processed data/rejected data/samples
