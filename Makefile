# The commands the README names. Everything runs from .venv, created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export DATADESK_DEMO_HOME ?= $(CURDIR)/.demo
# Where `make demo` listens: `make demo PORT=8123 HOST=0.0.0.0`. Plain assignments, so only the command line
# overrides them, never a HOST or PORT the shell happens to export.
HOST := 127.0.0.1
PORT := 8000

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	DATADESK_HOME=$${DATADESK_HOME:-$(DATADESK_DEMO_HOME)} $(BIN)/datadesk demo --host '$(HOST)' --port '$(PORT)'

test: $(STAMP)
	$(BIN)/python -m pytest -n 3 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	@echo "Benchmarks print numbers; run one: $(BIN)/python bench/<name>.py --help"

clean:
	rm -rf $(VENV) .demo artifacts
