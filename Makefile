# The quick start is `make serve` and `make test`; both bootstrap .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: serve test lint check bench-reload clean

$(BIN)/confidp: pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
	  { echo "Python's venv module is missing: apt-get install python3-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

serve: $(BIN)/confidp
	$(BIN)/confidp serve

test: $(BIN)/confidp
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy --strict src
	$(BIN)/confidp check tenants/
	$(BIN)/hadolint Containerfile
	$(BIN)/pytest --ignore=tests/browser
	$(BIN)/pytest tests/browser  # own process: Playwright's sync API keeps a loop running

check: $(BIN)/confidp
	$(BIN)/confidp check tenants/

bench-reload: $(BIN)/confidp
	$(BIN)/python bench/reload.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
