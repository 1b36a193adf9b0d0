# KeyBuzz marketplace integrations — developer commands (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Every connectors/<name>/ folder is a package, and its double/ (its double, for the sandbox)
# another: adding one needs no edit here.
PACKAGES := shared $(wildcard connectors/*) devstack sandbox $(wildcard connectors/*/double) \
	services/oauth services/poller services/orders services/tenant-sync
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES)) requirements-dev.txt

.PHONY: install lock run up down status test test-unit bench lint clean

# Dovecot (the poller's IMAP/LMTP server, required) and Chromium (the console's browser
# test, optional) are Debian packages, not wheels: installed with apt-get when missing
# (as root), a message saying what to install otherwise.
install: $(STAMP)
	@$(PY) -m keybuzz_devstack install-system-packages

# uv installs (pip took ~55 s of a fresh clone's `make test`, uv ~20 s, the same versions):
# pip brings uv into the venv, uv the ~20 packages. Every package is built in this venv
# (--no-build-isolation, hence setuptools and wheel first), not in a build environment of
# its own each; bytecode compiled at install, as pip did: some machines set
# PYTHONDONTWRITEBYTECODE, and every process would then compile what it imports, each.
# Every third-party package at the version constraints.txt pins (what the suite ran on: a
# release since then cannot change a fresh clone); `make lock` moves the pins.
TOOLS_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check "uv>=0.5" "setuptools>=77" wheel
PACKAGES_INSTALL := $(PY) -m uv pip install --quiet --python $(PY) --no-build-isolation \
	--compile-bytecode $(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt
$(STAMP): $(PYPROJECTS) constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(TOOLS_INSTALL) -c constraints.txt
	$(PACKAGES_INSTALL) -c constraints.txt
	touch $(STAMP)

## The newest releases the packages' ranges admit, installed and pinned in constraints.txt.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(TOOLS_INSTALL) --upgrade
	$(PACKAGES_INSTALL) --upgrade
	$(PY) -m keybuzz_devstack lock
	touch $(STAMP)

## Start the whole stack in the foreground; Ctrl-C stops all of it.
run: install
	$(PY) -m keybuzz_devstack run

## Start the whole stack in the background; returns when every part is ready.
up: install
	$(PY) -m keybuzz_devstack up

down:
	@test -x $(PY) && $(PY) -m keybuzz_devstack down || echo "nothing was running"

status: install
	$(PY) -m keybuzz_devstack status

## Run the whole test suite (starts its own NATS, PostgreSQL, OpenBao on free ports).
# Five workers (pytest-xdist), one test file each at a time: the tests mostly wait on
# servers, so five share two cores well (README, "Tests").
TEST_WORKERS ?= 5
test: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

## The unit tier: use cases on in-memory ports, no server (seconds). `make test` runs it too.
# Without the HTTP fuzzers' plugins (schemathesis, Faker: pyproject's addopts turn them off),
# which no unit test uses: their imports were a tenth of the tier's CPU (README, "Tests").
UNIT_TESTS := $(wildcard services/*/tests/unit)
test-unit: install
	$(PY) -m pytest -q $(UNIT_TESTS)

## Benchmarks (by hand, not in CI); results go to docs/BENCHMARKS.md.
bench: install
	$(PY) -m bench

## ruff, formatting, mypy on every package, and mypy --strict on the shared library, the
## connectors and the services (devstack and the sandbox are development tools: mypy's defaults).
STRICT_TYPED := shared/src $(wildcard connectors/*/src) $(wildcard services/*/src)
lint: install
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy \
		&& $(PY) -m mypy --strict $(STRICT_TYPED)

clean:
	rm -rf $(VENV) .pytest_cache
