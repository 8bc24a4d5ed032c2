@testable import BillingDomain
import Foundation
import Synchronization
import Testing

@Suite("Wallet views read without the actor")
struct WalletViewTests {
    /// `WalletService.view` reads a loaded wallet's published view while debits change it on the actor.
    /// Every view read is one whole state (the month's credits less its debits equal the balance, since
    /// the account started empty this month), balances only fall while only debits run, and no view is
    /// older than a debit that had already answered when the read began.
    @Test func viewsReadDuringDebitsAreWholeAndNeverOlderThanAnAnsweredDebit() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let context = try await makeContext(in: directory, now: { utcDate(2026, 11, 10) })
        let account = try await readyAccount(in: context)
        let wallets = WalletService(context: context)
        _ = try await wallets.addFunds(accountID: account.id, amount: Money(amountMinor: 1_000_000, currency: .usd), idempotencyKey: "funds")
        let progress = DebitProgress(balance: 1_000_000)
        let debits = 400

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for index in 0..<debits {
                    let usage = try UsageDebit(
                        usageID: "u\(index)", category: "sms", amount: Money(amountMinor: Int64(index % 7 + 1), currency: .usd), description: "")
                    let recorded = try await wallets.recordUsage(accountID: account.id, usage: usage)
                    progress.answered.store(recorded.transaction.balanceAfter.amountMinor, ordering: .sequentiallyConsistent)
                }
                progress.done.store(true, ordering: .sequentiallyConsistent)
            }
            group.addTask {
                var lastBalance = Int64.max
                var reads = 0
                while !progress.done.load(ordering: .sequentiallyConsistent) {
                    let newestAnswered = progress.answered.load(ordering: .sequentiallyConsistent)
                    let view = try await wallets.view(accountID: account.id)
                    reads += 1
                    let balance = view.balance.amountMinor
                    #expect(view.creditsThisMonth.amountMinor - view.debitsThisMonth.amountMinor == balance, "a view showed half of a change")
                    #expect(balance <= lastBalance, "a later view showed an older balance")
                    #expect(balance <= newestAnswered, "a view was older than a debit that had answered")
                    lastBalance = balance
                    // A read of a loaded wallet never suspends: without a yield this loop would hold
                    // one of the pool's threads (as many as cores) while the debits, and every other
                    // test in the process, wait for it. (It did: 25 s for this test, 185 s under
                    // ThreadSanitizer, where tests beside it passed their 60 s deadlines.)
                    await Task.yield()
                }
                // Reads must have overlapped the debits for this test to say anything.
                #expect(reads > debits)
            }
            try await group.waitForAll()
        }
        let final = try await wallets.view(accountID: account.id)
        #expect(final.debitsThisMonth.amountMinor == Self.debitTotal(debits))
        #expect(final.balance.amountMinor == 1_000_000 - Self.debitTotal(debits))
    }

    private static func debitTotal(_ count: Int) -> Int64 {
        (0..<count).reduce(0) { $0 + Int64($1 % 7 + 1) }
    }
}

/// What the debits have done so far, for the reader beside them.
private final class DebitProgress: Sendable {
    /// The balance after the newest debit that has answered.
    let answered: Atomic<Int64>
    let done = Atomic<Bool>(false)

    init(balance: Int64) {
        answered = Atomic(balance)
    }
}
