#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/targets/*.swift) into .build-fuzz/, outside SwiftPM: SwiftPM renames
# `main` and links with gold, which both clash with -sanitize=fuzzer. The C targets the Swift code needs are
# compiled with clang (-fsanitize=fuzzer-no-link,address), given the module maps SwiftPM would generate,
# and BillingWire and BillingAPI are compiled as Swift modules with -sanitize=fuzzer,address; each target is
# one entry file (with fuzz/support/) linked against them with lld.
#
# Usage: fuzz/build.sh [TARGET...]   (default: every target in fuzz/targets/)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/.build-fuzz
OBJ=$OUT/obj
MAPS=$OUT/modulemaps
MODS=$OUT/modules
mkdir -p "$OBJ" "$MAPS/BillingProtos" "$MAPS/CPeerCredentials" "$MODS"

SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-$(dirname "$(readlink -f "$(command -v "$SWIFTC")")")/clang}
SAN=(-sanitize=fuzzer,address)
# -O keeps Swift's overflow and bounds checks (only -Ounchecked drops them); -g for readable stack traces.
# -package-name: the store's modules share `package` declarations, as in SwiftPM's build of the package.
SWIFT_FLAGS=(-O -g -parse-as-library -swift-version 6 -enable-upcoming-feature ExistentialAny -package-name billing
             "${SAN[@]}" -I "$MODS" -I "$MAPS/BillingProtos" -I "$MAPS/CPeerCredentials")
CFLAGS=(-O1 -g -fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer)

# What SwiftPM generates for a C target whose include/ holds a header named after the module.
cat > "$MAPS/BillingProtos/module.modulemap" <<MAP
module BillingProtos {
    umbrella header "$ROOT/Sources/BillingProtos/include/BillingProtos.h"
    export *
}
MAP
cat > "$MAPS/CPeerCredentials/module.modulemap" <<MAP
module CPeerCredentials {
    umbrella header "$ROOT/Sources/CPeerCredentials/include/CPeerCredentials.h"
    export *
}
MAP

# Rebuilds $1 when any of the remaining arguments is newer (or $1 is missing).
stale() { local out=$1; shift; [ ! -e "$out" ] || [ -n "$(find "$@" -newer "$out" -print -quit)" ]; }

