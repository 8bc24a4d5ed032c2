#!/usr/bin/env bash
# make bench-debit: what each part of billingd's usage debit costs the store's writer, beside the SQLite
# baseline with the same batch size (docs/PERFORMANCE.md, "What a debit costs the writer").
#   1. starts a release billingd once on a temporary folder and stops it, so that its database holds
#      billingd's schema as its migrations made it;
#   2. bench/bin/sqlite_baseline --mode batch with DEBIT_BATCH debits per transaction (the lower bound);
#   3. bench/bin/debit_anatomy: billingd's own debit statements on that schema, then with one part after
#      another taken away, and once more whole with the batch's ledger lines in one INSERT;
#      DEBIT_ROUNDS rounds, alternating.
# DEBIT_BATCH (default 28: what billingd's writer commits at 64 calls in flight over 1,000 accounts),
# DEBIT_ROUNDS (default 3) and DEBIT_SECONDS (default 4) set the run; about a minute and a half.
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${DEBIT_BATCH:-28}
rounds=${DEBIT_ROUNDS:-3}
seconds=${DEBIT_SECONDS:-4}
work=$(mktemp -d /tmp/billing-debit-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

make -s -C bench >/dev/null
swift build -c release --product billingd >/dev/null
bin=$(swift build -c release --show-bin-path)

mkdir -p "$work/billingd"
"$bin/billingd" --socket "$work/billingd/billingd.sock" --database "$work/billingd/schema.sqlite3" --metrics-socket "" \
  --seller-name "Benchmark Ltd (not a real seller)" --seller-address "1 Benchmark Road" --seller-tax-id "NONE" \
  --invoice-number-prefix BENCH --log-level warning >/dev/null & billingd=$!
for _ in $(seq 100); do [ -S "$work/billingd/billingd.sock" ] && break; sleep 0.1; done
[ -S "$work/billingd/billingd.sock" ] || { echo "billingd did not start" >&2; exit 1; }
kill -TERM $billingd
wait $billingd

echo "== SQLite baseline, $batch debits per transaction"
bench/bin/sqlite_baseline "$work/baseline.sqlite3" --mode batch --batch-size "$batch" --seconds "$seconds"
echo "== billingd's debit on its own schema, then without one part after another"
bench/bin/debit_anatomy "$work/billingd/schema.sqlite3" "$work" --batch-size "$batch" --rounds "$rounds" --seconds "$seconds"
