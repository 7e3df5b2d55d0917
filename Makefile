# Set-up and everyday targets. Needs only python3 (3.11+), git and make. The venv gets the
# optional extras too (pyarrow for index --export, dask for index --scheduler), so the tests
# of those run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := build/demo-repo

.PHONY: demo test lint clean

$(BIN)/srcdiff: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,parquet,dask]'
	touch $@

# Build the demo kernel-like history from corpus/ and blame a struct in it.
demo: $(BIN)/srcdiff
	rm -rf $(DEMO)
	$(BIN)/python scripts/make_demo_repo.py $(DEMO)
	$(BIN)/srcdiff blame vfio_pci_device --repo $(DEMO) --all

test: $(BIN)/srcdiff
	$(BIN)/python -m pytest

clean:
	rm -rf build $(VENV)
