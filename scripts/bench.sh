#!/usr/bin/env bash
# make bench: our figures beside their baselines, measured one after another in the same run.
#   1. the raw socket: bench/bin/socket_baseline (C, epoll) with the same connections and calls in flight;
#   2. the raw disk: bench/bin/sqlite_baseline (C) in WAL, synchronous=FULL, one debit per transaction and in batches;
#   3. billingd under billing-load (release builds): health, get wallet, record usage at 1 and 64 in flight,
#      over 1 and 1,000 accounts; and the memory of 10,000 idle connections.
# Prints a table with ratios; docs/PERFORMANCE.md keeps the latest. SECONDS_PER_CASE (default 5) sets the length.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 30000  # 10,000 idle connections: a descriptor each in billingd and in billing-load
seconds=${SECONDS_PER_CASE:-5}
work=$(mktemp -d /tmp/billing-bench-XXXXXX)
results="$work/results.jsonl"
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

make -s -C bench >/dev/null
swift build -c release --product billingd >/dev/null
swift build -c release --product billing-load >/dev/null
bin=$(swift build -c release --show-bin-path)

label() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["case"]=sys.argv[1]; print(json.dumps(d))' "$1"; }

echo "== socket baseline (C)" >&2
bench/bin/socket_baseline server "$work/baseline.sock" --reply-bytes 32 & server=$!
sleep 0.3
for n in 1 64; do
  bench/bin/socket_baseline client "$work/baseline.sock" --connections 1 --in-flight $n --request-bytes 64 --reply-bytes 32 \
    --seconds "$seconds" --json | label "socket-$n" >> "$results"
done
kill $server; wait $server 2>/dev/null || true

echo "== SQLite baseline (C)" >&2
bench/bin/sqlite_baseline "$work/baseline.sqlite3" --mode single --seconds "$seconds" --json | label sqlite-single >> "$results"
bench/bin/sqlite_baseline "$work/baseline.sqlite3" --mode batch --batch-size 64 --seconds "$seconds" --json | label sqlite-batch >> "$results"

echo "== billingd" >&2
mkdir -p "$work/billingd"
"$bin/billingd" --socket "$work/billingd/billingd.sock" --database "$work/billingd/billing.sqlite3" --metrics-socket "" \
  --seller-name "Benchmark Ltd (not a real seller)" --seller-address "1 Benchmark Road" --seller-tax-id "NONE" \
  --invoice-number-prefix BENCH --log-level warning --max-connections 12000 >/dev/null & billingd=$!
sleep 1
load() { "$bin/billing-load" --socket "$work/billingd/billingd.sock" --seconds "$seconds" --warmup 1 --json --quiet "$@"; }
load --mix health --in-flight 1 | label health-1 >> "$results"
load --mix health --in-flight 64 | label health-64 >> "$results"
load --mix get-wallet --in-flight 64 --accounts 1000 | label get-wallet-64 >> "$results"
load --mix record-usage --in-flight 1 --accounts 1000 | label record-usage-1x1000 >> "$results"
load --mix record-usage --in-flight 64 --accounts 1000 | label record-usage-64x1000 >> "$results"
load --mix record-usage --in-flight 64 --accounts 1 | label record-usage-64x1 >> "$results"

rss() { awk '/VmRSS/ {print $2}' /proc/$billingd/status; }
before=$(rss)
"$bin/billing-load" --socket "$work/billingd/billingd.sock" --hold-idle 10000 --seconds 5 > "$work/holder.out" & holder=$!
until grep -q holding "$work/holder.out" 2>/dev/null; do sleep 0.2; done
sleep 1
during=$(rss)
wait $holder
echo "{\"case\":\"idle-10000\",\"rss_before_kib\":$before,\"rss_with_10000_idle_kib\":$during}" >> "$results"
kill -TERM $billingd; wait $billingd 2>/dev/null || true

python3 scripts/bench_table.py "$results"
