# The quick start is `make serve` and `make test`; both bootstrap .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# axe-core (npm) for the accessibility tests, pinned; installed outside git by `make axe-core`
AXE_CORE_VERSION := 4.10.3
AXE_DIR := tests/browser/.node
AXE_STAMP := $(AXE_DIR)/.axe-core-$(AXE_CORE_VERSION)

.PHONY: serve test lint check bench-reload clean messages axe-core

$(BIN)/confidp: pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
	  { echo "Python's venv module is missing: apt-get install python3-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,otel]'  # otel: the tracing tests run it
	@touch $@

$(AXE_STAMP):
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: apt-get install npm"; exit 1; }
	rm -rf $(AXE_DIR)
	npm install --silent --no-audit --no-fund --prefix $(AXE_DIR) axe-core@$(AXE_CORE_VERSION)
	@touch $@

axe-core: $(AXE_STAMP)

serve: $(BIN)/confidp
	$(BIN)/confidp serve

test: $(BIN)/confidp $(AXE_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy --strict src
	$(BIN)/confidp check tenants/
	$(BIN)/hadolint Containerfile
	$(BIN)/pytest -n 2 --dist loadfile --ignore=tests/browser  # one file per worker: its fixtures stay shared
	$(BIN)/pytest tests/browser  # own process: Playwright's sync API keeps a loop running

check: $(BIN)/confidp
	$(BIN)/confidp check tenants/

# after changing a page's text: add new messages to every catalogue, drop unused ones; then
# translate the new, empty entries (the test suite fails until every language has them)
messages: $(BIN)/confidp
	$(BIN)/python -m confidp.i18n.tool update
	$(BIN)/python -m confidp.i18n.tool check || true

bench-reload: $(BIN)/confidp
	$(BIN)/python bench/reload.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache $(AXE_DIR)
