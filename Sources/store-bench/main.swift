// store-bench: how many durable wallet debits per second the store commits, with group commit and with one
// transaction per write. Same schema, same synchronous=FULL, same number of concurrent writers; only the
// batch limit differs. Each mode runs for a fixed time in a temporary directory that is deleted afterwards.
//
//     swift run -c release store-bench [--seconds 3] [--writers 64] [--json]
//
// `--sandbox-open 1000,50000` measures instead how long the sandbox gateway takes to open with that many
// charges and tokens recorded (SandboxOpening.swift).

import BillingStore
import Foundation

struct Options {
    var seconds = 3.0
    var writers = 64
    var json = false
    /// Charges recorded for each sandbox-opening measurement; empty: the store modes run instead.
    var sandboxCounts: [Int] = []
    var sandboxRuns = 5

    static let usage = """
        usage: store-bench [--seconds S] [--writers N] [--json]
               store-bench --sandbox-open N[,N...] [--runs R] [--json]
          --seconds S         how long each mode runs, 0.1...600 (default 3)
          --writers N         concurrent writers, 1...4096 (default 64)
          --sandbox-open N,.. time the sandbox gateway's opening with N charges and N tokens recorded, 1...10000000
          --runs R            openings timed after the first, 1...100 (default 5)
          --json              print one JSON object instead of a table
        """

    /// Hand-parsed: `--name value`, `--name=value`, `--json`.
    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts[0]
            func value() throws(UsageError) -> String {
                if parts.count == 2 { return parts[1] }
                guard let next = remaining.popFirst() else { throw UsageError("\(name) needs a value") }
                return next
            }
            switch name {
            case "--seconds":
                let text = try value()
                guard let seconds = Double(text), (0.1...600).contains(seconds) else {
                    throw UsageError("--seconds must be a number from 0.1 to 600, got \(text)")
                }
                options.seconds = seconds
            case "--writers":
                let text = try value()
                guard let writers = Int(text), (1...4096).contains(writers) else {
                    throw UsageError("--writers must be a whole number from 1 to 4096, got \(text)")
                }
                options.writers = writers
            case "--sandbox-open":
                let text = try value()
                let counts = text.split(separator: ",").compactMap { Int($0.replacingOccurrences(of: "_", with: "")) }
                guard !counts.isEmpty, counts.count == text.split(separator: ",").count,
                      counts.allSatisfy({ (1...10_000_000).contains($0) })
                else { throw UsageError("--sandbox-open takes counts from 1 to 10000000 separated by commas, got \(text)") }
                options.sandboxCounts = counts
            case "--runs":
                let text = try value()
                guard let runs = Int(text), (1...100).contains(runs) else {
                    throw UsageError("--runs must be a whole number from 1 to 100, got \(text)")
                }
                options.sandboxRuns = runs
            case "--json":
                options.json = true
            case "--help", "-h":
                print(usage)
                exit(0)
            default:
                throw UsageError("unknown argument \(argument)")
            }
        }
        return options
    }
}

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// A wallet debit's tables: the account's balance and the ledger line that explains it, written together.
let schema = [
    Migration(
        version: 1, name: "create accounts and ledger",
        sql: """
            CREATE TABLE accounts (
                id INTEGER PRIMARY KEY,
                balance_minor INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            );
            CREATE TABLE ledger (
                id INTEGER PRIMARY KEY,
                account_id INTEGER NOT NULL REFERENCES accounts(id),
                amount_minor INTEGER NOT NULL,
                balance_after_minor INTEGER NOT NULL,
                category TEXT NOT NULL,
                created_at INTEGER NOT NULL
            );
            CREATE INDEX ledger_by_account ON ledger(account_id, id);
            """)
]

struct ModeResult: Codable {
    let mode: String
    let writes: Int
    let seconds: Double
    let writesPerSecond: Double
    let transactions: Int
    let writesPerTransaction: Double
}

struct Report: Codable {
    let writers: Int
    let secondsPerMode: Double
    let groupCommit: ModeResult
    let oneTransactionPerWrite: ModeResult
    let ratio: Double
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
}

let startingBalanceMinor: Int64 = 1_000_000_000

/// Debits one minor unit from `accountID`: read the balance, update it, append the ledger line.
func debit(_ tx: WriteTransaction, accountID: Int64, createdAtMilliseconds: Int64) throws {
    let amountMinor: Int64 = 1
    guard let account = try tx.queryOne("SELECT balance_minor FROM accounts WHERE id = ?", .integer(accountID)) else {
        throw BenchFailure(description: "account \(accountID) is missing")
    }
    let balanceAfterMinor = try account.int64("balance_minor") - amountMinor
    try tx.execute(
        "UPDATE accounts SET balance_minor = ?, updated_at = ? WHERE id = ?",
        .integer(balanceAfterMinor), .integer(createdAtMilliseconds), .integer(accountID))
    try tx.execute(
        """
        INSERT INTO ledger(account_id, amount_minor, balance_after_minor, category, created_at)
        VALUES (?, ?, ?, ?, ?)
        """,
        .integer(accountID), .integer(-amountMinor), .integer(balanceAfterMinor), "bench", .integer(createdAtMilliseconds))
}

