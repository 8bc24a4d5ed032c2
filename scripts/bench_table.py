"""Prints make bench's results (one JSON object per line) as a table with each figure beside its baseline.

Every figure comes from the results file; only the targets (issue 14) are written here. A row's ratio is
its calls per second over its baseline's, except for the p99 row, whose ratio is its p99 over the
baseline's p99 (lower is better).
"""
import json
import sys

rows = {r["case"]: r for r in (json.loads(line) for line in open(sys.argv[1]) if line.strip())}


def rate(case):
    r = rows.get(case, {})
    return r.get("calls_per_second") or r.get("debits_per_second") or r.get("syncs_per_second") or 0.0


def field(case, key, digits=0):
    value = rows.get(case, {}).get(key)
    return "-" if value is None else f"{value:.{digits}f}"


# (name, case, baseline case, baseline's name, target, kind): kind "rate" compares calls per second
# (ours / theirs ≥ target), "p99" compares the p99 latencies (ours / theirs ≤ target).
DISK = [
    ("4 KiB append + fsync", "fsync", None, "", None, "rate"),
    ("sqlite, 1 debit per commit", "sqlite-single", None, "", None, "rate"),
    ("sqlite, 64 debits per commit", "sqlite-batch", None, "", None, "rate"),
    ("raw socket, 1 in flight", "socket-1", None, "", None, "rate"),
    ("raw socket, 64 in flight", "socket-64", None, "", None, "rate"),
]
BILLING_LOAD = [
    ("health, 1 in flight", "health-1", "socket-1", "raw socket 1", None, "rate"),
    ("health, 64 in flight", "health-64", "socket-64", "raw socket 64", None, "rate"),
    # Issue 14: 3× the ratio of the first round's table (0.05×).
    ("get wallet, 64 in flight, 1000 acc", "get-wallet-64", "socket-64", "raw socket 64", 0.15, "rate"),
    ("record usage, 64 × 1000 accounts", "record-usage-64x1000", "sqlite-batch", "sqlite batch 64", 0.60, "rate"),
    ("record usage, 64 × 1000 accounts", "record-usage-64x1000", "sqlite-single", "sqlite 1 per txn", 4.0, "rate"),
    ("record usage, 64 × 1 account", "record-usage-64x1", "record-usage-64x1000", "usage 64 × 1000", 0.50, "rate"),
    ("record usage, 1 × 1000 accounts", "record-usage-1x1000", "sqlite-single", "sqlite 1 per txn", None, "rate"),
]
LOAD_CLIENT = [
    ("health, 1 in flight", "c-health-1", "socket-1", "raw socket 1", None, "rate"),
    ("health, 64 in flight", "c-health-64", "socket-64", "raw socket 64", None, "rate"),
    ("get wallet, 64 in flight, 1000 acc", "c-get-wallet-64", "socket-64", "raw socket 64", 0.40, "rate"),
    ("record usage, 64 × 1000 accounts", "c-record-usage-64x1000", "sqlite-batch", "sqlite batch 64", 0.60, "rate"),
    ("record usage, 64 × 1000 accounts", "c-record-usage-64x1000", "sqlite-single", "sqlite 1 per txn", 4.0, "rate"),
    ("record usage, half of peak, p99", "c-record-usage-half-peak", "sqlite-single", "sqlite 1/txn p99", 3.0, "p99"),
]


def print_row(name, case, base, base_name, target, kind):
    ours = rate(case)
    cells = f"{name:<36}{ours:>10.0f}{field(case, 'p50_us'):>9}{field(case, 'p99_us'):>9}"
    cells += f"{field(case, 'server_cpu_us_per_call', 1):>8}{field(case, 'client_cpu_us_per_call', 1):>8}"
    if base is None:
        print(cells)
        return
    if kind == "p99":
        theirs = rows.get(base, {}).get("p99_us") or 0.0
        ratio = rows.get(case, {}).get("p99_us", 0.0) / theirs if theirs else 0.0
        verdict = f"≤ {target:g}× " + ("met" if theirs and ratio <= target else "MISSED")
        baseline = f"{base_name} {theirs:.0f} µs"
    else:
        theirs = rate(base)
        ratio = ours / theirs if theirs else 0.0
        verdict = "" if target is None else f"≥ {target:g}× " + ("met" if ratio >= target else "MISSED")
        baseline = f"{base_name} {theirs:.0f}"
    errors = rows.get(case, {}).get("errors")
    print(f"{cells}{baseline:>26}{ratio:>8.2f}×  {verdict}" + ("  ERRORS" if errors else ""))


print(f"{'case':<36}{'per sec':>10}{'p50 µs':>9}{'p99 µs':>9}{'srv CPU':>8}{'cli CPU':>8}{'baseline':>26}{'ratio':>9}  target")
for title, table in (("the disk and the socket (C baselines)", DISK),
                     ("billingd under billing-load (Swift client)", BILLING_LOAD),
                     ("billingd under load_client (C client)", LOAD_CLIENT)):
    print(f"-- {title}")
    for row in table:
        print_row(*row)

half = rows.get("c-record-usage-half-peak")
if half:
    peak = rate("c-record-usage-64x1000")
    print(f"half of peak: load_client --rate {half['rate']:.0f} against a peak of {peak:.0f} calls/s; from the schedule "
          f"(waits for a free slot included) p50 {half['from_schedule_p50_us']:.0f} µs, p99 {half['from_schedule_p99_us']:.0f} µs")
idle = rows.get("idle-10000")
if idle:
    grown = (idle["rss_with_10000_idle_kib"] - idle["rss_before_kib"]) / 1024
    total = idle["rss_with_10000_idle_kib"] / 1024
    print(f"10000 idle connections: resident {total:.1f} MiB ({grown:+.1f} MiB for the connections)  target < 64 MiB more than none "
          + ("met" if grown < 64 else "MISSED"))
print("CPU: µs of CPU time per call of billingd (srv) and of the client (cli), from /proc/PID/stat over the measured window")
failed = {case: r["errors"] for case, r in rows.items() if r.get("errors")}
for case, errors in failed.items():
    print(f"ERRORS in {case}: {json.dumps(errors)}")
if not failed:
    print("errors: none in any case")
