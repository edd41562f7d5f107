# Two entry points, both from nothing: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV := $(VENV)/checkov/bin/checkov
# The browser tests drive Debian's chromium; Playwright must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install serve test lint typecheck unit bench clean

$(BIN)/pyjobs: pyproject.toml
	@# the uv that installs everything else comes from pip, the one installer a fresh machine has
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade uv
	@# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (as on CI machines and in many
	@# images) every process would otherwise compile its imports again, ≈5 s per server start.
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -e '.[dev]'
	touch $@

# checkov pins packages (packaging<24, ...) that pyjobs outgrew: it lives in a venv of its own.
$(CHECKOV): | $(BIN)/pyjobs
	test -x $(VENV)/checkov/bin/python || $(PYTHON) -m venv $(VENV)/checkov
	$(BIN)/uv pip install --python $(VENV)/checkov/bin/python --quiet --compile-bytecode 'checkov>=3.2,<4'

install: $(BIN)/pyjobs $(CHECKOV)

serve: install
	scripts/system-deps
	$(BIN)/pyjobs serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
