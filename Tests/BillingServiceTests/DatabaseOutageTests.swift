import BillingClient
import BillingLocking
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// PostgreSQL stopped as a crash stops it (`pg_ctl stop -m immediate`) while calls arrive, then started
/// again: the calls in between get UNAVAILABLE with `store_unavailable`, the daemon reconnects by itself,
/// and nothing acknowledged is lost or doubled. Needs the cluster's folder (scripts/test-postgres.sh sets
/// BILLING_TEST_POSTGRES_CLUSTER), and runs only in that one-test-at-a-time run.
@Suite(
    "PostgreSQL outage",
    .enabled(if: BillingHarness.postgresCluster != nil && BillingHarness.postgresURL != nil, "BILLING_TEST_POSTGRES_CLUSTER names no cluster"))
struct DatabaseOutageTests {
    private func usd(_ minor: Int64) -> BillingV1.Money { BillingV1.Money(amountMinor: minor, currency: "USD") }

    /// Runs scripts/postgres-cluster.sh with `command` on the test cluster. Through system(3), not
    /// Foundation's Process, whose waitUntilExit never returned once the script had started a postmaster.
    private func cluster(_ command: String) throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = repository.appendingPathComponent("scripts/postgres-cluster.sh").path
        let status = system("'\(script)' \(command) '\(try #require(BillingHarness.postgresCluster))' >/dev/null")
        try #require(status == 0, "postgres-cluster.sh \(command) failed with status \(status)")
    }

    @Test("debits during a PostgreSQL crash get store_unavailable; after the restart the daemon serves again and every acknowledged debit is there once")
    func crashAndRestartUnderLoad() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000_000)))

        let acknowledged = SharedList()
        let unanswered = SharedList()
        let refusals = Tally()
        let stop = SharedFlag()
        let amount = usd(30)
        let load = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var index = 0
                        while !stop.isSet {
                            let usageID = "w\(worker)-\(index)"
                            index += 1
                            do {
                                _ = try await client.recordUsage(.init(accountID: accountID, usageID: usageID, category: "sms", amount: amount))
                                acknowledged.append(usageID)
                            } catch let error as RPCError {
                                unanswered.append(usageID)
                                refusals.add("\(error.code) \(error.detail("reason") ?? "")")
                                try await Task.sleep(for: .milliseconds(5))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await Task.sleep(for: .milliseconds(400))
        try cluster("crash")
        try await Task.sleep(for: .milliseconds(800))
        let refusedWhileDown = refusals.counts.values.reduce(0, +)
        try cluster("start")
        // Served again without a restart of the daemon.
        let acknowledgedAtRestart = acknowledged.values.count
        try await Task.sleep(for: .milliseconds(800))
        stop.set()
        try await load.value
        #expect(acknowledged.values.count > acknowledgedAtRestart, "no debit succeeded after PostgreSQL came back")
        #expect(refusedWhileDown > 0, "no call reached the store while PostgreSQL was down")
        let kinds = refusals.counts
        #expect(Set(kinds.keys) == ["UNAVAILABLE store_unavailable"], "refusals: \(kinds)")
        print("outage: \(acknowledged.values.count + unanswered.values.count) debits sent, \(acknowledged.values.count) acknowledged, refused: \(kinds)")

        // Unanswered debits may or may not have committed (a COMMIT whose connection broke): resending
        // each under its usage id debits it now or replays it, never twice.
        for usageID in unanswered.values {
            _ = try await client.recordUsage(.init(accountID: accountID, usageID: usageID, category: "sms", amount: amount))
        }
        var lines: [String: Int] = [:]
        var token = ""
        repeat {
            let page = try await client.listWalletTransactions(.init(accountID: accountID, pageSize: 100, pageToken: token))
            for line in page.transactions where line.source == .usage { lines[line.usageID, default: 0] += 1 }
            token = page.nextPageToken
        } while !token.isEmpty
        for usageID in acknowledged.values { #expect(lines[usageID] == 1, "acknowledged debit \(usageID) is there \(lines[usageID] ?? 0) times") }
        #expect(lines.values.allSatisfy { $0 == 1 })
        #expect(lines.count == acknowledged.values.count + unanswered.values.count)
        let balance = try await client.getWallet(.init(accountID: accountID)).wallet?.balance?.amountMinor
        #expect(balance == 1_000_000 - 30 * Int64(lines.count))
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }
}

/// Counts of strings many tasks add.
final class Tally: Sendable {
    private let storage = Locked<[String: Int]>([:])
    func add(_ key: String) { storage.withLock { $0[key, default: 0] += 1 } }
    var counts: [String: Int] { storage.withLock { $0 } }
}
