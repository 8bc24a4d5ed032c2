# The two commands a fresh Debian machine needs (as root): `make run` and `make test`.
# Each first installs the Debian packages the build and the tests use, if any is missing.
# (postgresql: the tests run the suite on PostgreSQL too; `make run` does not need it.)

DEBIAN_PACKAGES := libsqlite3-dev libprotobuf-c-dev protobuf-c-compiler poppler-utils libhpdf-dev fonts-dejavu-core python3 python3-venv postgresql
# proto/generate_swift.py reads protoc-c's descriptor set with it (the staleness test regenerates).
PYTHON_PROTOBUF_VERSION := 7.36.2
SWIFT ?= swift
PYTHON ?= python3
PYTHON_VENV := .build/python-venv

.PHONY: run run-postgres test test-tsan test-postgres test-python crash-test crash-test-postgres fuzz deps build release bench bench-postgres bench-renewals bench-ledger bench-hostile bench-debit generate generate-python

# DEVELOPMENT ONLY: a seller identity that says on every invoice that it is not real. billingd has no
# default seller in code; production passes its own flags (docs/OPERATIONS.md).
DEV_SELLER_FLAGS := \
	--seller-name "DEVELOPMENT ONLY - not a real seller" \
	--seller-address "1 Development Street" --seller-address "Testville" --seller-address "Nowhere" \
	--seller-tax-id "DEV-NOT-A-TAX-ID" \
	--invoice-number-prefix DEV

## Starts billingd on its embedded defaults (data/billing.sqlite3 and data/billingd.sock) with the
## development seller identity above and the repository's plan catalog.
run: deps
	$(SWIFT) build --product billingd
	.build/debug/billingd $(DEV_SELLER_FLAGS) --catalog catalog/plans.json

## Starts a PostgreSQL cluster of its own under data/postgres (a Unix socket there, no TCP port) and
## billingd on it, with the same flags as `make run`: the second store, as several daemons would share it.
run-postgres: deps
	$(SWIFT) build --product billingd
	scripts/postgres-cluster.sh start data/postgres
	.build/debug/billingd $(DEV_SELLER_FLAGS) --catalog catalog/plans.json --database "$$(scripts/postgres-cluster.sh url data/postgres)"

# The crash test (docs/RELIABILITY.md): CI-sized by default; `make crash-test CRASH_ROUNDS=500` is the
# long run, and CRASH_SEED=n repeats the choices of a printed seed. `make test` runs CRASH_POSTGRES_ROUNDS
# rounds with two daemons on PostgreSQL after the SQLite ones.
CRASH_ROUNDS ?= 20
CRASH_POSTGRES_ROUNDS ?= 10
CRASH_FLAGS = --rounds $(CRASH_ROUNDS) $(if $(CRASH_SEED),--seed $(CRASH_SEED))

## Runs the whole test suite: Swift on SQLite; the crash test (CI-sized: 20 rounds of SIGKILL under load
## on SQLite, then 10 with two daemons on a PostgreSQL cluster of its own); the Python client against the
## debug billingd; then Swift and Python again on a throwaway PostgreSQL cluster.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	.build/debug/billing-crash $(CRASH_FLAGS)
	.build/debug/billing-crash --postgres --rounds $(CRASH_POSTGRES_ROUNDS) $(if $(CRASH_SEED),--seed $(CRASH_SEED))
	$(MAKE) test-python
	scripts/test-postgres.sh

## The Swift suite on SQLite under ThreadSanitizer (docs/RELIABILITY.md, "ThreadSanitizer"), built apart in
## .build-tsan so that the debug build is left alone. Any TSan report fails it, also one from the TSan-built
## billingd and billing that the CLI tests start: their reports reach the log, not the tests' results.
## The log is kept in .build-tsan/test-tsan.log. TESTS=--filter NAME narrows it.
TSAN_LOG := .build-tsan/test-tsan.log
test-tsan: SHELL := /bin/bash
test-tsan: .SHELLFLAGS := -o pipefail -c
test-tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan $(TESTS) 2>&1 | tee $(TSAN_LOG)
	@if grep -q 'WARNING: ThreadSanitizer' $(TSAN_LOG); then \
		echo "ThreadSanitizer reported $$(grep -c 'WARNING: ThreadSanitizer' $(TSAN_LOG)) races or errors (log: $(TSAN_LOG))"; exit 1; \
	fi

## The Swift suite on PostgreSQL alone (TESTS=--filter NAME narrows it).
test-postgres: deps
	$(SWIFT) build --build-tests
	scripts/test-postgres.sh $(TESTS)

## The Python client (clients/python): installs it into a venv as a user would (pip install clients/python),
## type-checks it with mypy --strict, and runs its pytest suite against a real billingd.
test-python: deps
	$(SWIFT) build --product billingd
	$(PYTHON) -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/pip install --quiet --disable-pip-version-check './clients/python[dev]'
	cd clients/python && ../../$(PYTHON_VENV)/bin/mypy --strict
	cd clients/python && BILLINGD=$(CURDIR)/.build/debug/billingd ../../$(PYTHON_VENV)/bin/pytest -q

