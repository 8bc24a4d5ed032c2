#!/usr/bin/env bash
# make bench-postgres: record usage on PostgreSQL through one and through two billingd (release builds, the C
# load client, 64 calls in flight per daemon over 1,000 accounts each), against pgbench running the same
# debit — the one statement billingd sends, in a SERIALIZABLE transaction — with 64 and 128 clients, on
# one throwaway cluster (scripts/postgres-cluster.sh), one case after another in the same run. Then one and
# two billingd again with 8 calls in flight each, far from the database's limit: the daemons' own scaling.
# SECONDS_PER_CASE (default 5) sets the length; POSTGRES_WRITERS (default 1) billingd's --postgres-writers.
# Prints a table; docs/PERFORMANCE.md keeps the latest.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_CASE:-5}
work=$(mktemp -d /tmp/billing-pgbench-XXXXXX)
cluster=$(mktemp -d /tmp/billing-pgbench-pg-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; scripts/postgres-cluster.sh stop "$cluster" 2>/dev/null || true; rm -rf "$work" "$cluster"' EXIT

make -s -C bench >/dev/null
swift build -c release --product billingd >/dev/null
bin=$(swift build -c release --show-bin-path)
url=$(scripts/postgres-cluster.sh start "$cluster")
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi }

daemon() {  # daemon N: starts billingd N on the cluster's schema "bench", sharing one sandbox folder
  "$bin/billingd" --socket "$work/d$1.sock" --database "$url&schema=bench" --metrics-socket "" \
    --gateway-directory "$work/gateway" --provider-directory "$work/provider" \
    --seller-name "Benchmark Ltd (not a real seller)" --seller-address "1 Benchmark Road" --seller-tax-id NONE \
    --invoice-number-prefix BENCH --log-level warning --postgres-writers "${POSTGRES_WRITERS:-1}" >"$work/d$1.log" 2>&1 &
  eval "daemon$1=$!"
  for _ in $(seq 100); do [ -S "$work/d$1.sock" ] && return; sleep 0.1; done
  echo "billingd $1 did not start:" >&2; cat "$work/d$1.log" >&2; exit 1
}
load() {  # load N [IN_FLIGHT]: record usage through daemon N
  local pid; eval "pid=\$daemon$1"
  bench/bin/load_client "$work/d$1.sock" --mix record-usage --in-flight "${2:-64}" --accounts 1000 --seconds "$seconds" --server-pid "$pid" --json
}
field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

echo "== one billingd" >&2
daemon 1
one=$(load 1)
echo "== two billingd" >&2
daemon 2
load 1 >"$work/two-1.json" & first=$!
load 2 >"$work/two-2.json" & second=$!
wait $first $second
# The daemons' own scaling, with the database far from its limit: 8 calls in flight per daemon.
echo "== one and two billingd, 8 in flight" >&2
light_one=$(load 1 8)
load 1 8 >"$work/light-1.json" & first=$!
load 2 8 >"$work/light-2.json" & second=$!
wait $first $second

echo "== pgbench" >&2
# The accounts the daemons set up, numbered for pgbench's random picks.
as_postgres "$pgbin/psql" -h "$cluster" -U billing -d billing -qAt -c \
  "CREATE TABLE bench.pgbench_accounts AS SELECT row_number() OVER (ORDER BY seq) AS n, id AS account_id FROM bench.accounts; CREATE UNIQUE INDEX ON bench.pgbench_accounts(n)"
