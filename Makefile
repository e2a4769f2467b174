# Two commands matter: `make demo` and `make test`. Both build .venv from the lock files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The artifact tests need Node.js (Azurite, the official @actions/artifact client);
# without it they are skipped (CI sets REQUIRE_NODE_TESTS=1 to make that a failure).
NODE := $(shell command -v node 2>/dev/null)
NODE_DEPS := tests/node/node_modules/.installed

.PHONY: demo test lint typecheck unit clean lock bench live fuzz mutate

$(BIN)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $@

$(NODE_DEPS): tests/node/package.json tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
	touch $@

## Run the action end to end against the bundled PlayCanvas API emulator.
demo: $(BIN)/.installed $(if $(NODE),$(NODE_DEPS))
	$(BIN)/python scripts/demo.py

## Build the Dockerfile with buildah on a local stand-in base and run the image as the
## GitHub runner does (as root; installs buildah and debootstrap when missing; ~1-2 min).
.PHONY: container-test
container-test:
	scripts/container-test

## Run real workflows that use the action under nektos/act (podman's Docker API, act's own
## artifact server; as root; installs podman, buildah, runc, debootstrap and act when
## missing; a few minutes the first time, two to four minutes once its images are cached).
.PHONY: act-test
act-test:
	scripts/act-test

## Back up a real PlayCanvas project and check the archive (opt in, not part of `make test`):
## needs PLAYCANVAS_ACCESS_TOKEN and PLAYCANVAS_TEST_PROJECT, else says so and skips.
live: $(BIN)/.installed
	$(BIN)/python scripts/live.py local

## Lint, type-check and run the whole test suite.
test: lint typecheck unit

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed $(if $(NODE),$(NODE_DEPS))
	$(BIN)/pytest

## Differential fuzz of the zip check against Python's zipfile (tests/fuzz_zip.py; not part
## of `make test`, which runs 300 cases of it): `make fuzz CASES=20000 SEED=1`.
CASES ?= 20000
SEED ?= 1
fuzz: $(BIN)/.installed
	nice $(BIN)/python -m tests.fuzz_zip --cases $(CASES) --seed $(SEED)

## Measure speed, memory, waits and start-up side by side; writes bench/results.md
## (about 5 minutes; not part of `make test`).
bench: $(BIN)/.installed
	$(BIN)/python -m bench

## Mutation testing of the safety-critical modules ([tool.mutmut] in pyproject.toml lists
## them and their tests; not part of `make test`). All of them take hours on two cores; one
## module, minutes: `make mutate MUTANTS='playcanvas_backup.untrusted*'`. Lists the mutants
## that survived; `.venv/bin/mutmut show <name>` shows one (results are kept in mutants/).
MUTANTS ?=
MUTATE_JOBS ?= 2
mutate: $(BIN)/.installed
	nice -n 10 $(BIN)/mutmut run --max-children $(MUTATE_JOBS) $(MUTANTS)
	$(BIN)/mutmut results

## Re-resolve the lock files (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --quiet -o requirements.txt
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet -o requirements-dev.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache mutants
