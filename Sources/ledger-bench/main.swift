// ledger-bench: a wallet's reads cost the same with ten million ledger lines as with none (the
// performance issue's "cost as data grows"). One account gets N ledger lines spread over two years
// (written in bulk, with the monthly totals the domain keeps beside them); another has 100, so that both
// fill a page of the ledger (with none, the page would cost less only for having nothing to decode). For each,
// the median of repeated calls: loading the wallet (a new actor, as after eviction or a restart), reading
// it (GetWallet, from memory), this month's summary, and the first page of the ledger.
//
//     swift run -c release ledger-bench [--lines 10000000] [--repeats 21]

import BillingDomain
import BillingSandbox
import BillingStore
import Foundation
import InvoiceRendering

/// `--lines N --repeats R`; nil when anything else is given.
func parse(_ arguments: ArraySlice<String>) -> (lines: Int, repeats: Int)? {
    var lines = 10_000_000
    var repeats = 21
    var arguments = arguments
    while let argument = arguments.popFirst() {
        switch argument {
        case "--lines": lines = Int(arguments.popFirst() ?? "") ?? -1
        case "--repeats": repeats = Int(arguments.popFirst() ?? "") ?? -1
        default: return nil
        }
    }
    return (lines, repeats)
}
let (lines, repeats) = parse(CommandLine.arguments.dropFirst()) ?? (-1, -1)
guard (1...50_000_000).contains(lines), (1...1_000).contains(repeats) else {
    print("usage: ledger-bench [--lines 1...50000000] [--repeats 1...1000]")
    exit(64)
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }

let store = try await Store.open(path: directory.appendingPathComponent("billing.sqlite3").path, migrations: BillingSchema.migrations)
let now = Date()
let context = BillingContext(
    store: store, gateway: try SandboxGateway(directory: directory.appendingPathComponent("sandbox")), now: { now },
    invoicing: try InvoiceSettings(
        seller: .init(legalName: "Benchmark Ltd (not a real seller)", addressLines: ["1 Benchmark Road"], taxID: "NONE"),
        numberPrefix: "BENCH", renderer: try InvoiceRenderer(fonts: .dejaVuSans)))
let accounts = AccountService(context: context)
let small = try await accounts.createAccount(displayName: "Small", currencyCode: "USD", idempotencyKey: "small").id
let full = try await accounts.createAccount(displayName: "Full", currencyCode: "USD", idempotencyKey: "full").id

// The lines: one minor unit each, credits and debits alternating, in four categories, from two years
// ago to now; the wallet row and the monthly totals as the domain would have left them.
let setupStarted = ContinuousClock.now
let nowMilliseconds = Int64(now.timeIntervalSince1970 * 1000)
let span: Int64 = 2 * 365 * 86_400_000
func fill(_ account: String, lines: Int) async throws {
    let batch = 200_000
    var written = 0
    while written < lines {
        let first = written
        let count = min(batch, lines - written)
        try await store.write { [nowMilliseconds, span] tx in
            for index in first..<(first + count) {
                let credit = index % 2 == 0
                try tx.execute("""
                    INSERT INTO wallet_transactions(id, account_id, amount_minor, balance_after_minor, currency, category, description, source, created_at_ms)
                    VALUES (?, ?, ?, ?, 'USD', ?, '', ?, ?)
                    """, .text("wtx_\(account)_\(index)"), .text(account), .integer(credit ? 1 : -1), .integer(credit ? 1 : 0),
                    .text(["sms", "calls", "storage", "ai-tokens"][index % 4]), .text(credit ? "adjustment" : "usage"),
                    .integer(nowMilliseconds - span + span * Int64(index) / Int64(lines)))
            }
        }
        written += count
    }
    try await store.write { [nowMilliseconds] tx in
        try tx.execute("""
            INSERT INTO wallet_month_totals(account_id, month, category, credits_minor, debits_minor, transaction_count)
            SELECT account_id, strftime('%Y-%m', created_at_ms / 1000, 'unixepoch'), category,
                   coalesce(sum(CASE WHEN amount_minor > 0 THEN amount_minor END), 0),
                   coalesce(sum(CASE WHEN amount_minor < 0 THEN -amount_minor END), 0), count(*)
            FROM wallet_transactions WHERE account_id = ? GROUP BY 1, 2, 3
            """, .text(account))
        try tx.execute(
            "UPDATE wallets SET balance_minor = (SELECT sum(amount_minor) FROM wallet_transactions WHERE account_id = ?1), last_entry_at_ms = ?2 WHERE account_id = ?1",
            .text(account), .integer(nowMilliseconds))
    }
}
try await fill(small, lines: 100)
try await fill(full, lines: lines)
let setupSeconds = (ContinuousClock.now - setupStarted) / .seconds(1)

/// The median time of `body`, in microseconds.
func median(of repeats: Int, _ body: () async throws -> Void) async throws -> Double {
    var samples: [Double] = []
    for _ in 0..<repeats {
        let started = ContinuousClock.now
        try await body()
        samples.append((ContinuousClock.now - started) / .microseconds(1))
    }
    return samples.sorted()[samples.count / 2]
}

var utc = Calendar(identifier: .gregorian)
utc.timeZone = TimeZone(identifier: "UTC")!
let monthStart = Int64(utc.date(from: utc.dateComponents([.year, .month], from: now))!.timeIntervalSince1970 * 1000)
let warm = WalletService(context: context)
var rows: [(String, Double, Double)] = []
for (name, call) in [
    ("load the wallet (a new actor)", { (account: String) async throws in _ = try await WalletService(context: context).view(accountID: account) }),
    ("GetWallet (in memory)", { (account: String) async throws in _ = try await warm.view(accountID: account) }),
    ("this month's summary", { (account: String) async throws in
        _ = try await warm.summary(accountID: account, fromMilliseconds: monthStart, beforeMilliseconds: nowMilliseconds + 1) }),
    ("first page of the ledger (20 lines)", { (account: String) async throws in
        _ = try await warm.transactions(accountID: account, filter: try HistoryFilter(), page: try PageRequest(size: 20, token: "")) }),
] as [(String, (String) async throws -> Void)] {
    let smallTime = try await median(of: repeats) { try await call(small) }
    let largeTime = try await median(of: repeats) { try await call(full) }
    rows.append((name, smallTime, largeTime))
}
await store.close()

print("ledger-bench: one account with \(lines) ledger lines over two years (set up in \(String(format: "%.1f", setupSeconds)) s) against one with 100; median of \(repeats)")
print("call".padding(toLength: 38, withPad: " ", startingAt: 0) + "  100 lines µs      full µs    ratio  target")
for (name, smallTime, largeTime) in rows {
    let ratio = largeTime / smallTime
    print(name.padding(toLength: 38, withPad: " ", startingAt: 0)
        + String(format: "%14.0f%13.0f%8.2f×", smallTime, largeTime, ratio) + "  ≤ 2× " + (ratio <= 2 ? "met" : "MISSED"))
}
