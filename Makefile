# `make run`: set up and train the default recipe on the embedded digits data.
# `make test`: set up and run the whole test suite (with a throwaway PostgreSQL server).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup system run test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,serve]'
	touch $@

system:
	bash scripts/system-deps.sh

run: setup
	$(BIN)/nnopt run

test: setup system
	bash scripts/test.sh

bench: setup
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
