#!/usr/bin/env bash
# make bench: our figures beside their baselines, measured one after another in the same run.
#   1. the raw socket: bench/bin/socket_baseline (C, epoll) with the same connections and calls in flight;
#   2. the raw disk, in the same temporary directory as billingd's database: bench/bin/sqlite_baseline (C) in
#      WAL, synchronous=FULL, one debit per transaction and in batches, with each commit's latency; and
#      bench/bin/fsync_baseline, a 4 KiB append + fsync (a WAL frame made durable);
#   3. billingd under billing-load (release builds): health, get wallet, record usage at 1 and 64 in flight,
#      over 1 and 1,000 accounts;
#   4. billingd under bench/bin/load_client (C, the same protocol and protobuf-c messages, no Swift client):
#      health at 1 and 64 in flight, get wallet and record usage at 64 in flight over 1,000 accounts, then
#      record usage at half the peak it just measured (--rate);
#   5. the memory of 10,000 idle connections.
# Both clients report the CPU time per call of themselves and of billingd over their measured window
# (/proc/PID/stat). Prints a table with ratios; docs/PERFORMANCE.md keeps the latest. SECONDS_PER_CASE
# (default 5) sets the length of each case.
set -euo pipefail
cd "$(dirname "$0")/.."
# 10,000 idle connections: a descriptor each in billingd and in billing-load. 30,000, or the hard limit
# where it is lower (20,000 in some containers), which is still enough.
hard_limit=$(ulimit -Hn)
if [ "$hard_limit" = unlimited ] || [ "$hard_limit" -ge 30000 ]; then ulimit -n 30000; else ulimit -n "$hard_limit"; fi
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

echo "== SQLite and fsync baselines (C)" >&2
bench/bin/sqlite_baseline "$work/baseline.sqlite3" --mode single --seconds "$seconds" --json | label sqlite-single >> "$results"
bench/bin/sqlite_baseline "$work/baseline.sqlite3" --mode batch --batch-size 64 --seconds "$seconds" --json | label sqlite-batch >> "$results"
bench/bin/fsync_baseline "$work/append" --bytes 4096 --seconds "$seconds" --json | label fsync >> "$results"

echo "== billingd" >&2
mkdir -p "$work/billingd"
"$bin/billingd" --socket "$work/billingd/billingd.sock" --database "$work/billingd/billing.sqlite3" --metrics-socket "" \
  --seller-name "Benchmark Ltd (not a real seller)" --seller-address "1 Benchmark Road" --seller-tax-id "NONE" \
  --invoice-number-prefix BENCH --log-level warning --max-connections 12000 >/dev/null & billingd=$!
sleep 1
load() { "$bin/billing-load" --socket "$work/billingd/billingd.sock" --seconds "$seconds" --warmup 1 --json --quiet --server-pid $billingd "$@"; }
load --mix health --in-flight 1 | label health-1 >> "$results"
load --mix health --in-flight 64 | label health-64 >> "$results"
load --mix get-wallet --in-flight 64 --accounts 1000 | label get-wallet-64 >> "$results"
load --mix record-usage --in-flight 1 --accounts 1000 | label record-usage-1x1000 >> "$results"
load --mix record-usage --in-flight 64 --accounts 1000 | label record-usage-64x1000 >> "$results"
load --mix record-usage --in-flight 64 --accounts 1 | label record-usage-64x1 >> "$results"

echo "== billingd under the C load client" >&2
cload() { bench/bin/load_client "$work/billingd/billingd.sock" --seconds "$seconds" --warmup 1 --json --server-pid $billingd "$@"; }
cload --mix health --in-flight 1 | label c-health-1 >> "$results"
cload --mix health --in-flight 64 | label c-health-64 >> "$results"
cload --mix get-wallet --in-flight 64 --accounts 1000 | label c-get-wallet-64 >> "$results"
cload --mix record-usage --in-flight 64 --accounts 1000 | label c-record-usage-64x1000 >> "$results"
# Half of the peak just measured, as an open loop: the p99 target is judged there.
half=$(python3 -c 'import json,sys; print(max(1, round(next(r for r in map(json.loads, open(sys.argv[1]))
  if r["case"] == "c-record-usage-64x1000")["calls_per_second"] / 2)))' "$results")
cload --mix record-usage --in-flight 64 --accounts 1000 --rate "$half" | label c-record-usage-half-peak >> "$results"

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