accounts=$(as_postgres "$pgbin/psql" -h "$cluster" -U billing -d billing -qAt -c "SELECT count(*) FROM bench.pgbench_accounts")
cat >"$cluster/debit.sql" <<'SQL'
\set n random(1, :accounts)
BEGIN ISOLATION LEVEL SERIALIZABLE;
WITH debited AS (
    UPDATE wallets SET balance_minor = balance_minor - 1,
        last_entry_at_ms = GREATEST(last_entry_at_ms, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
    WHERE account_id = (SELECT account_id FROM pgbench_accounts WHERE n = :n) AND balance_minor >= 1
      AND (SELECT service_status FROM accounts WHERE id = (SELECT account_id FROM pgbench_accounts WHERE n = :n)) = 'active'
    RETURNING account_id, balance_minor, last_entry_at_ms, auto_recharge_enabled, recharge_amount_minor, recharge_threshold_minor
), line AS (
    INSERT INTO wallet_transactions(id, account_id, amount_minor, balance_after_minor, currency, category, description, source, usage_id, created_at_ms)
    SELECT 'wtx_' || md5(random()::text), account_id, -1, balance_minor, 'USD', 'sms', 'pgbench', 'usage', md5(random()::text), last_entry_at_ms FROM debited
    RETURNING seq, balance_after_minor, created_at_ms, account_id
), totals AS (
    INSERT INTO wallet_month_totals(account_id, month, category, credits_minor, debits_minor, transaction_count)
    SELECT account_id, to_char(to_timestamp(created_at_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM'), 'sms', 0, 1, 1 FROM line
    ON CONFLICT(account_id, month, category) DO UPDATE SET debits_minor = wallet_month_totals.debits_minor + excluded.debits_minor,
        transaction_count = wallet_month_totals.transaction_count + 1
)
SELECT seq, balance_after_minor, created_at_ms FROM line;
COMMIT;
SQL
chmod 644 "$cluster/debit.sql"
pgbench() {  # pgbench CLIENTS: transactions per second
  as_postgres env PGOPTIONS="-c search_path=bench" "$pgbin/pgbench" -h "$cluster" -U billing -n -c "$1" -j 2 -T "$seconds" \
    -D accounts="$accounts" -f "$cluster/debit.sql" billing 2>&1 | awk '/^tps/ {print $3; exit}'
}
pg64=$(pgbench 64)
pg128=$(pgbench 128)

python3 - "$one" "$(cat "$work/two-1.json")" "$(cat "$work/two-2.json")" "$pg64" "$pg128" \
  "$light_one" "$(cat "$work/light-1.json")" "$(cat "$work/light-2.json")" <<'PY'
import json, sys
one, two_a, two_b = (json.loads(x) for x in sys.argv[1:4])
pg64, pg128 = float(sys.argv[4]), float(sys.argv[5])
light_one, light_a, light_b = (json.loads(x) for x in sys.argv[6:9])
light_two = light_a["calls_per_second"] + light_b["calls_per_second"]
two = two_a["calls_per_second"] + two_b["calls_per_second"]
def errors(*runs): return sum(r["error_count"] for r in runs)
print(f"{'case':44} {'debits/s':>10} {'p50 ms':>8} {'p99 ms':>8}  ratio")
print(f"{'pgbench, same debit, 64 clients':44} {pg64:>10,.0f}")
print(f"{'pgbench, same debit, 128 clients':44} {pg128:>10,.0f}")
print(f"{'1 billingd, 64 in flight (C client)':44} {one['calls_per_second']:>10,.0f} {one['p50_us']/1000:>8.2f} {one['p99_us']/1000:>8.2f}  {one['calls_per_second']/pg64:.2f}x pgbench-64 (target >= 0.60)")
print(f"{'2 billingd, 64 in flight each':44} {two:>10,.0f} {max(two_a['p50_us'], two_b['p50_us'])/1000:>8.2f} {max(two_a['p99_us'], two_b['p99_us'])/1000:>8.2f}  {two/one['calls_per_second']:.2f}x one billingd (target >= 1.5); {two/pg128:.2f}x pgbench-128")
print(f"{'1 billingd, 8 in flight':44} {light_one['calls_per_second']:>10,.0f} {light_one['p50_us']/1000:>8.2f} {light_one['p99_us']/1000:>8.2f}")
print(f"{'2 billingd, 8 in flight each':44} {light_two:>10,.0f} {max(light_a['p50_us'], light_b['p50_us'])/1000:>8.2f} {max(light_a['p99_us'], light_b['p99_us'])/1000:>8.2f}  {light_two/light_one['calls_per_second']:.2f}x one billingd at 8 (target >= 1.5 when the database is not the limit)")
print(f"errors: {errors(one, two_a, two_b, light_one, light_a, light_b)}; server CPU us/debit: one {one.get('server_cpu_us_per_call', '?')}, two {two_a.get('server_cpu_us_per_call', '?')} / {two_b.get('server_cpu_us_per_call', '?')}")
PY
