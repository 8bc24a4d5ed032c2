#!/usr/bin/env bash
# The test suite on the other engine: starts a throwaway PostgreSQL cluster (scripts/postgres-cluster.sh)
# in a temporary folder, runs the already-built tests with BILLING_TEST_POSTGRES naming its database (each
# harness makes a schema of its own there), then stops and removes the cluster, whatever happened.
# Then the Python client's tests (if `make test-python` made its venv) against billingd on the same cluster.
# Extra arguments go to `swift test` (for example --filter WalletTests) and skip the Python run.
#
# One test at a time (--no-parallel): in a debug build every PostgreSQL round trip costs about 0.4 ms of
# SwiftNIO, and with all 46 suites at once on two cores the tests that put hundreds of calls on one
# wallet ran past their 10-second call deadlines. Alone, each passes in a few seconds; the whole run
# takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/billing-pg-XXXXXX)
trap 'scripts/postgres-cluster.sh stop "$dir" 2>/dev/null || true; rm -rf "$dir"' EXIT
url=$(scripts/postgres-cluster.sh start "$dir")
echo "== the test suite on PostgreSQL ($url)"
# The outage test stops and starts this cluster (BILLING_TEST_POSTGRES_CLUSTER), so tests run one at a time.
BILLING_TEST_POSTGRES="$url" BILLING_TEST_POSTGRES_CLUSTER="$dir" ${SWIFT:-swift} test --skip-build --no-parallel "$@"
if [ $# -eq 0 ] && [ -x .build/python-venv/bin/pytest ]; then
  echo "== the Python client's tests on PostgreSQL"
  (cd clients/python && BILLING_TEST_POSTGRES="$url" BILLINGD="$PWD/../../.build/debug/billingd" ../../.build/python-venv/bin/pytest -q)
fi