/// One mode: a fresh database, one account per writer, writers debiting until the time is up.
func runMode(_ mode: String, maxWritesPerTransaction: Int, options: Options) async throws -> ModeResult {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("store-bench-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }

    var configuration = Store.Configuration()
    configuration.maxWritesPerTransaction = maxWritesPerTransaction
    let store = try await Store.open(
        path: directory.appendingPathComponent("bench.sqlite").path, migrations: schema, configuration: configuration)

    let writers = options.writers
    try await store.write { tx in
        for accountID in 1...Int64(writers) {
            try tx.execute(
                "INSERT INTO accounts(id, balance_minor, updated_at) VALUES (?, ?, 0)",
                .integer(accountID), .integer(startingBalanceMinor))
        }
    }
    let transactionsBefore = store.statistics.transactionsCommitted

    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + .milliseconds(Int64(options.seconds * 1000))
    let writes = try await withThrowingTaskGroup(of: Int.self) { group in
        for writer in 1...writers {
            group.addTask {
                var count = 0
                while clock.now < deadline {
                    let createdAt = Int64(Date().timeIntervalSince1970 * 1000)
                    try await store.write { tx in try debit(tx, accountID: Int64(writer), createdAtMilliseconds: createdAt) }
                    count += 1
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    let elapsed = start.duration(to: clock.now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let transactions = store.statistics.transactionsCommitted - transactionsBefore

    // Every acknowledged write must be there, and the balances must agree with the ledger.
    let (ledgerLines, debitedMinor) = try await store.read { tx in
        let ledger = try tx.queryOne("SELECT count(*) AS lines FROM ledger")
        let accounts = try tx.queryOne("SELECT sum(?) - sum(balance_minor) AS debited FROM accounts", .integer(startingBalanceMinor))
        return (try ledger?.int("lines") ?? -1, try accounts?.int64("debited") ?? -1)
    }
    await store.close()
    guard ledgerLines == writes, debitedMinor == Int64(writes) else {
        throw BenchFailure(description: "\(mode): \(writes) writes acknowledged, \(ledgerLines) ledger lines, \(debitedMinor) debited")
    }

    return ModeResult(
        mode: mode, writes: writes, seconds: seconds, writesPerSecond: Double(writes) / seconds,
        transactions: transactions, writesPerTransaction: Double(writes) / Double(max(transactions, 1)))
}

func printTable(_ report: Report) {
    func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
    func fixed(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
    print("store-bench: durable writes (synchronous=FULL, WAL), \(report.writers) writers, \(fixed(report.secondsPerMode, 1)) s per mode")
    print("mode".padding(toLength: 28, withPad: " ", startingAt: 0) + pad("writes", 10) + pad("seconds", 9) + pad("writes/s", 11)
        + pad("commits", 9) + pad("writes/commit", 15))
    for result in [report.groupCommit, report.oneTransactionPerWrite] {
        print(result.mode.padding(toLength: 28, withPad: " ", startingAt: 0) + pad("\(result.writes)", 10)
            + pad(fixed(result.seconds, 2), 9) + pad(fixed(result.writesPerSecond, 0), 11)
            + pad("\(result.transactions)", 9) + pad(fixed(result.writesPerTransaction, 1), 15))
    }
    print("group commit: \(fixed(report.ratio, 1))x the writes per second of one transaction per write")
}

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("store-bench: \(error.message)\n\(Options.usage)\n".utf8))
    exit(2)
}

if !options.sandboxCounts.isEmpty {
    do {
        let results = try await measureSandboxOpening(counts: options.sandboxCounts, runs: options.sandboxRuns)
        if options.json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
        } else {
            printSandboxTable(results)
        }
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("store-bench: \(error)\n".utf8))
        exit(1)
    }
}

do {
    let grouped = try await runMode("group commit", maxWritesPerTransaction: 256, options: options)
    let single = try await runMode("one transaction per write", maxWritesPerTransaction: 1, options: options)
    let report = Report(
        writers: options.writers, secondsPerMode: options.seconds, groupCommit: grouped, oneTransactionPerWrite: single,
        ratio: grouped.writesPerSecond / max(single.writesPerSecond, .leastNonzeroMagnitude))
    if options.json {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    } else {
        printTable(report)
    }
} catch {
    FileHandle.standardError.write(Data("store-bench: \(error)\n".utf8))
    exit(1)
}
