@testable import BillingDomain
@testable import BillingSandbox
import BillingLocking
import BillingStore
import Foundation
import Testing

@Suite("Wallet months")
struct WalletMonthTests {
    /// The integer month arithmetic agrees with Foundation's calendar, across leap years and eras.
    @Test(arguments: [Int64(0), 951_782_400_000, 1_709_164_800_000, 1_795_000_000_000, 4_102_444_799_999, -86_400_001])
    func monthMatchesTheCalendar(milliseconds: Int64) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
        #expect(Wallet.month(of: milliseconds) == String(format: "%04d-%02d", parts.year!, parts.month!))
    }
}

@Suite("Monthly totals kept beside the ledger")
struct WalletMonthTotalsTests {
    /// Usage across three months, summarized over whole, partial and spanning ranges: the totals kept
    /// with each line say what a scan of the ledger says.
    @Test func summariesFromTheTotalsEqualTheLedgersSums() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let now = Locked(utcDate(2026, 10, 20))
        let context = try await makeContext(in: directory, now: { now.withLock { $0 } })
        let store = context.store
        let account = try await readyAccount(in: context)
        let wallets = WalletService(context: context)
        _ = try await wallets.addFunds(accountID: account.id, amount: Money(amountMinor: 1_000_000, currency: .usd), idempotencyKey: "d")
        var generator = SystemRandomNumberGenerator()
        for index in 0..<300 {
            now.withLock { $0 += Double(Int.random(in: 1_000...40_000, using: &generator)) }
            let usage = try UsageDebit(
                usageID: "u\(index)", category: ["sms", "calls", "ai-tokens"][index % 3], amount: Money(amountMinor: Int64(index % 17 + 1), currency: .usd),
                description: "")
            _ = try await wallets.recordUsage(accountID: account.id, usage: usage)
        }
        let end = now.withLock { $0 }.unixMilliseconds
        let start = utcDate(2026, 10, 20).unixMilliseconds
        let ranges: [(Int64, Int64)] = [
            (start, end + 1), (utcDate(2026, 11, 1).unixMilliseconds, utcDate(2026, 12, 1).unixMilliseconds),
            (utcDate(2026, 10, 25).unixMilliseconds, utcDate(2026, 11, 1).unixMilliseconds),
            (utcDate(2026, 10, 25).unixMilliseconds, utcDate(2026, 12, 3).unixMilliseconds), (start + 1, start + 2), (0, 1),
        ]
        for (from, before) in ranges {
            let summary = try await wallets.summary(accountID: account.id, fromMilliseconds: from, beforeMilliseconds: before)
            let scanned = try await store.read { tx in
                try tx.query("""
                    SELECT strftime('%Y-%m', created_at_ms / 1000, 'unixepoch') AS month, category, sum(max(amount_minor, 0)) AS credits,
                           sum(max(-amount_minor, 0)) AS debits, count(*) AS n
                    FROM wallet_transactions WHERE account_id = ? AND created_at_ms >= ? AND created_at_ms < ?
                    GROUP BY 1, 2 ORDER BY 1 DESC, 2
                    """, .text(account.id), .integer(from), .integer(before)
                ).map { "\(try $0.string("month")) \(try $0.string("category")) \(try $0.int64("credits")) \(try $0.int64("debits")) \(try $0.int("n"))" }
            }
            #expect(summary.map { "\($0.month) \($0.category) \($0.credits.amountMinor) \($0.debits.amountMinor) \($0.transactionCount)" } == scanned)
        }
        // The wallet loads its month's totals from the table too.
        let reloaded = try await WalletService(context: context).view(accountID: account.id)
        let month = try await wallets.summary(accountID: account.id, fromMilliseconds: WalletLedger.monthStart(of: end), beforeMilliseconds: end + 1)
        #expect(reloaded.debitsThisMonth.amountMinor == month.reduce(0) { $0 + $1.debits.amountMinor })
    }

    /// A database from before the totals existed gets them from its ledger when it migrates.
    @Test func theMigrationFillsTheTotalsFromTheLedger() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("billing.sqlite3").path
        let old = try await Store.open(path: path, migrations: Array(BillingSchema.migrations.prefix(4)))
        try await old.write { tx in
            try tx.execute("INSERT INTO accounts(id, display_name, currency, created_at_ms) VALUES ('acct_1', 'A', 'USD', 0)")
            try tx.execute("INSERT INTO wallets(account_id, currency) VALUES ('acct_1', 'USD')")
            for (index, (amount, category, at)) in [(500, "top-up", 1_790_000_000_000), (-20, "sms", 1_790_000_001_000), (-30, "sms", 1_795_000_000_000)].enumerated() {
                try tx.execute("""
                    INSERT INTO wallet_transactions(id, account_id, amount_minor, balance_after_minor, currency, category, description, source, created_at_ms)
                    VALUES (?, 'acct_1', ?, 100, 'USD', ?, '', 'adjustment', ?)
                    """, .text("wtx_\(index)"), .integer(Int64(amount)), .text(category), .integer(Int64(at)))
            }
        }
        await old.close()
        let migrated = try await Store.open(path: path, migrations: BillingSchema.migrations)
        let rows = try await migrated.read { tx in
            try tx.query("SELECT month, category, credits_minor, debits_minor, transaction_count FROM wallet_month_totals ORDER BY month, category").map {
                "\(try $0.string("month")) \(try $0.string("category")) \(try $0.int64("credits_minor")) \(try $0.int64("debits_minor")) \(try $0.int("transaction_count"))"
            }
        }
        #expect(rows == ["2026-09 sms 0 20 1", "2026-09 top-up 500 0 1", "2026-11 sms 0 30 1"])
        await migrated.close()
    }
}