C_OBJS=()
for c in "$ROOT"/Sources/BillingProtos/*.c "$ROOT"/Sources/CPeerCredentials/*.c; do
    o=$OBJ/$(basename "$c" .c).o
    if stale "$o" "$c" "$(dirname "$c")/include"; then
        echo "cc    $(basename "$c")"
        "$CLANG" "${CFLAGS[@]}" -I "$(dirname "$c")/include" -c "$c" -o "$o"
    fi
    C_OBJS+=("$o")
done

# Compiles one Swift module (whole-module, one object) from the given sources.
module() {
    local name=$1 deps=$2; shift 2
    local o=$OBJ/$name.o
    if stale "$o" "$@" "$0" $deps; then
        echo "swift $name"
        local flags=("${SWIFT_FLAGS[@]}")
        [ -n "${MODULE_FLAGS+set}" ] && flags=("${MODULE_FLAGS[@]}")
        "$SWIFTC" "${flags[@]}" -module-name "$name" -wmo -num-threads 0 \
            -emit-module -emit-module-path "$MODS/$name.swiftmodule" -c "$@" -o "$o"
        touch "$o"  # the compiler leaves an unchanged object as it was: mark it up to date
    fi
}
sources() { find "$@" -name '*.swift' | sort; }
module BillingWire "${C_OBJS[*]}" $(find "$ROOT/Sources/BillingWire" -name '*.swift' | sort)
module BillingAPI "$OBJ/BillingWire.o" $(find "$ROOT/Sources/BillingAPI" -name '*.swift' | sort)
SWIFT_OBJS=("$OBJ/BillingWire.o" "$OBJ/BillingAPI.o")
LIBS=(-lprotobuf-c)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$ROOT"/fuzz/targets/*.swift; do targets+=("$(basename "$f" .swift)"); done
fi

# Targets marked `// fuzz-modules: service` run the handlers, so they need everything behind them: the
# domain, the store (SQLite), invoice rendering (libharu), the server and swift-log/swift-metrics, whose
# sources come from SwiftPM's checkouts (`swift package resolve`). The packages are not instrumented.
needs_service=false
for t in "${targets[@]}"; do
    grep -q '^// fuzz-modules: service' "$ROOT/fuzz/targets/$t.swift" 2>/dev/null && needs_service=true
done
if $needs_service; then
    CHECKOUTS=$ROOT/.build/checkouts
    [ -d "$CHECKOUTS/swift-log" ] || (cd "$ROOT" && swift package resolve)
    SWIFT_FLAGS+=(-I "$ROOT/Sources/CSQLite" -I "$ROOT/Sources/CHaru")
    MODULE_FLAGS=(-O -parse-as-library -swift-version 6 -sanitize=address -I "$MODS"
                  -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility)
    MODULE_FLAGS+=(-enable-upcoming-feature InternalImportsByDefault -enable-upcoming-feature NonisolatedNonsendingByDefault)
    MODULE_FLAGS+=(-package-name swift_log)
    module Logging "$0" $(sources "$CHECKOUTS/swift-log/Sources/Logging")
    MODULE_FLAGS=(-O -parse-as-library -swift-version 6 -sanitize=address -I "$MODS" -package-name swift_metrics
                  -enable-upcoming-feature MemberImportVisibility)
    module CoreMetrics "$0" $(sources "$CHECKOUTS/swift-metrics/Sources/CoreMetrics")
    module Metrics "$OBJ/CoreMetrics.o" $(sources "$CHECKOUTS/swift-metrics/Sources/Metrics")
    unset MODULE_FLAGS
    module BillingValues "" $(sources "$ROOT/Sources/BillingValues")
    module BillingGateway "$OBJ/BillingValues.o" $(sources "$ROOT/Sources/BillingGateway")
    module BillingSandbox "$OBJ/BillingGateway.o" $(sources "$ROOT/Sources/BillingSandbox")
    module BillingLocking "" $(sources "$ROOT/Sources/BillingLocking")
    module BillingStore "$OBJ/BillingLocking.o" $(sources "$ROOT/Sources/BillingStore")
    module InvoiceRendering "" $(sources "$ROOT/Sources/InvoiceRendering")
    module BillingDomain "$OBJ/BillingStore.o $OBJ/BillingGateway.o $OBJ/InvoiceRendering.o" $(sources "$ROOT/Sources/BillingDomain")
    # -enable-testing: the target builds a CallContext, whose memberwise initializer is internal.
    SWIFT_FLAGS+=(-enable-testing)
    module BillingServer "$OBJ/BillingAPI.o $OBJ/BillingLocking.o $OBJ/Logging.o $OBJ/Metrics.o" $(sources "$ROOT/Sources/BillingServer")
    module BillingService "$OBJ/BillingServer.o $OBJ/BillingDomain.o" $(sources "$ROOT/Sources/BillingService")
    for m in Logging CoreMetrics Metrics BillingValues BillingGateway BillingSandbox BillingLocking BillingStore InvoiceRendering \
             BillingDomain BillingServer BillingService; do SWIFT_OBJS+=("$OBJ/$m.o"); done
    LIBS+=(-lsqlite3 -lhpdf)
fi
for t in "${targets[@]}"; do
    src=$ROOT/fuzz/targets/$t.swift
    [ -f "$src" ] || { echo "no fuzz target $t (fuzz/targets/$t.swift)" >&2; exit 2; }
    if stale "$OUT/$t" "$src" "$ROOT"/fuzz/support/*.swift "${SWIFT_OBJS[@]}" "${C_OBJS[@]}"; then
        echo "link  $t"
        "$SWIFTC" "${SWIFT_FLAGS[@]}" -module-name "fuzz_${t//-/_}" -use-ld=lld \
            "$src" "$ROOT"/fuzz/support/*.swift "${SWIFT_OBJS[@]}" "${C_OBJS[@]}" "${LIBS[@]}" -o "$OUT/$t"
    fi
done
