"""Prints make bench's results (one JSON object per line) as a table with each figure beside its baseline."""
import json
import sys

rows = {r["case"]: r for r in (json.loads(line) for line in open(sys.argv[1]) if line.strip())}


def rate(case):
    r = rows.get(case, {})
    return r.get("calls_per_second") or r.get("debits_per_second") or 0.0


def lat(case, key):
    return rows.get(case, {}).get(key, "-")


print(f"{'case':<34}{'per second':>12}{'p50 µs':>9}{'p99 µs':>9}{'baseline':>22}{'ratio':>9}  target")
table = [
    ("health, 1 in flight", "health-1", "socket-1", "raw socket 1", None),
    ("health, 64 in flight", "health-64", "socket-64", "raw socket 64", None),
    ("get wallet, 64 in flight, 1000 acc", "get-wallet-64", "socket-64", "raw socket 64", 0.40),
    ("record usage, 64 × 1000 accounts", "record-usage-64x1000", "sqlite-batch", "sqlite batch 64", 0.60),
    ("record usage, 64 × 1000 accounts", "record-usage-64x1000", "sqlite-single", "sqlite 1 per txn", 4.0),
    ("record usage, 64 × 1 account", "record-usage-64x1", "record-usage-64x1000", "usage 64 × 1000", 0.50),
    ("record usage, 1 × 1000 accounts", "record-usage-1x1000", "sqlite-single", "sqlite 1 per txn", None),
]
for name, case, base, base_name, target in table:
    ours, theirs = rate(case), rate(base)
    ratio = ours / theirs if theirs else 0
    verdict = "" if target is None else (f"≥ {target:g}× " + ("met" if ratio >= target else "MISSED"))
    print(f"{name:<34}{ours:>12.0f}{lat(case, 'p50_us'):>9}{lat(case, 'p99_us'):>9}{base_name + ' ' + format(theirs, '.0f'):>22}{ratio:>8.2f}×  {verdict}")
idle = rows.get("idle-10000")
if idle:
    grown = (idle["rss_with_10000_idle_kib"] - idle["rss_before_kib"]) / 1024
    total = idle["rss_with_10000_idle_kib"] / 1024
    print(f"10000 idle connections: resident {total:.1f} MiB ({grown:+.1f} MiB for the connections)  target < 64 MiB more than none "
          + ("met" if grown < 64 else "MISSED"))
for case in ("record-usage-64x1000", "record-usage-64x1"):
    errors = rows.get(case, {}).get("errors")
    if errors:
        print(f"errors in {case}: {errors}")
