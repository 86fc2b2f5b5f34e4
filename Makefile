# The two commands of the quick start: `make dev` runs the stack, `make test` runs the tests.
# Each creates or refreshes the virtualenv first, from pyproject.toml and constraints.txt.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: dev test test-unit test-workflow lint typecheck bench lock clean

$(INSTALLED): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

dev: $(INSTALLED)
	$(VENV)/bin/leadflow dev

test: $(INSTALLED)
	$(PY) -m pytest $(PYTEST_ARGS)

# One tier alone: the engine and playbooks in seconds; LeadWorkflow without PostgreSQL.
test-unit: $(INSTALLED)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-workflow: $(INSTALLED)
	$(PY) -m pytest tests/workflow $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

typecheck: $(INSTALLED)
	$(VENV)/bin/mypy

bench: $(INSTALLED)
	$(PY) -m bench

# Re-pin every dependency after changing pyproject.toml.
lock: $(INSTALLED)
	$(PY) -m pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
