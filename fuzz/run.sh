#!/usr/bin/env bash
# Runs one libFuzzer target built by fuzz/build.sh (which it runs first), from its committed seeds.
#
# Usage: fuzz/run.sh TARGET [libFuzzer flags...]
#   fuzz/run.sh frame_decoder -runs=200000
#   fuzz/run.sh request_decoding -max_total_time=3600
#
# New interesting inputs go to .build-fuzz/corpus/TARGET (outside git); the committed seeds in
# fuzz/corpus/TARGET and the inputs that found bugs in fuzz/regressions/TARGET are read, never written.
# A crash writes .build-fuzz/artifacts/TARGET/crash-…: copy it to fuzz/regressions/TARGET/ once understood.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: fuzz/run.sh TARGET [libFuzzer flags...]" >&2; exit 2; }
target=$1; shift
"$ROOT/fuzz/build.sh" "$target"

work=$ROOT/.build-fuzz/corpus/$target
artifacts=$ROOT/.build-fuzz/artifacts/$target
mkdir -p "$work" "$artifacts" "$ROOT/fuzz/corpus/$target" "$ROOT/fuzz/regressions/$target"
# A target may need sanitizer options of its own (`// fuzz-asan-options: a=b:c=d` in its source).
extra=$(sed -n 's|^// fuzz-asan-options: *||p' "$ROOT/fuzz/targets/$target.swift")
if [ -n "$extra" ]; then export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}$extra; fi
# Every bug-finding input must pass first, on its own: a regression fails the run before any fuzzing.
regressions=("$ROOT/fuzz/regressions/$target"/*)
if [ -e "${regressions[0]}" ]; then
    echo "replaying ${#regressions[@]} regression input(s)"
    "$ROOT/.build-fuzz/$target" "${regressions[@]}"
fi
# -rss_limit_mb: far above what a target needs, so unbounded growth is a failure. -timeout: a hang.
exec "$ROOT/.build-fuzz/$target" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$@" "$work" "$ROOT/fuzz/corpus/$target" "$ROOT/fuzz/regressions/$target"