## The crash test alone: SIGKILLs the debug billingd under load, restarts it, checks after every round.
crash-test: deps
	$(SWIFT) build --product billingd
	$(SWIFT) build --product billing-crash
	.build/debug/billing-crash $(CRASH_FLAGS)

## The crash test on PostgreSQL: two debug billingd on one throwaway cluster under load, one of them
## SIGKILLed and restarted each round, the same checks after every round.
crash-test-postgres: deps
	$(SWIFT) build --product billingd
	$(SWIFT) build --product billing-crash
	.build/debug/billing-crash --postgres $(CRASH_FLAGS)

# The fuzz targets (fuzz/, docs/RELIABILITY.md): CI-sized by default, each for FUZZ_RUNS executions or
# FUZZ_SECONDS seconds, whichever ends first; `fuzz/run.sh TARGET -max_total_time=3600` is a long run.
FUZZ_TARGETS ?= frame_decoder envelope request_decoding handling
FUZZ_RUNS ?= 200000
FUZZ_SECONDS ?= 60

## Builds the libFuzzer targets (outside SwiftPM, into .build-fuzz/) and runs each from its seeds after
## replaying its saved regressions; any crash, hang or runaway memory fails.
fuzz: deps
	fuzz/build.sh $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t (log: .build-fuzz/$$t.log)"; \
		fuzz/run.sh $$t -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SECONDS) >.build-fuzz/$$t.log 2>&1 \
			|| { tail -n 60 .build-fuzz/$$t.log; exit 1; }; \
		grep -E '^(replaying|Done|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb))' .build-fuzz/$$t.log; \
	done

## Installs missing Debian packages (apt-get update first, once) and the pinned Python protobuf package.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@python3 -c 'import sys, google.protobuf as p; sys.exit(p.__version__ != "$(PYTHON_PROTOBUF_VERSION)")' 2>/dev/null || { \
		echo "installing: protobuf==$(PYTHON_PROTOBUF_VERSION) (PyPI)"; \
		python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "protobuf==$(PYTHON_PROTOBUF_VERSION)"; \
	}

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Regenerates the committed protobuf-c, Swift and Python code from proto/.
generate: deps generate-python
	bash proto/generate.sh

generate-python:
	$(PYTHON) -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/pip install --quiet --disable-pip-version-check './clients/python[dev]'
	$(PYTHON_VENV)/bin/python clients/python/generate.py

## Our figures beside their baselines (release builds; a few minutes). docs/PERFORMANCE.md keeps the latest.
bench: deps
	bash scripts/bench.sh

# The renewal run (docs/PERFORMANCE.md): RENEWALS subscriptions due at once, renewed by the domain's
# scheduler against the sandbox gateway. `make bench-renewals RENEWALS=10000` is a quick run.
RENEWALS ?= 100000

## Renewals per second and resident memory of a renewal run with RENEWALS subscriptions due at once (release
## build; the run stops itself after 10 minutes).
bench-renewals: deps
	$(SWIFT) build -c release --product renewal-bench
	$$($(SWIFT) build -c release --show-bin-path)/renewal-bench --subscriptions $(RENEWALS)

## Record usage on PostgreSQL through one and two billingd against pgbench running the same debit, on a
## throwaway cluster (release build; a few minutes).
bench-postgres: deps
	bash scripts/bench-postgres.sh

## A wallet's reads with ten million ledger lines against 100 (LEDGER_LINES=1000000 for a quick run).
LEDGER_LINES ?= 10000000
bench-ledger: deps
	$(SWIFT) build -c release --product ledger-bench
	$$($(SWIFT) build -c release --show-bin-path)/ledger-bench --lines $(LEDGER_LINES)

## What each part of billingd's usage debit costs the store's writer, in C on billingd's own schema, beside
## the SQLite baseline (about a minute and a half; DEBIT_BATCH, DEBIT_ROUNDS, DEBIT_SECONDS).
bench-debit: deps
	bash scripts/bench-debit.sh

# The hostile clients (docs/RELIABILITY.md): HOSTILE_ROUNDS rounds of every phase, HOSTILE_SECONDS measured in
# each; HOSTILE_ATTACKS=a,b runs only those attacks (bench/bin/hostile_clients --help lists them).
HOSTILE_ROUNDS ?= 3
HOSTILE_SECONDS ?= 5
# yes: every attack runs once more at a second billingd (a decoy) while the good client calls the first,
# which measures what the attack costs the machine rather than the server (HOSTILE_DECOY=no skips it).
HOSTILE_DECOY ?= yes

## A good client's health-check latency beside nothing, a CPU burner, then each attack in turn, against a
## release billingd it starts, and each attack once more at a decoy (about 9 minutes; the table is the
## run's result).
bench-hostile: deps
	$(MAKE) -s -C bench $(CURDIR)/bench/bin/hostile_clients
	$(SWIFT) build -c release --product billingd
	bench/bin/hostile_clients --billingd $$($(SWIFT) build -c release --show-bin-path)/billingd \
		--rounds $(HOSTILE_ROUNDS) --seconds $(HOSTILE_SECONDS) $(if $(HOSTILE_ATTACKS),--attacks $(HOSTILE_ATTACKS)) \
		$(if $(filter yes,$(HOSTILE_DECOY)),--decoy)
